"""Benchmark of the streams worker (issue 4, "Performance"). Prints figures; asserts nothing.

    FENGQIAO_KAFKA_BOOTSTRAP=127.0.0.1:19292 .venv/bin/python bench/bench_streams.py [--events 100000]

1. Produce the simulator's event mix (`producers.simulator.generate_events`, `--rate`
   petitions per second of event time, centred on now, so most deadlines of the default
   policy lie ahead) to a fresh events topic.
2. Raw baseline: an aiokafka consume loop over the same topic (decode nothing).
3. A real `fengqiao streams` worker (default store: rocksdb:// when rocksdict is installed)
   consumes the backlog: events/s from its first to its last applied event (health view),
   and its RSS with that many open cases.
4. Alert latency: 300 urgent cases whose sign overdue instant falls 5–20 s ahead
   (received/assigned 29m40s–29m55s ago under the default 30-minute urgent sign target);
   latency = time the alert is read from the alerts topic − the due instant; p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from fengqiao.settings import Settings, Topics  # noqa: E402
from tests.integration.streams_harness import Worker, event, received, worker_env  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")


def produce(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> float:
    # one request in flight: a retried batch (fresh topic, leader not ready) must not overtake the next
    p = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, batch_size=512 * 1024, max_in_flight_requests_per_connection=1,
                      compression_type=None, max_request_size=8 * 1024 * 1024)
    t = time.perf_counter()
    for k, v in items:
        p.send(topic, key=k, value=v)
    p.flush()
    p.close()
    return time.perf_counter() - t


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await c.start()
    tps = [TopicPartition(topic, p) for p in range(4)]
    c.assign(tps)
    await c.seek_to_beginning(*tps)
    got, t0 = 0, time.perf_counter()
    try:
        while got < n:
            batch = await c.getmany(timeout_ms=1000, max_records=5000)
            for recs in batch.values():
                got += len(recs)
        return got / (time.perf_counter() - t0)
    finally:
        await c.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of the worker process (so the bench can tell CPU-bound from waiting)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/health/", timeout=10).json()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--store", default="rocksdb://")
    ap.add_argument("--latency-cases", type=int, default=300)
    ap.add_argument("--rate", type=float, default=2.0, help="new petitions per second of event time")
    args = ap.parse_args()
    bootstrap = os.environ.get("FENGQIAO_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    tag = f"b{uuid.uuid4().hex[:6]}"
    topics = Topics(events=f"{tag}.events", alerts=f"{tag}.alerts", commands=f"{tag}.commands", stats=f"{tag}.stats",
                    dlq=f"{tag}.dlq", cases=f"{tag}.cases", partitions=4)
    work = Path(f"/tmp/streams-bench/{tag}")
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(kafka_bootstrap=bootstrap, topics=topics, data_dir=work / "data")

    from producers.simulator import generate_events

    t = time.perf_counter()
    evs = generate_events(7, args.events, start=datetime.now(TZ) - timedelta(seconds=args.events / args.rate / 2),
                          rate=args.rate)
    items = [(e.key(), e.to_json()) for e in evs]
    opened = len({e.case_id for e in evs if e.event_type == "petition.received"})
    print(f"generated {len(items)} events ({opened} cases) in {time.perf_counter() - t:.1f} s")
    from streams.main import ensure_topics

    ensure_topics(Settings(kafka_bootstrap=bootstrap, topics=topics,
                           streams={"app_id": f"it-{tag}"}))  # same topic layout the worker expects
    dt = produce(bootstrap, topics.events, items)
    print(f"produced in {dt:.1f} s ({len(items) / dt:,.0f} ev/s)")

    raw = asyncio.run(raw_consume(bootstrap, topics.events, len(items)))
    print(f"raw aiokafka consume loop: {raw:,.0f} ev/s")

    env = worker_env(settings, FENGQIAO_STREAMS__STORE=args.store, FENGQIAO_STREAMS__AUTO_DISPATCH_AFTER_SECONDS="86400")
    w = Worker(env, work / "w", work / "worker.log")
    try:
        w.wait_ready(120)
        rss0 = rss_mb(w.proc.pid)
        first = last = None
        applied_prev, still = -1, 0
        cpu_first = cpu_last = 0.0
        while True:
            h = health(w.port)
            now = time.perf_counter()
            if h["events_applied"] > 0 and first is None:
                first = (now, h["events_applied"])
                cpu_first = cpu_seconds(w.proc.pid)
            lag = sum(v for k, v in h["lag"].items() if "changelog" not in k)  # events and internal topics
            still = still + 1 if h["events_applied"] == applied_prev else 0
            if first and lag == 0 and still >= 4:  # idle for 2 s: buffered events are applied too
                break
            if h["events_applied"] != applied_prev:
                last = (now, h["events_applied"])
                cpu_last = cpu_seconds(w.proc.pid)
            applied_prev = h["events_applied"]
            time.sleep(0.5)
        assert first and last
        rate = (last[1] - first[1]) / max(1e-9, last[0] - first[0])
        print(f"worker: {last[1]:,} events applied, sustained {rate:,.0f} ev/s "
              f"(ratio to raw loop {rate / raw:.2%}), store {args.store}, worker CPU "
              f"{(cpu_last - cpu_first) / max(1e-9, last[0] - first[0]):.0%} of one core")
        print(f"worker RSS: {rss0:.0f} MB idle, {rss_mb(w.proc.pid):.0f} MB with ~{opened:,} cases "
              f"({h['timers']:,} timers)")

        # alert latency: overdue instants 5..20 s ahead
        now = datetime.now(TZ)
        lat_items, due = [], {}
        for i in range(args.latency_cases):
            ahead = 5 + 15 * i / args.latency_cases
            at = now - timedelta(minutes=30) + timedelta(seconds=ahead)
            cid = f"L{tag}{i}"
            r = received(cid, at, urgency="urgent")
            a = event(cid, "case.assigned", at, {"department": "d", "level": "city"})
            lat_items += [(cid.encode(), json.dumps(x, ensure_ascii=False).encode()) for x in (r, a)]
            due[f"sla:{cid}:sign:overdue:0"] = at + timedelta(minutes=30)
        consumer = KafkaConsumer(topics.alerts, bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                 enable_auto_commit=False, group_id=None)
        consumer.poll(timeout_ms=1000)
        produce(bootstrap, topics.events, lat_items)
        lat: dict[str, float] = {}
        end = time.time() + 45
        while time.time() < end and len(lat) < len(due):
            for recs in consumer.poll(timeout_ms=200).values():
                seen = datetime.now(TZ)
                for rec in recs:
                    a = json.loads(rec.value)
                    if a["dedup_key"] in due and a["version"] == 1:
                        lat[a["dedup_key"]] = (seen - due[a["dedup_key"]]).total_seconds()
        consumer.close()
        vals = sorted(lat.values())
        if vals:
            p99 = vals[min(len(vals) - 1, int(0.99 * len(vals)))]
            print(f"alert latency (due instant -> read from topic), {len(vals)}/{len(due)} alerts: "
                  f"p50 {statistics.median(vals) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, min {vals[0] * 1000:.0f} ms")
    finally:
        print(f"worker exit code on SIGTERM: {w.stop()}")


if __name__ == "__main__":
    main()
