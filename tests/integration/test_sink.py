"""The sink against the real broker and real chDB (in this process, one database per test)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer

from fengqiao.records import AlertRecord, CaseSnapshot, DeadLetter, RegionStats
from fengqiao.regions import prefecture_of
from fengqiao.settings import Settings, SinkSettings, reveal
from fengqiao.signing import signed_headers
from sinks.metrics import serve_metrics
from sinks.runner import ensure_topics, run_sink
from tests.netutil import free_port, prom_samples
from sinks.store import get_client, store_lock
from tests.factories import event_messages

pytestmark = pytest.mark.integration

CST = timezone(timedelta(hours=8))


def produce(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=5)


def query(settings: Settings, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    with store_lock():
        return get_client(settings).query(sql, parameters=params or {}).result_rows


def sink_metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The process's sink metrics over prometheus_client's HTTP server."""
    return prom_samples(f"http://127.0.0.1:{port}/metrics")


def wait_until(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def sink_thread(settings: Settings) -> Iterator[threading.Event]:
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run_sink(settings, stop, ready)
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)

    t = threading.Thread(target=target, name="sink", daemon=True)
    t.start()
    try:
        assert ready.wait(60) or not t.is_alive(), "sink never got its partitions"
        if errors:
            raise errors[0]
        yield stop
    finally:
        stop.set()
        t.join(60)
        assert not t.is_alive(), "sink thread did not stop"
    if errors:
        raise errors[0]


def fast(settings_factory: Callable[..., Settings], group: str | None = None) -> Settings:
    return settings_factory(sink=SinkSettings(group_id=group or f"sink-{uuid.uuid4().hex[:8]}",
                                              batch_rows=400, batch_seconds=0.3))


def final_count(s: Settings, table: str = "events") -> int:
    return query(s, f"SELECT count() FROM {s.clickhouse_database}.{table} FINAL")[0][0]


def regions_of(messages: list[tuple[bytes, bytes]]) -> Counter[str]:
    return Counter(json.loads(v)["region_code"] for _, v in messages)


def committed(settings: Settings) -> int:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        offsets = admin.list_group_offsets({settings.sink.group_id: None})[settings.sink.group_id]
    finally:
        admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == settings.topics.events and o.offset > 0)


def read_dead_letters(s: Settings, expected: int, timeout: float = 20.0) -> list[DeadLetter]:
    """Everything on the DLQ topic (waits for `expected` letters, then 0.5 s more for extras)."""
    consumer = KafkaConsumer(s.topics.dlq, bootstrap_servers=s.kafka_bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None)
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                letters.extend(DeadLetter.model_validate_json(r.value) for r in records)
            if len(letters) >= expected:
                deadline = min(deadline, time.monotonic() + 0.5)
    finally:
        consumer.close()
    return letters


def test_2000_events_land_exactly_once_with_region_counts(settings_factory: Callable[..., Settings]) -> None:
    s = fast(settings_factory)
    msgs = event_messages(seed=11, count=2000)
    assert len(msgs) == 2000
    ensure_topics(s)
    produce(s, s.topics.events, msgs)
    db = s.clickhouse_database
    port = free_port()
    assert serve_metrics(port)
    before = sink_metrics(port)
    with sink_thread(s):
        wait_until(lambda: final_count(s) >= 2000, what="2000 events in ClickHouse")
        wait_until(lambda: committed(s) == 2000, what="offsets committed")
        lag = (lambda: {k: v for k, v in sink_metrics(port).items() if k[0] == "fengqiao_sink_consumer_lag"
                        and dict(k[1])["topic"] == s.topics.events})
        wait_until(lambda: len(lag()) == s.topics.partitions and not any(lag().values()), 10, "lag sampled, 0")
        after = sink_metrics(port)
    rows = ("fengqiao_sink_rows_total", (("table", "events"),))
    assert after[rows] - before.get(rows, 0) == 2000
    inserts = ("fengqiao_sink_insert_seconds_count", (("table", "events"),))
    assert after[inserts] - before.get(inserts, 0) >= 1
    assert after[("fengqiao_sink_messages_total", ())] == 2000  # this sink's own count
    assert after[("fengqiao_store_memory_bytes", (("metric", "MemoryTracking"),))] > 0  # chDB's own accounting
    assert ("fengqiao_store_memory_bytes", (("metric", "MarkCacheBytes"),)) in after
    # no redelivery happened here, so not even unmerged physical duplicates exist
    assert query(s, f"SELECT count(), uniqExact(event_id) FROM {db}.events")[0] == (2000, 2000)
    produced_ids = {json.loads(v)["event_id"] for _, v in msgs}
    stored_ids = {str(r[0]) for r in query(s, f"SELECT event_id FROM {db}.events FINAL")}
    assert stored_ids == produced_ids
    by_region = dict(query(s, f"SELECT region_code, count() FROM {db}.events FINAL GROUP BY region_code"))
    assert by_region == dict(regions_of(msgs))
    by_pref = dict(query(s, f"SELECT prefecture_code, count() FROM {db}.events FINAL GROUP BY prefecture_code"))
    expected_pref: Counter[str] = Counter()
    for code, n in regions_of(msgs).items():
        expected_pref[prefecture_of(code)] += n
    assert by_pref == dict(expected_pref)
    # personal data: no clear mobile number anywhere in the stored payloads
    leaks = query(s, f"SELECT count() FROM {db}.events WHERE match(payload, '(^|[^0-9A-Za-z.])1[3-9][0-9]{{9}}($|[^0-9A-Za-z])')")
    assert leaks[0][0] == 0
    received = sum(1 for _, v in msgs if json.loads(v)["event_type"] == "petition.received"
                   and json.loads(v)["payload"].get("citizen"))
    assert final_count(s, "contacts") == len({json.loads(v)["case_id"] for _, v in msgs
                                             if json.loads(v)["event_type"] == "petition.received"
                                             and json.loads(v)["payload"].get("citizen")})
    assert received > 0


