"""One case, one meaning, on the real pipeline: simulator traffic (20,000 events over three
simulated weeks, time-compressed: generated at once, ending minutes ago) plus a scripted
scenario, through the real broker, a real `fengqiao streams` worker and the real sink into
chDB. Every wall tile, ranking row and report figure, per region, must equal what
`fengqiao.domain.metrics` computes from the same events replayed through the lifecycle
(skipping what the lifecycle rejects, as the worker does: those go to the DLQ)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any, Iterator

import pytest

from dashboard import queries
from fengqiao.contract import parse_event
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import snapshot
from fengqiao.domain.policy import load_policy
from fengqiao.settings import Settings, SinkSettings, Topics
from fengqiao.vocab import TZ
from producers.simulator import generate_events
from sinks.store import get_client, store_lock
from tests.integration.streams_harness import Reader, Worker, event, producer, received, send, worker_env
from tests.integration.test_sink import sink_thread
from tests.integration.wall_figures import differences, from_domain, from_sql, replay_all

pytestmark = pytest.mark.integration

EVENTS = 20_000
DEPT = "长安区信访办"


def scripted(now: datetime) -> list[dict[str, Any]]:
    """SC-AWAIT: answered (resolved) on time, waiting for evaluation, its resolve due instant
    long past; SC-SILENT: assigned, never signed; SC-UNRES: answered `resolved: false`;
    SC-ARCH archived, SC-DUP merged, SC-ONLINE answered online; SC-FRESH: just assigned."""
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the store keeps milliseconds
    t0 = now - timedelta(days=10)
    out: list[dict[str, Any]] = []

    def case(cid: str, *steps: tuple[str, dict[str, Any]], at: datetime = t0, category: str = "help") -> None:
        out.append(received(cid, at, category=category))
        for i, (etype, payload) in enumerate(steps, 1):
            out.append(event(cid, etype, at + timedelta(minutes=30 * i), payload))

    assign = ("case.assigned", {"department": DEPT, "level": "county"})
    sign = ("case.signed", {"department": DEPT})
    answer = ("case.replied", {"department": DEPT, "result": "已解决", "resolved": True})
    case("SC-AWAIT", assign, sign, answer)
    case("SC-SILENT", assign)
    case("SC-UNRES", assign, sign, ("case.replied", {"department": DEPT, "result": "处理中", "resolved": False}))
    case("SC-ARCH", assign, sign, answer, ("case.evaluated", {"rating": "satisfied"}), ("case.archived", {}))
    case("SC-DUP", ("case.merged", {"into_case_id": "SC-AWAIT"}))
    case("SC-ONLINE", ("case.resolved_online", {"answer": "已在线答复"}), category="consult")
    case("SC-FRESH", assign, at=now - timedelta(hours=2))
    return out


def traffic(now: datetime) -> list[Any]:
    """The simulator's events, shifted by whole days to end shortly before `now`."""
    evs = generate_events(17, EVENTS, datetime(2026, 11, 2, 8, 0, tzinfo=TZ), 1.0, rate=0.0015)
    days = (now - timedelta(minutes=10) - evs[-1].occurred_at).days
    return [e.model_copy(update={"occurred_at": e.occurred_at + timedelta(days=days)}) for e in evs]


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, session_chdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tag = "r" + uuid.uuid4().hex[:8]
    tmp = tmp_path_factory.mktemp("reconcile")
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, clickhouse_url=session_chdb_url, clickhouse_database=f"t_{tag}",
        data_dir=tmp / "data",
        topics=Topics(events=f"{tag}.events", alerts=f"{tag}.alerts", commands=f"{tag}.commands",
                      stats=f"{tag}.stats", dlq=f"{tag}.dlq", cases=f"{tag}.cases", partitions=4),
        sink=SinkSettings(group_id=f"sink-{tag}", batch_rows=5000, batch_seconds=0.5))
    now = datetime.now(TZ)
    sim = traffic(now)
    script = scripted(now)
    worker = Worker(worker_env(settings, FENGQIAO_STREAMS__AUTO_DISPATCH_AFTER_SECONDS="86400"),
                    tmp / "w", tmp / "w.log")
    t0 = time.monotonic()
    try:
        worker.wait_ready()
        with sink_thread(settings):
            p = producer(settings)
            for e in sim:
                p.send(settings.topics.events, key=e.key(), value=e.to_json())
            send(p, settings.topics.events, script)
            p.close()
            # what the worker applies: every event in its case's order, rejected ones skipped
            ordered = sim + [parse_event(e) for e in script]
            states, rejected = replay_all(ordered, load_policy(), load_calendar())
            want = (len(states), sum(s.version for s in states.values()))
            client = get_client(settings)
            db = settings.clickhouse_database
            t_sent = time.monotonic() - t0
            got: tuple[int, int] = (0, 0)
            deadline = time.monotonic() + 600  # a loaded 2-core machine; alone it takes a fraction
            while time.monotonic() < deadline and got != want:
                time.sleep(0.5)
                with store_lock():
                    got = tuple(client.query(f"SELECT count(), sum(version) FROM {db}.cases FINAL").result_rows[0])
            assert got == want, f"the sink holds {got} (cases, versions), the domain {want}"
        dlq = Reader(settings, settings.topics.dlq)
        dead = dlq.poll(2.0)
        dlq.close()
    finally:
        worker.stop()  # the worker's exit code is its own tests' business (test_streams_worker)
    yield {"settings": settings, "client": client, "db": db, "snaps": [snapshot(s) for s in states.values()],
           "rejected": rejected, "dead": dead, "seconds": time.monotonic() - t0, "sent": t_sent, "events": len(ordered)}


