"""Benchmark of the streams worker (issue 4, "Performance"). Prints figures; asserts nothing.

    FENGQIAO_KAFKA_BOOTSTRAP=127.0.0.1:19292 .venv/bin/python bench/bench_streams.py \
        [--events 100000] [--workers 1,2] [--open-cases 100000,1000000]

1. Produce the simulator's event mix (`producers.simulator.generate_events`, `--rate`
   petitions per second of event time, centred on now, so most deadlines of the default
   policy lie ahead) to a fresh events topic.
2. Baselines on that topic: a raw aiokafka consume loop (decode nothing), and Faust's own
   ceiling on the worker's app settings: an agent that only counts, and one that also
   writes one table value per event (`bench/faust_ceiling.py`).
3. Real `fengqiao streams` workers (default store: rocksdb:// when rocksdict is installed)
   consume the backlog: events/s from the first to the last applied event (health views),
   and their RSS with that many cases. `--workers 1,2` repeats the run with that many
   workers sharing the partitions (one per core): rates and RSS are summed.
4. Alert latency: 300 urgent cases whose sign overdue instant falls 5–20 s ahead
   (received/assigned 29m40s–29m55s ago under the default 30-minute urgent sign target);
   latency = time the alert is read from the alerts topic − the due instant; p50/p99.
5. Memory: `--open-cases N` produces N `petition.received` events (the simulator's texts,
   new case ids) to a fresh topic and reports the workers' RSS once all are applied.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import threading
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from fengqiao.settings import Settings, Topics  # noqa: E402
from fengqiao.vocab import TZ  # noqa: E402
from tests.integration.streams_harness import Worker, event, free_port, received, worker_env  # noqa: E402



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


async def raw_consume(bootstrap: str, topic: str, n: int, partitions: int = 4) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await c.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
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


def faust_ceiling(settings: Settings, work: Path, n: int, mode: str) -> float:
    """Events/s of an agent that only counts (mode `none`) or writes one table value (`table`)."""
    env = worker_env(settings, CEILING_EVENTS=str(n), CEILING_MODE=mode, CEILING_WORKDIR=str(work / f"ceiling-{mode}"),
                     CEILING_WEB_PORT=str(free_port()))
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("faust_ceiling.py")), "worker", "-l", "warn"],
                         env=env, capture_output=True, text=True, timeout=600)
    for line in (out.stdout + out.stderr).splitlines():  # faust redirects print() to its log
        if '{"mode"' in line:
            return float(json.loads(line[line.index('{"mode"'):])["rate"])
    raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])


def fresh_settings(bootstrap: str, partitions: int) -> tuple[Settings, Path, str]:
    tag = f"b{uuid.uuid4().hex[:6]}"
    topics = Topics(events=f"{tag}.events", alerts=f"{tag}.alerts", commands=f"{tag}.commands", stats=f"{tag}.stats",
                    dlq=f"{tag}.dlq", cases=f"{tag}.cases", partitions=partitions)
    work = Path(f"/tmp/streams-bench/{tag}")
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(kafka_bootstrap=bootstrap, topics=topics, data_dir=work / "data",
                        streams={"app_id": f"it-{tag}"})  # the app id worker_env derives from the topics
    from streams.main import ensure_topics

    ensure_topics(settings)  # the topic layout the worker expects
    return settings, work, tag


def start_workers(settings: Settings, work: Path, n: int, store: str) -> list[Worker]:
    env = worker_env(settings, FENGQIAO_STREAMS__STORE=store, FENGQIAO_STREAMS__AUTO_DISPATCH_AFTER_SECONDS="86400")
    ws = [Worker(env, work / f"w{i}", work / f"worker{i}.log") for i in range(n)]
    for w in ws:
        w.wait_ready(120)
    time.sleep(1.0)
    for w in ws:  # the last worker to join triggered a rebalance: wait until every one is ready again
        w.wait_ready(120)
    return ws


def drain(ws: list[Worker], expected: int | None = None) -> tuple[float, int, float]:
    """Poll the workers' health views until the backlog is applied; (events/s, applied, CPU share)."""
    first = last = None
    applied_prev, still = -1, 0
    cpu_first = cpu_last = 0.0
    while True:
        hs = [health(w.port) for w in ws]
        applied = sum(h["events_applied"] for h in hs)
        now = time.perf_counter()
        if applied > 0 and first is None:
            first, cpu_first = (now, applied), sum(cpu_seconds(w.proc.pid) for w in ws)
        lag = sum(v for h in hs for k, v in h["lag"].items() if "changelog" not in k)
        still = still + 1 if applied == applied_prev else 0
        if first and (expected is None or applied >= expected) and lag == 0 and still >= 4:
            break
        if applied != applied_prev:
            last, cpu_last = (now, applied), sum(cpu_seconds(w.proc.pid) for w in ws)
        applied_prev = applied
        time.sleep(0.5)
    assert first and last
    span = max(1e-9, last[0] - first[0])
    return (last[1] - first[1]) / span, last[1], (cpu_last - cpu_first) / span


