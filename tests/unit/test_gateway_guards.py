"""The gateway's guards: token bucket per key, Retry-After, content types, the broker probe."""

from __future__ import annotations

import socket

import pytest

from producers.gateway.guards import BrokerHealth, RateLimiter, is_json_type, retry_after

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_allows_the_burst_then_the_rate_per_key() -> None:
    clock = Clock()
    rl = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [rl.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.take("a")
    assert wait == pytest.approx(0.5) and retry_after(wait) == "1"
    assert rl.take("b") == 0.0  # another key has its own bucket
    clock.t += 0.5
    assert rl.take("a") == 0.0 and rl.take("a") > 0
    clock.t += 100
    assert [rl.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # refilled up to the burst, not beyond
    assert rl.take("a") > 0


def test_rate_zero_means_no_limit() -> None:
    rl = RateLimiter(rate=0, burst=1)
    assert all(rl.take("k") == 0 for _ in range(1000))


@pytest.mark.parametrize(("ctype", "ok"), [(None, True), ("", True), ("application/json", True),
                                           ("application/json; charset=utf-8", True), ("application/problem+json", True),
                                           ("text/plain", False), ("application/x-ndjson", False), ("text/csv", False)])
def test_json_content_types(ctype: str | None, ok: bool) -> None:
    assert is_json_type(ctype) is ok


def test_broker_probe_says_unreachable_for_a_closed_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        h = BrokerHealth(f"127.0.0.1:{port}", timeout=0.5)
        assert h.probe() is False and h.as_dict()["reachable"] is False
