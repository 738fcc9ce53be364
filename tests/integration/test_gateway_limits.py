"""The live gateway's limits: rate per API key (429 + Retry-After), bodies bounded before parsing,
and Kafka unreachable from the start (/healthz says so, writes answer 503 at once)."""

from __future__ import annotations

import socket
import time
from typing import Iterator

import httpx
import pytest

from producers.gateway.config import GatewaySettings
from producers.gateway.embedded import GatewayThread
from producers.simulator import generate_events
from tests.integration._intake_helpers import CaseViewStub, fresh_settings

pytestmark = pytest.mark.integration
KEYS = {"internal": "k-int", "web": "k-web"}
FORM = {"region_code": "130102", "category": "help", "topic": "教育", "title": "t", "content": "c"}


@pytest.fixture(scope="module")
def dead_port() -> Iterator[int]:
    """A port bound but never listening: every connection is refused, like a stopped broker."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_rate_limit_per_key_with_retry_after(kafka_bootstrap: str) -> None:
    with CaseViewStub() as view:
        g = GatewaySettings(api_keys=KEYS, streams_url=view.url, rate_limit_per_second=0.5, rate_limit_burst=3)
        with GatewayThread(fresh_settings(kafka_bootstrap), g) as gt, httpx.Client(base_url=gt.url, timeout=30) as c:
            answers = [c.post("/v1/petitions", json=FORM, headers={"X-API-Key": "k-web"}) for _ in range(4)]
            assert [a.status_code for a in answers] == [202, 202, 202, 429], [a.text for a in answers]
            limited = answers[-1]
            assert int(limited.headers["Retry-After"]) >= 1
            assert "rate" in limited.json()["message"] and "频率" in limited.json()["message"]
            # another key is not slowed down by this one
            assert c.post("/v1/petitions", json=FORM, headers={"X-API-Key": "k-int"}).status_code == 202
            # the body limit answers before the key or the rate is looked at
            big = c.post("/v1/events", content=b"[" * (g.max_body_bytes + 1), headers={"X-API-Key": "k-web"})
            assert big.status_code == 413 and "字节" in big.json()["message"]


def test_kafka_down_from_the_start_health_says_so_and_writes_answer_503_fast(dead_port: int) -> None:
    s = fresh_settings(f"127.0.0.1:{dead_port}")
    g = GatewaySettings(api_keys=KEYS, kafka_timeout_seconds=2, rebuild_index=False)
    with GatewayThread(s, g, wait_index=False) as gt, httpx.Client(base_url=gt.url, timeout=30) as c:
        h = c.get("/healthz")
        assert h.status_code == 503 and h.json()["ok"] is False and h.json()["kafka"]["reachable"] is False
        ev = generate_events(5, 3)
        for body in (ev[0].to_json(), b"[" + b",".join(e.to_json() for e in ev) + b"]"):
            t0 = time.monotonic()
            r = c.post("/v1/events", content=body, headers={"X-API-Key": "k-int", "content-type": "application/json"})
            assert r.status_code == 503 and time.monotonic() - t0 < 5, (r.status_code, time.monotonic() - t0)
            assert "未写入" in r.json()["message"] and "nothing was written" in r.json()["message"]
        t0 = time.monotonic()
        r = c.post("/open311/v2/requests.json", data={"api_key": "k-int", "service_code": "help", "description": "x",
                                                      "attribute[topic]": "教育", "address_string": "正定县"})
        assert r.status_code == 503 and time.monotonic() - t0 < 5 and r.json()[0]["code"] == 503
        # bad input is still told apart from an outage
        assert c.post("/v1/petitions", json={**FORM, "region_code": "999999"},
                      headers={"X-API-Key": "k-web"}).status_code == 422