def test_every_figure_on_every_screen_equals_the_domain(pipeline: dict[str, Any]) -> None:
    assert pipeline["events"] >= EVENTS
    letters = [d for d in pipeline["dead"] if d["error"].startswith("lifecycle")]
    assert len(letters) == pipeline["rejected"] == len(pipeline["dead"])  # the replay skipped what the worker did
    now = datetime.now(TZ)
    with store_lock():
        sql = from_sql(pipeline["client"], pipeline["db"], now)
    domain = from_domain(pipeline["snaps"], now)
    assert not differences(domain, sql), "\n".join(differences(domain, sql))
    # the run is a real one: several weeks, every phase, overdue and awaiting cases, ranked units
    assert sum(b[1] for b in domain["board"].values()) > 50 and sum(b[3] for b in domain["board"].values()) > 0
    assert domain["rates"]["week"][0] > 0 and domain["countdown"]
    month = sorted(k for k in domain if k.startswith("rank prefecture"))[0]  # the last 28 days
    assert len(domain[month]) >= 5
    print(f"reconciled {pipeline['events']} events, {len(pipeline['snaps'])} cases in {pipeline['seconds']:.1f} s "
          f"(sent after {pipeline['sent']:.1f} s); "
          f"{pipeline['rejected']} rejected by the lifecycle")


def test_scripted_phases_on_the_wall(pipeline: dict[str, Any]) -> None:
    """Answered on time and waiting for evaluation: neither overdue nor in the countdown;
    unanswered and answered-unresolved: overdue; archived, merged, answered online: not open."""
    client, db, now = pipeline["client"], pipeline["db"], datetime.now(TZ)
    ids = ["SC-AWAIT", "SC-SILENT", "SC-UNRES", "SC-ARCH", "SC-DUP", "SC-ONLINE", "SC-FRESH"]
    with store_lock():
        phases = dict(client.query(f"SELECT case_id, phase FROM {db}.cases FINAL WHERE has({{ids:Array(String)}}, case_id)",
                                   parameters={"ids": ids}).result_rows)
        overdue = dict(client.query(
            f"SELECT case_id, {queries.OVERDUE} FROM {db}.open_cases FINAL WHERE has({{ids:Array(String)}}, case_id)",
            parameters={"ids": ids, "now": now}).result_rows)
        countdown = {r["case_id"]: r["target"] for r in queries.countdown(client, db, limit=100_000, now=now)}
    assert phases == {"SC-AWAIT": "awaiting_evaluation", "SC-SILENT": "open", "SC-UNRES": "open", "SC-ARCH": "closed",
                      "SC-DUP": "merged", "SC-ONLINE": "closed", "SC-FRESH": "open"}
    assert overdue == {"SC-AWAIT": 0, "SC-SILENT": 1, "SC-UNRES": 1, "SC-FRESH": 0}  # closed/merged: off the board
    assert "SC-AWAIT" not in countdown and "SC-SILENT" not in countdown and "SC-UNRES" not in countdown
    assert countdown.get("SC-FRESH") == "sign"
