"""The streams worker on the real broker, as a real `fengqiao streams` subprocess."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from fengqiao.domain import sla
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import replay
from fengqiao.domain.policy import load_policy
from fengqiao.regions import prefecture_of
from broker.topics import TopicError, ensure_project_topics, internal_topics
from fengqiao.settings import Settings, StreamsSettings

from tests.netutil import prom_samples
from tests.integration.streams_harness import (
    TZ, Reader, Worker, event, producer, received, send, send_command, worker_env, write_policy,
)

pytestmark = pytest.mark.integration
COUNTIES = ["130102", "130104", "130202", "130203", "130302", "130602"]


def topic_layout(bootstrap: str, names: list[str]) -> dict[str, tuple[int, int, str, str]]:
    """(partitions, copies, min.insync.replicas, cleanup.policy) of each topic (the broker lists the
    topic-level configs only: an unset cleanup.policy is the default, delete)."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = {d["name"]: d for d in admin.describe_topics(names)}
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        configs = {n: {k: v["value"] for k, v in cfg.items()} for n, cfg in res["topic"].items()}
    finally:
        admin.close()
    return {n: (len(described[n]["partitions"]), len(described[n]["partitions"][0]["replica_nodes"]),
                configs[n].get("min.insync.replicas"), configs[n].get("cleanup.policy", "delete")) for n in names}