class Load(threading.Thread):
    """Background traffic at a steady rate (events/s) while the latency is measured."""

    def __init__(self, bootstrap: str, topic: str, items: list[tuple[bytes, bytes]], rate: float):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.items, self.rate = bootstrap, topic, items, rate
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        p = KafkaProducer(bootstrap_servers=self.bootstrap, acks=1, linger_ms=5)
        t0 = time.perf_counter()
        for k, v in self.items:
            if self.stop.is_set():
                break
            p.send(self.topic, key=k, value=v)
            self.sent += 1
            ahead = self.sent / self.rate - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)
        p.flush()
        p.close()


def alert_latency(settings: Settings, tag: str, n: int, load: Load | None = None) -> tuple[str, float | None]:
    """Urgent cases whose sign overdue instant falls 5..20 s ahead; due instant -> read from the topic."""
    bootstrap, topics = settings.kafka_bootstrap, settings.topics
    now = datetime.now(TZ)
    lat_items, due = [], {}
    for i in range(n):
        ahead = 5 + 15 * i / n
        at = now - timedelta(minutes=30) + timedelta(seconds=ahead)
        cid = f"L{tag}{i}"
        r = received(cid, at, urgency="urgent")
        a = event(cid, "case.assigned", at, {"department": "d", "level": "city"})
        lat_items += [(cid.encode(), json.dumps(x, ensure_ascii=False).encode()) for x in (r, a)]
        due[f"sla:{cid}:sign:overdue:0"] = at + timedelta(minutes=30)
    consumer = KafkaConsumer(topics.alerts, bootstrap_servers=bootstrap, auto_offset_reset="latest",
                             enable_auto_commit=False, group_id=None)
    consumer.poll(timeout_ms=1000)
    if load is not None:
        load.start()
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
    if load is not None:
        load.stop.set()
        load.join()
    vals = sorted(lat.values())
    under = f" under {load.rate:,.0f} ev/s of background traffic" if load is not None else " (idle worker)"
    if not vals:
        return f"alert latency{under}: 0/{len(due)} alerts seen", None
    p99 = vals[min(len(vals) - 1, int(0.99 * len(vals)))]
    if len(vals) < len(due):
        p99 = float("inf")  # an alert never seen counts as late
    return (f"alert latency{under} (due instant -> read from topic), {len(vals)}/{len(due)} alerts: "
            f"p50 {statistics.median(vals) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, min {vals[0] * 1000:.0f} ms",
            p99 * 1000)


def open_case_items(evs: list, n: int) -> list[tuple[bytes, bytes]]:
    """n `petition.received` events: the simulator's received events, cloned with new case ids."""
    base = [e for e in evs if e.event_type == "petition.received"]
    out = []
    for i in range(n):
        e = base[i % len(base)]
        cid = f"M{i:08d}"
        ev = e.model_copy(update={"case_id": cid, "event_id": uuid.UUID(int=i + 1)})
        out.append((cid.encode(), ev.to_json()))
    return out


class CaseWatch:
    """Reads the cases topic from its end: when did a given case's snapshot appear?"""

    def __init__(self, settings: Settings):
        self.c = KafkaConsumer(settings.topics.cases, bootstrap_servers=settings.kafka_bootstrap,
                               auto_offset_reset="latest", enable_auto_commit=False, group_id=None)
        self.c.poll(timeout_ms=1000)

    def wait(self, case_id: str, timeout: float) -> float | None:
        end = time.time() + timeout
        while time.time() < end:
            for recs in self.c.poll(timeout_ms=200).values():
                for rec in recs:
                    if rec.key == case_id.encode():
                        return time.time()
        return None

    def close(self) -> None:
        self.c.close()


