"""The sink's insert rate into embedded chDB, beside a raw clickhouse-connect loop.

    FENGQIAO_KAFKA_BOOTSTRAP=127.0.0.1:19192 .venv/bin/python bench/bench_sink.py --events 1000000 [--default-gc]

Steps (each timed, printed as figures, nothing asserted):
1. pre-produce N valid events (unique event_ids) to a fresh 4-partition topic;
2. consume-only: a bare KafkaConsumer reads them all (the broker/client ceiling);
3. validate-only: `fengqiao.contract.parse_event` alone (the contract's pydantic check,
   which the sink must run on every message to dead-letter bad ones);
4. map-only: `sinks.rows.map_event` over the same messages (validation + masking + row);
5. raw: the same rows the sink writes (`events` and `contacts`) inserted with
   clickhouse-connect, column-oriented, in batches of `--batch-rows` (the store's ceiling);
6. sink: `run_sink` (consume → map → batch → insert → commit) from the first
   poll until every offset is committed.
The ratio (mark: >= 0.8) is sink rows/s over raw rows/s of the same rows; the floor line
shows the best a single-process sink could reach here: consume-only and validate-only alone,
one after the other, with nothing else (no masking, no rows, no insert).
The bench owns a fresh chDB path under --data-dir; no other process may use it.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fengqiao.settings import Settings, SinkSettings, Topics  # noqa: E402
from fengqiao.vocab import TZ  # noqa: E402


CPU_US: dict[str, float] = {}  # step -> CPU microseconds per row/event (other processes on the machine disturb it less)


def produce(bootstrap: str, topic: str, n: int, seed: int) -> list[tuple[bytes, bytes]]:
    from kafka import KafkaProducer

    from tests.factories import event_messages

    base = event_messages(seed, min(n, 20_000), local=True)
    msgs: list[tuple[bytes, bytes]] = []
    for i in range(n):
        key, value = base[i % len(base)]
        if i >= len(base):  # same shapes, fresh event_ids
            old = value[value.index(b'"event_id": "') + 13:][:36]
            value = value.replace(old, str(uuid.uuid4()).encode(), 1)
        msgs.append((key, value))
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024,
                      compression_type=None, max_request_size=8 * 1024 * 1024)
    t = time.perf_counter()
    for k, v in msgs:
        p.send(topic, key=k, value=v)
    p.flush()
    p.close()
    el = time.perf_counter() - t
    print(f"produce      {n:>9,} events in {el:6.1f} s = {n / el:>10,.0f} events/s (kafka-python, acks=all)")
    return msgs


def consume_only(bootstrap: str, topic: str, n: int) -> float:
    from kafka import KafkaConsumer

    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                      enable_auto_commit=False, max_poll_records=20_000,
                      max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    got = 0
    t = None
    cpu = 0.0
    while got < n:
        for recs in c.poll(timeout_ms=500).values():
            if t is None:
                t, cpu = time.perf_counter(), time.process_time()
            got += len(recs)
    el = time.perf_counter() - (t or time.perf_counter())
    CPU_US["consume"] = 1e6 * (time.process_time() - cpu) / got
    c.close()
    print(f"consume-only {got:>9,} events in {el:6.1f} s = {got / el:>10,.0f} events/s (KafkaConsumer.poll)")
    return got / el


def validate_only(msgs: list[tuple[bytes, bytes]]) -> float:
    from fengqiao.contract import parse_event

    t, cpu = time.perf_counter(), time.process_time()
    for _, v in msgs:
        parse_event(v)
    el = time.perf_counter() - t
    CPU_US["validate"] = 1e6 * (time.process_time() - cpu) / len(msgs)
    print(f"validate-only{len(msgs):>9,} events in {el:6.1f} s = {len(msgs) / el:>10,.0f} events/s (parse_event: the contract)")
    return len(msgs) / el


def map_only(msgs: list[tuple[bytes, bytes]], key: str) -> dict[str, list[tuple]]:
    from sinks.rows import map_event

    now = datetime.now(TZ)
    rows: dict[str, list[tuple]] = {"events": [], "contacts": []}
    t = time.perf_counter()
    for i, (_, v) in enumerate(msgs):
        out = map_event(v, i % 4, i, now, pii_key=key)
        assert not isinstance(out, str), out
        for r in out:
            rows[r.table].append(r.row)
    el = time.perf_counter() - t
    print(f"map-only     {len(msgs):>9,} events in {el:6.1f} s = {len(msgs) / el:>10,.0f} events/s (parse + mask + row)")
    return rows


def raw_insert(client: object, database: str, tables: dict[str, list[tuple]], batch: int) -> tuple[float, float]:
    """Rows/s over every table, and the `events` rows alone (the old figure)."""
    from sinks.rows import COLUMNS

    took: dict[str, float] = {}
    cpu = time.process_time()
    for table, rows in tables.items():
        cols = list(COLUMNS[table])
        t = time.perf_counter()
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            client.insert(f"{database}.{table}", list(zip(*chunk)), column_names=cols, column_oriented=True)  # type: ignore[attr-defined]
        took[table] = time.perf_counter() - t
    n, el = sum(len(r) for r in tables.values()), sum(took.values())
    CPU_US["raw"] = 1e6 * (time.process_time() - cpu) / n
    ev = len(tables["events"]) / took["events"]
    print(f"raw insert   {n:>9,} rows   in {el:6.1f} s = {n / el:>10,.0f} rows/s (clickhouse-connect, {batch:,}-row batches;"
          f" events alone {ev:,.0f} rows/s)")
    return n / el, ev



def sink_run(settings: Settings, n: int) -> tuple[float, float]:
    from sinks.runner import run_sink

    stop, ready = threading.Event(), threading.Event()
    th = threading.Thread(target=run_sink, args=(settings, stop, ready), daemon=True)
    from sinks import batching

    # time from the first buffered message to the last commit
    first: list[float] = []
    orig_add = batching.BatchingSink.add

    def add(self, *a, **kw):  # type: ignore[no-untyped-def]
        if not first:
            first.extend((time.perf_counter(), time.process_time()))
        return orig_add(self, *a, **kw)

    batching.BatchingSink.add = add  # type: ignore[method-assign]
    sinks: list[batching.BatchingSink] = []
    orig_init = batching.BatchingSink.__init__

    def init(self, *a, **kw):  # type: ignore[no-untyped-def]
        orig_init(self, *a, **kw)
        sinks.append(self)

    batching.BatchingSink.__init__ = init  # type: ignore[method-assign]
    th.start()
    ready.wait(120)
    while not sinks or sinks[0].stats.messages < n or sinks[0].pending():
        time.sleep(0.05)
    el = time.perf_counter() - first[0]
    s = sinks[0].stats
    CPU_US["sink"] = 1e6 * (time.process_time() - first[1]) / s.rows
    stop.set()
    th.join(60)
    print(f"sink         {s.messages:>9,} events in {el:6.1f} s = {s.messages / el:>10,.0f} events/s "
          f"= {s.rows / el:>10,.0f} rows/s ({s.rows:,} rows incl. contacts, {s.flushes} flushes, "
          f"batch_rows={settings.sink.batch_rows})")
    return s.messages / el, s.rows / el


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch-rows", type=int, default=20_000)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/fengqiao-bench-sink"))
    ap.add_argument("--bootstrap", default=os.environ.get("FENGQIAO_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--default-gc", action="store_true",
                    help="keep Python's default GC thresholds (`fengqiao sink` raises them, as this bench does by default)")
    args = ap.parse_args()
    if not args.default_gc:
        from sinks.runner import GC_THRESHOLDS

        gc.set_threshold(*GC_THRESHOLDS)  # what `fengqiao sink` (run_sink_forever) runs with

    tag = uuid.uuid4().hex[:8]
    topics = Topics(events=f"bench{tag}.events", alerts=f"bench{tag}.alerts", commands=f"bench{tag}.commands",
                    stats=f"bench{tag}.stats", dlq=f"bench{tag}.dlq", cases=f"bench{tag}.cases", partitions=4)
    data_dir = args.data_dir / tag
    settings = Settings(kafka_bootstrap=args.bootstrap, topics=topics, data_dir=data_dir, clickhouse_url="",
                        clickhouse_database="bench_sink",
                        sink=SinkSettings(group_id=f"bench-{tag}", batch_rows=args.batch_rows, batch_seconds=1.0))
    from sinks.runner import ensure_topics
    from sinks.schema import migrate
    from sinks.store import get_client

    print(f"bench_sink: {args.events:,} events, chDB at {data_dir}, broker {args.bootstrap}, {os.cpu_count()} cores")
    ensure_topics(settings)
    msgs = produce(args.bootstrap, topics.events, args.events, seed=5)
    consume = consume_only(args.bootstrap, topics.events, args.events)
    validate = validate_only(msgs)
    rows = map_only(msgs, settings.pii_key)
    per_event = sum(len(r) for r in rows.values()) / args.events
    del msgs
    client = get_client(settings)
    migrate(client, "bench_raw")
    raw, raw_events = raw_insert(client, "bench_raw", rows, args.batch_rows)
    del rows
    ev_rate, row_rate = sink_run(settings, args.events)
    n = client.query("SELECT count() FROM bench_sink.events FINAL").result_rows[0][0]
    print(f"check        events in ClickHouse (FINAL): {n:,} of {args.events:,}")
    floor = 1 / (1 / consume + 1 / validate) * per_event
    print(f"cpu          per row: sink {CPU_US['sink']:.1f} us vs raw insert {CPU_US['raw']:.1f} us ="
          f" {CPU_US['raw'] / CPU_US['sink']:.2f} (the same ratio by CPU time, which other processes on the machine disturb less)")
    print(f"ratio        sink {row_rate:,.0f} rows/s vs raw insert {raw:,.0f} rows/s of the same rows = {row_rate / raw:.2f}"
          f"   (mark 0.8; old figure, sink events/s over raw events rows/s: {ev_rate / raw_events:.2f})")
    cpu_floor = (CPU_US["consume"] + CPU_US["validate"]) / per_event
    print(f"floor        consume-only then validate-only, nothing else: {floor:,.0f} rows/s = {floor / raw:.2f} of raw;"
          f" by CPU {cpu_floor:.1f} us per row = {CPU_US['raw'] / cpu_floor:.2f} of raw (a single-process sink cannot pass this)")


if __name__ == "__main__":
    main()
