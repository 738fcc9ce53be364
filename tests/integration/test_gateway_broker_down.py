"""Broker stopped mid-traffic: 503, and nothing of the refused requests lands later.

Uses a broker of its own (never stops the shared one)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from producers.gateway.config import GatewaySettings
from producers.gateway.embedded import GatewayThread, free_port
from producers.simulator import generate_events
from tests.integration._intake_helpers import fresh_settings, read_topic

pytestmark = pytest.mark.integration


def test_broker_down_gives_503_and_no_partial_write(tmp_path: Path) -> None:
    from broker.local import start, stop

    port = free_port()
    data_dir = tmp_path / "kafka"
    start(port=port, data_dir=data_dir, timeout=120)
    try:
        s = fresh_settings(f"127.0.0.1:{port}")
        g = GatewaySettings(api_keys={"internal": "k-int", "web": "k-web"}, kafka_timeout_seconds=4)
        evs = generate_events(31, 12)
        with GatewayThread(s, g) as gt:
            c = httpx.Client(base_url=gt.url, timeout=60, headers={"X-API-Key": "k-int"})
            assert c.post("/v1/events", content=evs[0].to_json(), headers={"content-type": "application/json"}).status_code == 202
            batch = "[" + ",".join(e.to_json().decode() for e in evs[1:6]) + "]"
            assert c.post("/v1/events", content=batch, headers={"content-type": "application/json"}).status_code == 202
            assert c.get("/healthz").json()["kafka"]["reachable"] is True
            stop(data_dir)
            batch2 = "[" + ",".join(e.to_json().decode() for e in evs[7:12]) + "]"
            took = []

            def timed(*args: object, **kw: object) -> httpx.Response:
                t0 = time.monotonic()
                r = c.post(*args, **kw)  # type: ignore[arg-type]
                took.append(time.monotonic() - t0)
                return r

            single = timed("/v1/events", content=evs[6].to_json(), headers={"content-type": "application/json"})
            many = timed("/v1/events", content=batch2, headers={"content-type": "application/json", "Idempotency-Key": "b2"})
            form = timed("/v1/petitions", json={"region_code": "130102", "category": "help", "topic": "教育",
                                                "title": "t", "content": "c"}, headers={"X-API-Key": "k-web"})
            elapsed = sum(took)
            assert (single.status_code, many.status_code, form.status_code) == (503, 503, 503), (single.text, many.text)
            assert max(took) < 5, took  # each refusal within 5 s (the probe sees the refused connection at once)
            assert "未写入" in single.json()["message"]
            health = c.get("/healthz")
            assert health.status_code == 503 and health.json()["kafka"]["reachable"] is False
            start(port=port, data_dir=data_dir, timeout=120)
            time.sleep(2)
            # the refused requests must not be delivered late
            landed = {e["event_id"] for e in read_topic(s, s.topics.events, committed_only=True)}
            assert landed == {str(e.event_id) for e in evs[:6]}
            # a retry with the same Idempotency-Key now succeeds (the 503 was not cached)
            ok = c.post("/v1/events", content=batch2, headers={"content-type": "application/json", "Idempotency-Key": "b2"})
            assert ok.status_code == 202, ok.text
            landed = [e["event_id"] for e in read_topic(s, s.topics.events, committed_only=True)]
            assert sorted(landed) == sorted(str(e.event_id) for e in evs[:6] + evs[7:12])
            c.close()
        print(f"503 answers took {elapsed:.1f} s for three requests")
    finally:
        stop(data_dir)