def probe_item(tag: str, n: int) -> tuple[str, list[tuple[bytes, bytes]]]:
    cid = f"P{tag}{n}"
    return cid, [(cid.encode(), json.dumps(received(cid, datetime.now(TZ)), ensure_ascii=False).encode())]


def recovery(settings: Settings, work: Path, tag: str, w: Worker, store: str, fresh: bool) -> tuple[str, float | None, Worker]:
    """kill -9 the worker, send one new petition, start a worker (in the same folder, or in an empty one:
    every table from its changelog) and time until that petition's snapshot is on the cases topic."""
    watch = CaseWatch(settings)
    try:
        t_kill = time.time()
        w.kill()
        cid, item = probe_item(tag, int(fresh))
        produce(settings.kafka_bootstrap, settings.topics.events, item)
        env = worker_env(settings, FENGQIAO_STREAMS__STORE=store, FENGQIAO_STREAMS__AUTO_DISPATCH_AFTER_SECONDS="86400")
        folder = work / ("w-fresh" if fresh else "w0")
        t_start = time.time()
        nw = Worker(env, folder, work / "worker-recovered.log")
        seen = watch.wait(cid, 900)
    finally:
        watch.close()
    how = "empty folder (all tables from the changelog)" if fresh else "same folder (RocksDB kept, changelog tail)"
    if seen is None:
        return f"recovery after kill -9, {how}: the new event was not applied within 900 s", None, nw
    return (f"recovery after kill -9, {how}: new event applied {seen - t_kill:.1f} s after the kill "
            f"({seen - t_start:.1f} s after the restart)", seen - t_kill, nw)


