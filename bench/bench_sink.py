"""The sink's insert rate into embedded chDB, beside a raw clickhouse-connect loop.

    FENGQIAO_KAFKA_BOOTSTRAP=127.0.0.1:19192 .venv/bin/python bench/bench_sink.py --events 1000000 [--default-gc]

Steps (each timed, printed as figures, nothing asserted):
1. pre-produce N valid events (unique event_ids) to a fresh 4-partition topic;
2. consume-only: a bare KafkaConsumer reads them all (the broker/client ceiling);
3. map-only: `sinks.rows.map_event` over the same messages (validation + masking);
4. raw: the mapped `events` rows inserted with clickhouse-connect, column-oriented,
   in batches of `--batch-rows` (the store's ceiling for these rows);
5. sink: `run_sink` (consume → map → batch → insert → commit) from the first
   poll until every offset is committed.
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


def consume_only(bootstrap: str, topic: str, n: int) -> None:
    from kafka import KafkaConsumer

    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                      enable_auto_commit=False, max_poll_records=20_000,
                      max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    got = 0
    t = None
    while got < n:
        for recs in c.poll(timeout_ms=500).values():
            if t is None:
                t = time.perf_counter()
            got += len(recs)
    el = time.perf_counter() - (t or time.perf_counter())
    c.close()
    print(f"consume-only {got:>9,} events in {el:6.1f} s = {got / el:>10,.0f} events/s (KafkaConsumer.poll)")


def map_only(msgs: list[tuple[bytes, bytes]], key: str) -> list[tuple]:
    from sinks.rows import map_event

    now = datetime.now(TZ)
    rows: list[tuple] = []
    t = time.perf_counter()
    for i, (_, v) in enumerate(msgs):
        out = map_event(v, i % 4, i, now, pii_key=key)
        assert not isinstance(out, str), out
        rows.append(out[0].row)
    el = time.perf_counter() - t
    print(f"map-only     {len(msgs):>9,} events in {el:6.1f} s = {len(msgs) / el:>10,.0f} events/s (parse + mask + row)")
    return rows


def raw_insert(client: object, database: str, rows: list[tuple], batch: int) -> float:
    from sinks.rows import COLUMNS

    cols = list(COLUMNS["events"])
    t = time.perf_counter()
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        client.insert(f"{database}.events", list(zip(*chunk)), column_names=cols, column_oriented=True)  # type: ignore[attr-defined]
    el = time.perf_counter() - t
    rate = len(rows) / el
    print(f"raw insert   {len(rows):>9,} rows   in {el:6.1f} s = {rate:>10,.0f} rows/s (clickhouse-connect, {batch:,}-row batches)")
    return rate


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
            first.append(time.perf_counter())
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
    consume_only(args.bootstrap, topics.events, args.events)
    rows = map_only(msgs, settings.pii_key)
    del msgs
    client = get_client(settings)
    migrate(client, "bench_raw")
    raw = raw_insert(client, "bench_raw", rows, args.batch_rows)
    del rows
    ev_rate, row_rate = sink_run(settings, args.events)
    n = client.query("SELECT count() FROM bench_sink.events FINAL").result_rows[0][0]
    print(f"check        events in ClickHouse (FINAL): {n:,} of {args.events:,}")
    print(f"ratio        sink events/s / raw insert rows/s = {ev_rate / raw:.2f}")


if __name__ == "__main__":
    main()
