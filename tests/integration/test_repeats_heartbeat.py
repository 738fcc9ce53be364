"""Repeat complaints and the channel heartbeat through the real worker, broker, sink and chDB.

One worker for both (a worker start is most of the time): a citizen whose case the department
concluded as resolved petitions again on the same topic (phone match), a neighbour at the same
address too (address match), both flagged, linked to the earlier case and counted in the
concluding department's repeat-complaint rate; a QR-code channel with two weeks of traffic at
this hour falls silent: one heartbeat alert, acknowledged by an officer's command, resolved when a
petition comes again."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

from broker.topics import ensure_project_topics
from dashboard import queries
from fengqiao import privacy
from fengqiao.domain import metrics
from fengqiao.domain import repeat as rp
from fengqiao.records import CaseSnapshot
from fengqiao.settings import Settings, SinkSettings, StreamsSettings, reveal
from sinks.store import get_client
from tests.integration.streams_harness import TZ, Reader, Worker, event, producer, send, send_command, worker_env
from tests.integration.test_sink import sink_thread, wait_until

pytestmark = pytest.mark.integration
ADDRESS = "石家庄市长安区建设北大街12号院3单元"
D1, D2 = "长安区人力资源和社会保障局", "长安区住房和城乡建设局"


def petition(s: Settings, case_id: str, at: datetime, phone: str, topic: str = "劳资纠纷",
             address: str | None = ADDRESS, channel: str = "hotline") -> dict[str, Any]:
    citizen = privacy.protect_citizen({"name": "王小明", "phone": phone}, reveal(s.pii_key), case_id=case_id)
    payload: dict[str, Any] = {"category": "complaint", "topic": topic, "urgency": "normal", "title": "诉求",
                               "content": "工资拖欠", "citizen": citizen}
    if address:
        payload["location"] = {"lat": 38.04, "lon": 114.51, "address": address}
    return event(case_id, "petition.received", at, payload, channel=channel)


def concluded(case_id: str, at: datetime, dept: str) -> list[dict[str, Any]]:
    return [event(case_id, "case.assigned", at, {"department": dept, "level": "county"}),
            event(case_id, "case.signed", at + timedelta(hours=1), {"department": dept}),
            event(case_id, "case.replied", at + timedelta(hours=5),
                  {"department": dept, "result": "已协调支付", "resolved": True})]


def snapshots(client: Any, db: str) -> list[CaseSnapshot]:
    res = client.query(f"SELECT * FROM {db}.cases FINAL")
    return [CaseSnapshot.model_validate({k: v for k, v in zip(res.column_names, r) if v is not None})
            for r in res.result_rows]


def repeat_records(client: Any, db: str) -> list[rp.RepeatRecord]:
    res = client.query(f"SELECT * FROM {db}.repeats")
    return [rp.RepeatRecord.model_validate(dict(zip(res.column_names, r))) for r in res.result_rows]


def test_repeats_are_flagged_counted_for_the_concluding_department_and_a_silent_channel_beats_once(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    s = settings_factory(streams=StreamsSettings(app_id=f"it-rep-{tag}", stats_interval_seconds=1.0),
                         sink=SinkSettings(group_id=f"sink-{tag}", batch_rows=200, batch_seconds=0.3))
    ensure_project_topics(s, worker=True)
    env = worker_env(s, FENGQIAO_STREAMS__APP_ID=s.streams.app_id)
    now = datetime.now(TZ)
    a_at = now - timedelta(days=10)  # a repeat by phone within 7 days of receipt would be merged at the door
    ids = {k: f"{k}-{tag}" for k in ("A", "B", "C", "D")}
    hour = now.replace(minute=0, second=0, microsecond=0)
    beats = [petition(s, f"QR{w}{i}-{tag}", hour - timedelta(weeks=w) + timedelta(seconds=i), f"1390000{w}{i:03d}",
                      topic="物业管理", address=None, channel="qrcode") for w in (1, 2) for i in range(3)]
    beats.append(petition(s, f"QRL-{tag}", now - timedelta(minutes=40), "13900009999", topic="物业管理",
                          address=None, channel="qrcode"))
    events = [petition(s, ids["A"], a_at, "13812345678"), *concluded(ids["A"], a_at + timedelta(hours=1), D1),
              petition(s, ids["B"], now - timedelta(hours=2), "+86 138-1234-5678", address=None),  # same citizen
              event(ids["B"], "case.assigned", now - timedelta(hours=1), {"department": D1, "level": "county"}),
              petition(s, ids["C"], now - timedelta(hours=1), "13700001111"),  # same address, another phone
              event(ids["C"], "case.assigned", now - timedelta(minutes=30), {"department": D2, "level": "county"}),
              petition(s, ids["D"], now - timedelta(minutes=50), "13812345678", topic="物业管理"),  # another topic
              *beats]
    reader = Reader(s, s.topics.alerts)
    worker = Worker(env, tmp_path / "w", tmp_path / "worker.log")
    p = producer(s)
    try:
        with sink_thread(s):
            worker.wait_ready(90)
            send(p, s.topics.events, events)
            client = get_client(s)
            db = s.clickhouse_database

            def flagged() -> dict[str, Any]:
                return {r["case_id"]: r for r in queries.repeat_links(client, db, list(ids.values()))}

            wait_until(lambda: len(flagged()) == 2, 60, "two repeats in the read model")
            links = flagged()
            assert {c: (r["earlier_case_id"], r["earlier_department"], r["basis"]) for c, r in links.items()} == {
                ids["B"]: (ids["A"], D1, "phone"), ids["C"]: (ids["A"], D1, "address")}
            assert rp.link_label(links[ids["B"]]["earlier_case_id"]) == f"重复投诉 · 关联 {ids['A']}"

            # counted: the SQL of every screen and the domain on the rows the pipeline produced
            wait_until(lambda: {x.case_id for x in snapshots(client, db)} >= set(ids.values()), 30, "cases")
            start, end = a_at.date() - timedelta(days=1), now.date()
            snaps, recs = snapshots(client, db), repeat_records(client, db)
            mine = [x for x in snaps if x.case_id in ids.values()]
            totals = queries.rates_of(queries.period_totals(client, db, start, end)[0])
            assert totals["repeat"] == metrics.rate("repeat", metrics.received_in(rp.mark(snaps, recs), start, end), now)
            assert metrics.rate("repeat", rp.mark(mine, recs), now) == metrics.Rate(2, 4)
            dept = {r["key"]: queries.rates_of(r)["repeat"] for r in queries.rankings(client, db, "department", start, end)}
            assert dept[D1] == metrics.Rate(2, 2)  # B (dispatched to D1) and C (dispatched to D2) repeat D1's case
            assert dept[D2] == metrics.Rate(0, 1)
            assert rp.department_repeats(snaps, recs, start, end) == {D1: 2}

            # heartbeat: the QR-code channel normally has 3 petitions at this hour; silent for 40 minutes
            def heartbeat() -> list[dict[str, Any]]:
                return [a for a in reader.poll(0.5) if a["kind"] == "heartbeat"]

            wait_until(lambda: len(heartbeat()) >= 1, 40, "a heartbeat alert")
            time.sleep(6)  # one more tick (every 5 s here): raised once per silence
            got = heartbeat()
            assert [(a["state"], a["version"]) for a in got] == [("firing", 1)], got
            assert "民情码" in got[0]["message"] and got[0]["dedup_key"].startswith("heartbeat:qrcode:")
            send_command(p, s, {"command_id": str(uuid.uuid4()), "type": "alert.acknowledge", "officer_id": "duty-1",
                                "issued_at": datetime.now(TZ).isoformat(), "alert_id": got[0]["alert_id"]})
            wait_until(lambda: any(a["state"] == "acknowledged" and a["acknowledged_by"] == "duty-1"
                                   for a in heartbeat()), 30, "the officer's acknowledgement")
            send(p, s.topics.events, [petition(s, f"QRN-{tag}", datetime.now(TZ), "13900008888", topic="物业管理",
                                               address=None, channel="qrcode")])
            wait_until(lambda: any(a["state"] == "resolved" for a in heartbeat()), 30, "the heartbeat resolved")
            assert {a["dedup_key"] for a in heartbeat()} == {got[0]["dedup_key"]}
    finally:
        p.close()
        reader.close()
        worker.stop()
