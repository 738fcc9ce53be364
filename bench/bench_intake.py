"""Intake throughput on one broker, in one run (prints figures, asserts nothing).

    FENGQIAO_KAFKA_BOOTSTRAP=127.0.0.1:19492 .venv/bin/python bench/bench_intake.py [--events 20000] [--requests 2000]

1. raw kafka-python loop (acks=all, idempotent), pre-serialised events: async sends + one flush,
   and synchronous sends (wait for each ack, like one HTTP request);
2. the simulator straight into Kafka (`run_simulator(pace=False)`: generation + PII sealing + sends);
3. the gateway (uvicorn in-process thread, real HTTP): single petitions from 8 client threads,
   and `/v1/events` batches of 200 (one Kafka transaction each).
"""

from __future__ import annotations

import argparse
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
from producers.gateway.embedded import GatewayThread  # noqa: E402
from producers.kafka_out import ensure_event_topics, make_producer  # noqa: E402
from producers.simulator import generate_events, run_simulator  # noqa: E402


def settings_for(bootstrap: str) -> Settings:
    tag = "bench" + uuid.uuid4().hex[:6]
    return Settings(kafka_bootstrap=bootstrap, topics=Topics(
        events=f"{tag}.events", alerts=f"{tag}.alerts", commands=f"{tag}.commands", stats=f"{tag}.stats",
        dlq=f"{tag}.dlq", cases=f"{tag}.cases", partitions=4))


def raw_async(s: Settings, payloads: list[tuple[bytes, bytes]]) -> float:
    p = make_producer(s)
    t = time.perf_counter()
    fs = [p.send(s.topics.events, key=k, value=v) for k, v in payloads]
    p.flush()
    for f in fs:
        f.get()
    dt = time.perf_counter() - t
    p.close()
    return len(payloads) / dt


def raw_sync(s: Settings, payloads: list[tuple[bytes, bytes]], threads: int) -> float:
    p = make_producer(s, linger_ms=1)

    def one(kv: tuple[bytes, bytes]) -> None:
        p.send(s.topics.events, key=kv[0], value=kv[1]).get()

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, payloads))
    dt = time.perf_counter() - t
    p.close()
    return len(payloads) / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=8)
    a = ap.parse_args()
    bootstrap = os.environ.get("FENGQIAO_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    s = settings_for(bootstrap)
    ensure_event_topics(s)
    evs = generate_events(1, a.events, speed=600)
    payloads = [(e.key(), e.to_json()) for e in evs]
    avg = sum(len(v) for _, v in payloads) / len(payloads)
    print(f"broker {bootstrap}, {a.events} events of {avg:.0f} B on average, 4 partitions, acks=all, idempotent")

    raw_a = raw_async(s, payloads)
    print(f"raw kafka-python loop, async sends + flush      : {raw_a:10.0f} events/s")
    sim = run_simulator(settings_for(bootstrap), rate=1000, seed=2, speed=600, max_events=a.events, pace=False, curve=False)
    print(f"simulator straight into Kafka (gen+seal+send)   : {sim['events_per_s']:10.0f} events/s"
          f"   ratio to raw loop {sim['events_per_s'] / raw_a:.2f}")
    t = time.perf_counter()
    generate_events(2, a.events, speed=600)
    print(f"  (generate_events alone, no Kafka, no sealing  : {a.events / (time.perf_counter() - t):10.0f} events/s)")

    n = a.requests
    raw_s = raw_sync(s, payloads[:n], a.threads)
    print(f"raw loop, one acked send at a time, {a.threads} threads : {raw_s:10.0f} events/s")

    gs = settings_for(bootstrap)
    g = GatewaySettings(api_keys={"web": "k-web", "internal": "k-int"}, rebuild_index=False)
    with GatewayThread(gs, g, wait_index=False) as gt:
        forms = [{"region_code": e.region_code, "category": str(e.payload.category), "topic": e.payload.topic,
                  "title": e.payload.title, "content": e.payload.content,
                  "citizen": {"phone": f"139{i:08d}", "name": "张三"}}
                 for i, e in enumerate(x for x in evs if x.event_type == "petition.received")][:n]
        client = httpx.Client(base_url=gt.url, headers={"X-API-Key": "k-web"}, timeout=60,
                              limits=httpx.Limits(max_connections=a.threads))
        client.post("/v1/petitions", json=forms[0])  # warm up
        t = time.perf_counter()
        with ThreadPoolExecutor(a.threads) as ex:
            codes = list(ex.map(lambda f: client.post("/v1/petitions", json=f).status_code, forms))
        gw_single = len(forms) / (time.perf_counter() - t)
        ok = sum(c == 202 for c in codes)
        print(f"gateway POST /v1/petitions, {a.threads} client threads   : {gw_single:10.0f} accepted/s"
              f"   ({ok}/{len(forms)} x 202)  ratio to acked raw loop {gw_single / raw_s:.2f}")
        bodies = [b"[" + b",".join(v for _, v in payloads[i:i + 200]) + b"]" for i in range(0, len(payloads), 200)]
        ic = httpx.Client(base_url=gt.url, headers={"X-API-Key": "k-int", "content-type": "application/json"}, timeout=60)
        t = time.perf_counter()
        with ThreadPoolExecutor(4) as ex:
            codes = list(ex.map(lambda b: ic.post("/v1/events", content=b).status_code, bodies))
        gw_batch = len(payloads) / (time.perf_counter() - t)
        print(f"gateway POST /v1/events, batches of 200 (txn)   : {gw_batch:10.0f} events/s"
              f"   ({sum(c == 202 for c in codes)}/{len(bodies)} x 202)  ratio to raw async loop {gw_batch / raw_a:.2f}")
        client.close()
        ic.close()


if __name__ == "__main__":
    main()