def test_project_topics_carry_their_config_one_broker(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(streams=StreamsSettings(app_id=f"it-top-{uuid.uuid4().hex[:6]}"))
    rep = ensure_project_topics(settings, worker=True)
    assert (rep.factor, rep.min_insync) == (1, 1)  # one local broker
    prefix = settings.topics.events.split(".")[0]  # this test's own topics (not shared ones such as the audit topic)
    names = [t for t in settings.all_topics() if t.startswith(prefix)] + list(internal_topics(settings.streams.app_id).values())
    assert len(names) >= 10
    layout = topic_layout(settings.kafka_bootstrap, names)
    n = settings.topics.partitions
    assert layout == {name: (n, 1, "1", "compact" if name == settings.topics.cases else "delete") for name in names}
    assert ensure_project_topics(settings) == rep  # idempotent
    with pytest.raises(TopicError, match="co-partitioned"):  # a worker configured for another partition count
        ensure_project_topics(settings.model_copy(update={"topics": settings.topics.model_copy(
            update={"partitions": n + 1})}), worker=True)


def write_old_format_entry(settings: Settings, env: dict[str, str], case_id: str, region: str) -> None:
    """A case table entry as the previous worker wrote it (a JSON object {"s","p","a","w","d","dq","ov"}),
    put in the table's changelog before the worker starts: an upgraded worker must recover it."""
    import json

    from kafka.partitioner.default import murmur2

    from broker.topics import ensure_topics
    from fengqiao.contract import parse_event

    state = replay([parse_event(received(case_id, datetime.now(TZ) - timedelta(hours=1), region=region))],
                   load_policy(), load_calendar())
    assert state is not None
    n = settings.topics.partitions
    partition = (murmur2(case_id.encode()) & 0x7FFFFFFF) % n  # the events topic's partition of the case
    changelog = f"{env['FENGQIAO_STREAMS__APP_ID']}-cases-changelog"
    ensure_topics(settings.kafka_bootstrap, [], n, compacted=[changelog])
    entry = {"s": state.to_dict(), "p": partition, "a": {}, "w": None, "d": None, "ov": False}
    p = producer(settings)
    p.send(changelog, key=json.dumps(case_id).encode(), value=json.dumps(entry, ensure_ascii=False).encode(), partition=partition)
    p.flush()
    p.close()


def test_case_table_snapshots_region_counts_dlq_and_case_view(settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory()
    env = worker_env(settings)
    write_old_format_entry(settings, env, "OLD-1", "130802")  # 承德: no prefecture the counts below look at
    w = Worker(env, tmp_path / "w1", tmp_path / "w1.log")
    try:
        w.wait_ready()
        now = datetime.now(TZ)
        evs: list[Any] = []
        expected_1h: Counter[str] = Counter()
        expected_open: Counter[str] = Counter()
        channels: Counter[tuple[str, str]] = Counter()
        for i in range(400):
            region = COUNTIES[i % len(COUNTIES)]
            channel = ("hotline", "web", "wechat")[i % 3]
            at = now - timedelta(minutes=(i * 7) % 50, seconds=i % 60)
            evs.append(received(f"W{i}", at, region=region, channel=channel, category="consult"))
            expected_1h[region] += 1
            channels[(region, channel)] += 1
            if i % 4 == 0:
                evs.append(event(f"W{i}", "case.resolved_online", now, {"answer": "已答复"}, region))
            else:
                expected_open[region] += 1
        evs.append(b"{not json")
        evs.append(b'{"schema_version": 1}')
        evs.append(event("W-unknown", "case.signed", now, {"department": "d"}))
        p = producer(settings)
        send(p, settings.topics.events, evs)
        p.close()

        stats = Reader(settings, settings.topics.stats)
        want = {r: (expected_1h[r], expected_open[r]) for r in COUNTIES}
        for pref in {prefecture_of(r) for r in COUNTIES}:
            want[pref] = (sum(expected_1h[r] for r in COUNTIES if prefecture_of(r) == pref),
                          sum(expected_open[r] for r in COUNTIES if prefecture_of(r) == pref))
        latest: dict[str, dict[str, Any]] = {}
        end = time.time() + 60
        while time.time() < end:
            for s in stats.poll(1.0):
                latest[s["region_code"]] = s
            got = {r: (latest[r]["intake_1h"], latest[r]["open_now"]) for r in want if r in latest}
            if got == want:
                break
        stats.close()
        assert {r: (latest[r]["intake_1h"], latest[r]["open_now"]) for r in want if r in latest} == want
        for r in COUNTIES:
            assert latest[r]["by_channel_24h"] == {c: n for (rr, c), n in channels.items() if rr == r}
            assert latest[r]["region_level"] == "county"

        dlq = Reader(settings, settings.topics.dlq)
        dead = dlq.poll(5)
        dlq.close()
        assert len(dead) == 3 and {d["source"] for d in dead} == {"streams"}
        assert sum(d["error"].startswith("lifecycle") for d in dead) == 1

        cases = Reader(settings, settings.topics.cases)
        snaps = cases.poll(5)
        cases.close()
        last = {s["case_id"]: s for s in sorted(snaps, key=lambda s: s["version"])}
        assert len(last) == 400 and last["W0"]["status"] == "resolved_online" and last["W1"]["status"] == "received"

        r = httpx.get(f"http://127.0.0.1:{w.port}/cases/W1/", timeout=10, follow_redirects=True)
        assert r.status_code == 200 and r.json()["case"]["status"] == "received"
        assert httpx.get(f"http://127.0.0.1:{w.port}/cases/nope/", timeout=10).status_code == 404
        old = httpx.get(f"http://127.0.0.1:{w.port}/cases/OLD-1/", timeout=10, follow_redirects=True)
        assert old.status_code == 200 and old.json()["case"]["status"] == "received"  # the earlier format loads
        m = scrape(w.port)
        assert m[("fengqiao_streams_events_applied_total", ())] >= 401
        assert m[("fengqiao_streams_dead_letters_total", ())] == 3
        lags = {k: v for k, v in m.items() if k[0] == "fengqiao_streams_consumer_lag"}
        assert (("partition", "0"), ("topic", settings.topics.events)) in {k[1] for k in lags}
        # the worker's memory by RocksDB's own accounting: 400 cases written, so the case table's memtables hold some
        assert m[("fengqiao_streams_rocksdb_databases", ())] >= 6
        assert m[("fengqiao_streams_rocksdb_bytes", (("kind", "memtables"),))] > 0
        assert m[("fengqiao_streams_python_allocated_blocks", ())] > 0
        assert 0 < m[("fengqiao_streams_similar_petitions", ())] <= m[("fengqiao_streams_similar_capacity", ())]
    finally:
        assert w.stop() == 0  # SIGTERM: clean shutdown


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return prom_samples(f"http://127.0.0.1:{port}/metrics/")


def scenario(t0: datetime) -> list[dict[str, Any]]:
    """A: stages of both targets; B: signed before its reminder; C: its sign overdue gets acknowledged."""
    a, b, c = t0 - timedelta(seconds=20), t0 - timedelta(seconds=20), t0 - timedelta(seconds=25)
    out = []
    for cid, at in (("A", a), ("B", b), ("C", c)):
        out.append(received(cid, at))
        out.append(event(cid, "case.assigned", at, {"department": "长安区信访办", "level": "city"}))
    return out


def expected(events: list[dict[str, Any]], horizon: datetime, policy_file: Path) -> dict[str, datetime]:
    policy, cal = load_policy(policy_file, "itest"), load_calendar()
    out = {}
    for cid in {e["case_id"] for e in events}:
        state = replay([e for e in events if e["case_id"] == cid], policy, cal)
        assert state is not None
        out.update({s.dedup_key: s.at for s in sla.pending_stages(state, policy, cal) if s.at <= horizon})
    return out


def sla_env(settings: Settings, tmp_path: Path) -> tuple[dict[str, str], Path]:
    policy_file = write_policy(tmp_path / "policy.toml")
    env = worker_env(settings, FENGQIAO_STREAMS__POLICY_FILE=str(policy_file), FENGQIAO_STREAMS__POLICY_PROFILE="itest",
                     FENGQIAO_STREAMS__RENOTIFY_SECONDS="6", FENGQIAO_STREAMS__AUTO_DISPATCH_AFTER_SECONDS="3600")
    return env, policy_file


def first_firings(alerts: list[dict[str, Any]]) -> Counter[str]:
    """Raises per dedup key: a raise is its instant (a worker that took over sends the alerts it
    found changed lately again, fengqiao/domain/case.py `redeliver`: a copy is not a second raise)."""
    return Counter(k for k, _ in {(a["dedup_key"], a["raised_at"]) for a in alerts if a["version"] == 1})


def test_sla_alerts_on_time_once_ack_and_sigkill_restart(settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory()
    env, policy_file = sla_env(settings, tmp_path)
    w = Worker(env, tmp_path / "w", tmp_path / "w.log")
    w2 = None
    try:
        w.wait_ready()
        t0 = datetime.now(TZ) + timedelta(seconds=2)
        evs = scenario(t0)
        p = producer(settings)
        send(p, settings.topics.events, evs)
        t_b_sign = t0 + timedelta(seconds=5)
        reader = Reader(settings, settings.topics.alerts)
        reader.poll(max(0.0, (t_b_sign - datetime.now(TZ)).total_seconds()))
        signed = event("B", "case.signed", datetime.now(TZ), {"department": "长安区信访办"})
        send(p, settings.topics.events, [signed])
        reader.poll(max(0.0, (t0 + timedelta(seconds=14) - datetime.now(TZ)).total_seconds()))
        w.kill()  # SIGKILL mid-scenario
        down_from = datetime.now(TZ)
        w2 = Worker(env, tmp_path / "w", tmp_path / "w2.log")
        w2.wait_ready(90)
        up_at = datetime.now(TZ)
        acked = None
        end = t0 + timedelta(seconds=52)
        while datetime.now(TZ) < end:
            alerts = reader.poll(0.5)
            if acked is None:
                c_over = [a for a in alerts if a["dedup_key"] == "sla:C:sign:overdue:0"]
                if c_over:
                    acked = c_over[0]
                    cmd = {"command_id": str(uuid.uuid4()), "type": "alert.acknowledge", "alert_id": acked["alert_id"],
                           "issued_at": datetime.now(TZ).isoformat(), "officer_id": "duty-1", "note": "已督促"}
                    send_command(p, settings, cmd)
        alerts = reader.poll(1)
        reader.close()
        p.close()

        want = expected(evs + [signed], t0 + timedelta(seconds=45), policy_file)
        assert not [k for k in want if k.startswith("sla:B:sign")]
        firings = first_firings(alerts)
        assert {k: n for k, n in firings.items() if k in want or k.startswith("sla:B:sign")} == {k: 1 for k in want}
        for a in alerts:
            if a["version"] != 1 or a["dedup_key"] not in want:
                continue
            due = want[a["dedup_key"]]
            raised = datetime.fromisoformat(a["raised_at"])
            assert raised >= due, f"early: {a['dedup_key']}"
            if not (down_from - timedelta(seconds=1) <= due <= up_at + timedelta(seconds=1)):
                assert (raised - due).total_seconds() <= 1.0, f"late: {a['dedup_key']} {raised - due}"
        assert acked is not None
        after = [a for a in alerts if a["dedup_key"] == acked["dedup_key"] and a["version"] > 1]
        assert after and after[0]["state"] == "acknowledged" and after[0]["acknowledged_by"] == "duty-1"
        assert all(a["state"] != "firing" for a in after)  # an acknowledged alert is not re-notified
        a_over = [a for a in alerts if a["dedup_key"] == "sla:A:sign:overdue:0"]
        assert len(a_over) >= 2 and a_over[1]["state"] == "firing"  # the unacknowledged one is
        late_ones = [k for k, due in want.items() if due > up_at + timedelta(seconds=1)]  # raised by w2
        m = scrape(w2.port)
        assert m[("fengqiao_streams_alert_latency_seconds_count", ())] >= len(late_ones)
        assert m[("fengqiao_streams_alert_latency_seconds_bucket", (("le", "2.0"),))] >= len(late_ones)
    finally:
        if w2 is not None:
            w2.stop()
        w.stop()


def test_two_workers_share_partitions_and_raise_the_same_alerts(settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory()
    env, policy_file = sla_env(settings, tmp_path)
    w1 = Worker(env, tmp_path / "w1", tmp_path / "w1.log")
    w2 = Worker(env, tmp_path / "w2", tmp_path / "w2.log")
    try:
        w1.wait_ready()
        w2.wait_ready()
        end = time.time() + 60
        while time.time() < end:
            parts = [httpx.get(f"http://127.0.0.1:{w.port}/health/", timeout=5).json()["partitions"] for w in (w1, w2)]
            if all(parts) and sorted(parts[0] + parts[1]) == [0, 1, 2, 3]:
                break
            time.sleep(0.5)
        assert all(parts) and sorted(parts[0] + parts[1]) == [0, 1, 2, 3]
        t0 = datetime.now(TZ) + timedelta(seconds=2)
        evs = scenario(t0) + [x for i in range(8) for x in (received(f"M{i}", t0 - timedelta(seconds=20 + i)),
                              event(f"M{i}", "case.assigned", t0 - timedelta(seconds=20 + i),
                                    {"department": "d", "level": "city"}))]
        # the county was being counted 1 and 2 weeks ago (a petition answered online each): hotspots have a baseline
        evs = [x for w in (2, 1) for x in (
            received(f"H{w}", t0 - timedelta(weeks=w, hours=2), category="consult"),
            event(f"H{w}", "case.resolved_online", t0 - timedelta(weeks=w, hours=2) + timedelta(minutes=1),
                  {"answer": "已在线答复"}))] + evs
        p = producer(settings)
        send(p, settings.topics.events, evs)
        p.close()
        reader = Reader(settings, settings.topics.alerts)
        reader.poll((t0 + timedelta(seconds=38) - datetime.now(TZ)).total_seconds())
        alerts = reader.poll(1)
        reader.close()
        want = expected(evs, t0 + timedelta(seconds=35), policy_file)
        firings = first_firings(alerts)
        assert {k: n for k, n in firings.items() if k in want} == {k: 1 for k in want}
        assert len({a["case_id"] for a in alerts if a["kind"] == "sla"} - {"H1", "H2"}) == 11
        # 11 petitions on one topic in one county within the hour: one hotspot, raised once
        assert Counter(a["kind"] for a in alerts if a["version"] == 1)["hotspot"] == 1
    finally:
        w2.stop()
        w1.stop()
