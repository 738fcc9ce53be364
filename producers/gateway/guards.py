"""What stands between a hostile client and the gateway's code.

* `BodyLimit`: 413 before more than `max_body_bytes` of a body is read.
* `is_json_type`: which content types a JSON endpoint takes (else 415).
* `RateLimiter`: a token bucket per API key (429 + Retry-After).
* `BrokerHealth`: a background probe of the Kafka bootstrap servers, so
  `/healthz` can report it and a write is refused at once (503, nothing
  written) while the broker does not answer, instead of waiting for timeouts.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable


def is_json_type(content_type: str | None) -> bool:
    """No content type, application/json or any `+json` type."""
    if not content_type:
        return True
    mt = content_type.split(";", 1)[0].strip().lower()
    return mt == "application/json" or mt.endswith("+json")


class BodyLimit:
    """Pure ASGI middleware: 413 before reading more than `limit` bytes of a body."""

    def __init__(self, app: Any, limit: int, reject: Callable[[int, str], tuple[int, bytes]]) -> None:
        self.app, self.limit, self.reject = app, limit, reject

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit:
            return await self._reject(scope, send)
        chunks, size, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await self._reject(scope, send)
            chunks.append(chunk)
            more = msg.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: dict, send: Callable) -> None:
        status, data = self.reject(self.limit, scope.get("path", ""))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})


class RateLimiter:
    """Token bucket per key: `rate` requests per second on average, bursts of `burst`."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds until a token is back."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    """A Retry-After header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))


class BrokerHealth:
    """Whether any bootstrap server answers a Kafka Metadata request, probed every `interval` s."""

    def __init__(self, bootstrap: str, interval: float = 1.0, timeout: float = 1.0) -> None:
        from broker.wire import parse_bootstrap

        self.servers = parse_bootstrap(bootstrap)
        self.interval, self.timeout = interval, timeout
        self.reachable = False
        self.checked_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first = threading.Event()
        self._probing = threading.Lock()

    def probe(self) -> bool:
        from broker.wire import metadata_brokers

        ok = any(metadata_brokers(h, p, timeout=self.timeout) for h, p in self.servers)
        self.reachable, self.checked_at = ok, time.monotonic()
        self._first.set()
        return ok

    def reachable_now(self, max_age: float = 0.25) -> bool:
        """The last answer if younger than `max_age` seconds, else a fresh probe (a refused
        connection answers at once, so a stopped broker is seen before any write is tried)."""
        if time.monotonic() - self.checked_at > max_age and self._probing.acquire(blocking=False):
            try:  # one request probes; the others meanwhile take the last answer
                return self.probe()
            finally:
                self._probing.release()
        return self.reachable

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gateway-broker-health", daemon=True)
        self._thread.start()
        self._first.wait(self.timeout * max(1, len(self.servers)) + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.probe()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

    def as_dict(self) -> dict[str, Any]:
        age = time.monotonic() - self.checked_at if self.checked_at else None
        return {"reachable": self.reachable, "checked_seconds_ago": round(age, 1) if age is not None else None}
