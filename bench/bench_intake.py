"""Intake throughput on one broker, in one run (prints figures, asserts nothing).

    FENGQIAO_KAFKA_BOOTSTRAP=127.0.0.1:19492 .venv/bin/python bench/bench_intake.py [--events 20000] [--requests 2000]

1. raw kafka-python loop (acks=all, idempotent), pre-serialised events: async sends + one flush,
   and synchronous sends (wait for each ack, like one HTTP request);
2. the simulator straight into Kafka (`run_simulator(pace=False)`: generation + PII sealing + sends);
3. the gateway (uvicorn in a child process, as `fengqiao gateway` runs; real HTTP; no per-key rate limit):
   single petitions from 8 client threads (each 202 only after the broker's ack) beside the acked
   raw loop, and `/v1/events` batches of 200 (one Kafka transaction each) beside the raw async loop.
   Only 202 answers count.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from fengqiao.settings import Settings, Topics  # noqa: E402
from producers.gateway.config import GatewaySettings  # noqa: E402
from producers.gateway.embedded import free_port  # noqa: E402
from producers.kafka_out import ensure_event_topics, make_producer  # noqa: E402
from producers.simulator import generate_events, run_simulator  # noqa: E402


def settings_for(bootstrap: str) -> Settings:
    tag = "bench" + uuid.uuid4().hex[:6]
    return Settings(kafka_bootstrap=bootstrap, topics=Topics(
        events=f"{tag}.events", alerts=f"{tag}.alerts", commands=f"{tag}.commands", stats=f"{tag}.stats",
        dlq=f"{tag}.dlq", cases=f"{tag}.cases", partitions=4))


def raw_async(s: Settings, payloads: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    """Sends/s and CPU ms per send."""
    p = make_producer(s)
    t, cpu = time.perf_counter(), time.process_time()
    fs = [p.send(s.topics.events, key=k, value=v) for k, v in payloads]
    p.flush()
    for f in fs:
        f.get()
    dt, cpu = time.perf_counter() - t, time.process_time() - cpu
    p.close()
    return len(payloads) / dt, 1000 * cpu / len(payloads)


def raw_sync(s: Settings, payloads: list[tuple[bytes, bytes]], threads: int) -> tuple[float, float]:
    """Sends/s and CPU ms per send (this process, every thread)."""
    p = make_producer(s, linger_ms=1)

    def one(kv: tuple[bytes, bytes]) -> None:
        p.send(s.topics.events, key=kv[0], value=kv[1]).get()

    t, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, payloads))
    dt, cpu = time.perf_counter() - t, time.process_time() - cpu
    p.close()
    return len(payloads) / dt, 1000 * cpu / len(payloads)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--no-simulator", action="store_true", help="skip step 2 (the gateway's figures only)")
    a = ap.parse_args()
    bootstrap = os.environ.get("FENGQIAO_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    s = settings_for(bootstrap)
    ensure_event_topics(s)
    evs = generate_events(1, a.events, speed=600)
    payloads = [(e.key(), e.to_json()) for e in evs]
    avg = sum(len(v) for _, v in payloads) / len(payloads)
    print(f"broker {bootstrap}, {a.events} events of {avg:.0f} B on average, 4 partitions, acks=all, idempotent")

    raw_a, raw_a_cpu = raw_async(s, payloads)
    print(f"raw kafka-python loop, async sends + flush      : {raw_a:10.0f} events/s")
    if not a.no_simulator:
        sim = run_simulator(settings_for(bootstrap), rate=1000, seed=2, speed=600, max_events=a.events, pace=False, curve=False)
        print(f"simulator straight into Kafka (gen+seal+send)   : {sim['events_per_s']:10.0f} events/s"
              f"   ratio to raw loop {sim['events_per_s'] / raw_a:.2f}")
        t = time.perf_counter()
        generate_events(2, a.events, speed=600)
        print(f"  (generate_events alone, no Kafka, no sealing  : {a.events / (time.perf_counter() - t):10.0f} events/s)")

    n = a.requests
    raw_s, raw_cpu = raw_sync(s, payloads[:n], a.threads)
    print(f"raw loop, one acked send at a time, {a.threads} threads : {raw_s:10.0f} events/s   ({raw_cpu:.2f} ms CPU per send)")

    gs = settings_for(bootstrap)
    g = GatewaySettings(api_keys={"web": "k-web", "internal": "k-int"}, rebuild_index=False,
                        rate_limit_per_second=0)  # the per-key limit is a policy, not what is measured
    port = free_port()
    proc = mp.get_context("spawn").Process(target=_serve, args=(gs, g, port), daemon=True)
    proc.start()  # its own process, as `fengqiao gateway` runs: the client threads do not share its GIL
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url)
        print(f"gateway      pid {proc.pid} at {url} (profile it with py-spy record --pid {proc.pid})")
        forms = [{"region_code": e.region_code, "category": str(e.payload.category), "topic": e.payload.topic,
                  "title": e.payload.title, "content": e.payload.content,
                  "citizen": {"phone": f"139{i:08d}", "name": "张三"}}
                 for i, e in enumerate(x for x in evs if x.event_type == "petition.received")][:n]
        client = httpx.Client(base_url=url, headers={"X-API-Key": "k-web"}, timeout=60,
                              limits=httpx.Limits(max_connections=a.threads))
        client.post("/v1/petitions", json=forms[0])  # warm up
        t, cpu = time.perf_counter(), cpu_seconds(proc.pid)
        with ThreadPoolExecutor(a.threads) as ex:
            codes = list(ex.map(lambda f: client.post("/v1/petitions", json=f).status_code, forms))
        ok = sum(c == 202 for c in codes)
        gw_single = ok / (time.perf_counter() - t)  # only what was accepted counts
        gw_cpu = 1000 * (cpu_seconds(proc.pid) - cpu) / max(ok, 1)
        print(f"gateway POST /v1/petitions, {a.threads} client threads   : {gw_single:10.0f} accepted/s"
              f"   ({ok}/{len(forms)} x 202)  vs {raw_s:.0f}/s acked raw loop: ratio {gw_single / raw_s:.2f}")
        print(f"  gateway process CPU per accepted petition     : {gw_cpu:10.2f} ms   vs {raw_cpu:.2f} ms per raw acked send:"
              f" ratio {raw_cpu / gw_cpu:.2f} (the ceiling of the ratio above on a saturated machine)")
        bodies = [b"[" + b",".join(v for _, v in payloads[i:i + 200]) + b"]" for i in range(0, len(payloads), 200)]
        ic = httpx.Client(base_url=url, headers={"X-API-Key": "k-int", "content-type": "application/json"}, timeout=60)
        t, cpu = time.perf_counter(), cpu_seconds(proc.pid)
        with ThreadPoolExecutor(4) as ex:
            codes = list(ex.map(lambda b: ic.post("/v1/events", content=b).status_code, bodies))
        ok = sum(c == 202 for c in codes)
        gw_batch = 200 * ok / (time.perf_counter() - t)
        batch_cpu = 1000 * (cpu_seconds(proc.pid) - cpu) / max(200 * ok, 1)
        print(f"gateway POST /v1/events, batches of 200 (txn)   : {gw_batch:10.0f} events/s"
              f"   ({ok}/{len(bodies)} x 202)  vs {raw_a:.0f}/s raw async loop: ratio {gw_batch / raw_a:.2f}")
        print(f"  gateway process CPU per event in a batch      : {batch_cpu:10.3f} ms   vs {raw_a_cpu:.3f} ms per raw async send")
        client.close()
        ic.close()
    finally:
        proc.terminate()
        proc.join(30)


def _serve(settings: Settings, gw: GatewaySettings, port: int) -> None:
    """The gateway under uvicorn in this (child) process."""
    import logging

    import uvicorn

    from producers.gateway.app import create_app

    logging.basicConfig(level=logging.WARNING)
    uvicorn.run(create_app(settings, gw), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _wait_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gateway did not start")

if __name__ == "__main__":
    main()