def test_malformed_messages_go_to_the_dlq_and_good_ones_land(settings_factory: Callable[..., Settings]) -> None:
    s = fast(settings_factory)
    good = event_messages(seed=12, count=300)
    bad_region = json.loads(good[0][1])
    bad_region.update(event_id=str(uuid.uuid4()), region_code="110101")
    bad_enum = json.loads(good[1][1])
    bad_enum.update(event_id=str(uuid.uuid4()), channel="carrier-pigeon")
    bads: list[tuple[bytes, str]] = [
        (b'{"event_type": "petition.received", oops', "JSON"),
        (json.dumps(bad_region).encode(), "region_code"),
        (json.dumps(bad_enum).encode(), "channel"),
        (b"\xff\xfe\x00garbage", "JSON"),
        (b'{"event_type": "petition.received", "payload": {"citizen": {"phone": "13812345678"}}}', "event_id"),
    ]
    key = good[0][0]  # same partition as their neighbours
    msgs: list[tuple[bytes | None, bytes]] = list(good[:100])
    rest = good[100:]
    for i, (raw, _) in enumerate(bads):  # each bad one between good ones
        msgs.append((key, raw))
        msgs.extend(rest[i * 40:(i + 1) * 40])
    msgs.extend(rest[len(bads) * 40:])
    ensure_topics(s)
    produce(s, s.topics.events, msgs)
    produce(s, s.topics.alerts, [(b"x", b'{"alert_id": "a1"}')])  # an invalid record on another topic
    with sink_thread(s):
        wait_until(lambda: final_count(s) >= 300, what="good events")
        wait_until(lambda: committed(s) == len(msgs), what="offsets committed past the bad ones")
    assert final_count(s) == 300

    letters = read_dead_letters(s, len(bads) + 1)
    assert len(letters) == len(bads) + 1
    by_raw = {d.raw_bytes(s.pii_key): d for d in letters}
    # letters whose bytes may hold contact data travel sealed, the rest as text
    assert by_raw[json.dumps(bad_region).encode()].raw_encoding == "sealed"
    assert by_raw[bads[0][0]].raw_encoding == "text"
    clear = by_raw[bads[-1][0]]
    assert clear.raw_encoding == "sealed" and "13812345678" not in clear.to_json().decode()
    for raw, needle in bads:
        d = by_raw[raw]
        assert d.source == "sink" and d.topic == s.topics.events and d.offset is not None
        assert needle.lower() in d.error.lower() or needle in d.error, d.error
    alert_letter = by_raw[b'{"alert_id": "a1"}']
    assert alert_letter.topic == s.topics.alerts and "dedup_key" in alert_letter.error


def test_replaying_the_same_events_does_not_double_count(settings_factory: Callable[..., Settings]) -> None:
    first = fast(settings_factory)
    msgs = event_messages(seed=13, count=500)
    ensure_topics(first)
    produce(first, first.topics.events, msgs + msgs)  # the same events produced twice
    db = first.clickhouse_database
    with sink_thread(first):
        wait_until(lambda: committed(first) == 1000, what="both copies consumed")
    assert final_count(first) == 500
    # a second group with a fresh process memory reads everything again
    second = fast(settings_factory)
    with sink_thread(second):
        wait_until(lambda: committed(second) == 1000, what="replay consumed")
    assert final_count(second) == 500
    assert query(second, f"SELECT uniqExact(event_id) FROM {db}.events")[0][0] == 500
    by_region = dict(query(second, f"SELECT region_code, count() FROM {db}.events FINAL GROUP BY region_code"))
    assert by_region == dict(regions_of(msgs))