class Marks:
    """The issue's marks, each beside its baseline from this run."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, bool | None]] = []

    def add(self, figure: str, measured: str, mark: str, met: bool | None) -> None:
        self.rows.append((figure, measured, mark, met))

    def print(self) -> None:
        if not self.rows:
            return
        print("\n== marks (issue 12), measured in this run")
        for figure, measured, mark, met in self.rows:
            verdict = "n/a" if met is None else ("MET" if met else "NOT MET")
            print(f"  {figure}: {measured}  [mark {mark}: {verdict}]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--store", default="rocksdb://")
    ap.add_argument("--latency-cases", type=int, default=300)
    ap.add_argument("--rate", type=float, default=2.0, help="new petitions per second of event time")
    ap.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--open-cases", default="", help="memory runs (one worker): open-case counts, comma-separated (e.g. 100000,1000000)")
    ap.add_argument("--recovery", action="store_true", help="after each memory run: kill -9, restart, time until a new event is applied")
    ap.add_argument("--no-ceiling", action="store_true")
    ap.add_argument("--no-mix", action="store_true", help="only the --open-cases memory runs")
    ap.add_argument("--load-share", default="0.5,0.8",
                    help="background traffic during the latency runs, as shares of the sustained rate, comma-separated")
    args = ap.parse_args()
    bootstrap = os.environ.get("FENGQIAO_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    shares = [float(x) for x in args.load_share.split(",") if x]
    marks = Marks()

    from producers.simulator import generate_events

    t = time.perf_counter()
    evs = generate_events(7, args.events, start=datetime.now(TZ) - timedelta(seconds=args.events / args.rate / 2),
                          rate=args.rate)
    items = [(e.key(), e.to_json()) for e in evs]
    load_items = [(e.key(), e.to_json()) for e in generate_events(8, 50_000, start=datetime.now(TZ), rate=args.rate)]
    opened = len({e.case_id for e in evs if e.event_type == "petition.received"})
    print(f"generated {len(items)} events ({opened} cases) in {time.perf_counter() - t:.1f} s")

    raw = ceiling = None
    rates: dict[int, float] = {}
    for n_workers in [] if args.no_mix else [int(x) for x in args.workers.split(",") if x]:
        settings, work, tag = fresh_settings(bootstrap, args.partitions)
        dt = produce(bootstrap, settings.topics.events, items)
        print(f"\n== {n_workers} worker(s), {args.partitions} partitions: produced in {dt:.1f} s ({len(items) / dt:,.0f} ev/s)")
        if raw is None:
            raw = asyncio.run(raw_consume(bootstrap, settings.topics.events, len(items), args.partitions))
            print(f"raw aiokafka consume loop: {raw:,.0f} ev/s")
            if not args.no_ceiling:
                for mode in ("none", "table"):
                    c = faust_ceiling(settings, work, len(items), mode)
                    ceiling = c if mode == "none" else ceiling
                    print(f"faust ceiling ({'agent that only counts' if mode == 'none' else 'one table write per event'}): "
                          f"{c:,.0f} ev/s", flush=True)
        ws = start_workers(settings, work, n_workers, args.store)
        try:
            rss0 = sum(rss_mb(w.proc.pid) for w in ws)
            rate, applied, cpu = drain(ws)
            rates[n_workers] = rate
            print(f"worker(s): {applied:,} events applied, sustained {rate:,.0f} ev/s (ratio to raw loop {rate / raw:.2%}), "
                  f"store {args.store}, CPU {cpu:.0%} of one core", flush=True)
            print(f"worker RSS: {rss0:.0f} MB idle, {sum(rss_mb(w.proc.pid) for w in ws):.0f} MB with ~{opened:,} cases")
            line, idle = alert_latency(settings, tag, args.latency_cases)
            print(line, flush=True)
            for share in shares:
                load = Load(bootstrap, settings.topics.events, load_items, rate * share)
                line, p99 = alert_latency(settings, f"{tag}u{int(share * 100)}", args.latency_cases, load)
                print(line, flush=True)
                bound = 1000 if share <= 0.5 else 2000
                marks.add(f"alert latency p99, {n_workers} worker(s), background {share:.0%} of sustained",
                          f"{p99:,.0f} ms (idle worker: {idle or float('nan'):,.0f} ms)" if p99 is not None else "no alert seen",
                          f"<= {bound} ms", p99 is not None and p99 <= bound)
        finally:
            print(f"worker exit codes on SIGTERM: {[w.stop() for w in ws]}")
        if n_workers == 1 and ceiling:
            marks.add("1 worker sustained vs the count-only Faust ceiling", f"{rate:,.0f} vs {ceiling:,.0f} ev/s "
                      f"({rate / ceiling:.1%})", ">= 50 %", rate >= 0.5 * ceiling)
    if 1 in rates and 2 in rates:
        marks.add("2 workers vs 1 worker", f"{rates[2]:,.0f} vs {rates[1]:,.0f} ev/s ({rates[2] / rates[1]:.2f} x)",
                  ">= 1.7 x", rates[2] >= 1.7 * rates[1])

    for n_cases in [int(x) for x in args.open_cases.split(",") if x]:
        settings, work, tag = fresh_settings(bootstrap, args.partitions)
        cases = open_case_items(evs, n_cases)
        dt = produce(bootstrap, settings.topics.events, cases)
        print(f"\n== memory: {n_cases:,} open cases, 1 worker: produced in {dt:.1f} s", flush=True)
        ws = start_workers(settings, work, 1, args.store)
        try:
            rss0 = [rss_mb(w.proc.pid) for w in ws]
            rate, applied, _ = drain(ws, expected=n_cases)
            rss = [rss_mb(w.proc.pid) for w in ws]
            print(f"applied {applied:,} at {rate:,.0f} ev/s; RSS idle {sum(rss0):.0f} MB -> {sum(rss):.0f} MB, "
                  f"{(sum(rss) - sum(rss0)) * 1024 / max(1, applied):.2f} KB per case above idle", flush=True)
            marks.add(f"RSS of 1 worker with {n_cases:,} open cases", f"{sum(rss):,.0f} MB (idle {sum(rss0):,.0f} MB)",
                      "<= 1024 MB", sum(rss) <= 1024 if n_cases >= 1_000_000 else None)
            if args.recovery:
                for fresh in (False, True):
                    line, secs, nw = recovery(settings, work, tag, ws[0], args.store, fresh)
                    ws = [nw]
                    print(line, flush=True)
                    marks.add(f"back applying after kill -9, {n_cases:,} cases, "
                              f"{'empty folder' if fresh else 'same folder'}",
                              f"{secs:.1f} s" if secs is not None else "not within 900 s", "<= 120 s",
                              (secs is not None and secs <= 120) if n_cases >= 1_000_000 else None)
        finally:
            print(f"worker exit codes on SIGTERM: {[w.stop() for w in ws]}")
    marks.print()


if __name__ == "__main__":
    main()