def test_cases_alerts_stats_and_commands_keep_their_newest_state(settings_factory: Callable[..., Settings]) -> None:
    s = fast(settings_factory)
    now = datetime(2026, 11, 26, 10, 0, tzinfo=CST)
    snaps = [CaseSnapshot(case_id="HB-9", version=v, status=st, region_code="130102", prefecture_code="130100",
                          updated_at=now + timedelta(minutes=v))
             for v, st in ((1, "received"), (2, "assigned"), (3, "signed"))]
    alerts = [AlertRecord(alert_id="A-1", dedup_key="sla:HB-9:sign:warning:0", kind="sla", stage="warning",
                          severity="warning", state=st, case_id="HB-9", region_code="130102", raised_at=now,
                          updated_at=now + timedelta(minutes=v), message="签收即将超时", version=v)
              for v, st in ((1, "firing"), (2, "acknowledged"))]
    stats = [RegionStats(region_code="130100", region_level="prefecture", as_of=now + timedelta(seconds=i),
                         intake_1h=i, intake_24h=10 * i, open_now=i, overdue_now=0) for i in range(1, 4)]
    cmd = {"command_id": str(uuid.uuid4()), "type": "alert.acknowledge", "issued_at": now.isoformat(),
           "officer_id": "officer-7", "alert_id": "A-1", "note": "已处理"}
    ensure_topics(s)
    # newest case version first, then older ones and a repeat: version decides, not arrival
    produce(s, s.topics.cases, [(b"HB-9", snaps[2].to_json()), (b"HB-9", snaps[0].to_json()),
                                (b"HB-9", snaps[1].to_json()), (b"HB-9", snaps[2].to_json())])
    produce(s, s.topics.alerts, [(b"k", a.to_json()) for a in alerts + alerts])
    produce(s, s.topics.stats, [(b"130100", r.to_json()) for r in stats])
    value = json.dumps(cmd).encode()
    forged = json.dumps({**cmd, "command_id": str(uuid.uuid4()), "officer_id": "intruder"}).encode()
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    for _ in range(2):  # the console signs; an unsigned command is not the console's and stays out of the audit
        producer.send(s.topics.commands, key=b"A-1", value=value, headers=signed_headers(reveal(s.command_key), value))
    producer.send(s.topics.commands, key=b"A-1", value=forged)
    producer.flush(timeout=30)
    producer.close(timeout=5)
    db = s.clickhouse_database
    with sink_thread(s):
        wait_until(lambda: final_count(s, "commands") == 1 and final_count(s, "region_stats") == 1
                   and final_count(s, "alert_log") == 2 and final_count(s, "cases") == 1, what="all tables")
    assert query(s, f"SELECT version, status FROM {db}.cases FINAL") == [(3, "signed")]
    assert query(s, f"SELECT version, state, prefecture_code FROM {db}.alerts FINAL") == [(2, "acknowledged", "130100")]
    assert query(s, f"SELECT intake_24h FROM {db}.region_stats FINAL") == [(30,)]
    assert query(s, f"SELECT officer_id, alert_id FROM {db}.commands FINAL") == [("officer-7", "A-1")]
    letters = read_dead_letters(s, 1)
    assert len(letters) == 1 and letters[0].topic == s.topics.commands and "未签名" in letters[0].error


def test_a_retried_batch_with_the_same_token_is_stored_once(settings_factory: Callable[..., Settings]) -> None:
    """What the token buys: an insert that landed but whose answer was lost is retried harmlessly."""
    from sinks.rows import COLUMNS, map_event
    from sinks.runner import _ChInsert
    from sinks.schema import migrate

    s = settings_factory()
    client = get_client(s)
    with store_lock():
        migrate(client, s.clickhouse_database)
    now = datetime.now(CST)
    rows = [map_event(v, 0, i, now)[0].row for i, (_, v) in enumerate(event_messages(seed=14, count=50))]
    insert = _ChInsert(client, s.clickhouse_database, tokens=True)
    columns = list(zip(*rows))
    insert("events", COLUMNS["events"], columns, "token-1")
    insert("events", COLUMNS["events"], columns, "token-1")
    assert query(s, f"SELECT count() FROM {s.clickhouse_database}.events")[0][0] == 50
    insert("events", COLUMNS["events"], columns, "token-2")  # another batch: stored (FINAL collapses it)
    assert query(s, f"SELECT count() FROM {s.clickhouse_database}.events")[0][0] == 100
    assert final_count(s) == 50
