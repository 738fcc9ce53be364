"""The loads of the fault suite (tests/integration/fault_harness.py): each keeps a ledger of the
events the system acknowledged, for `Rig.verify` to check against ClickHouse.

`Load` sends straight to Kafka (acks=all, idempotent); `GatewayLoad` posts through the HTTP
gateway in batches, as a client that posts a batch again until it gets a 202.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from fengqiao.contract import Envelope
from fengqiao.vocab import TZ


class Load(threading.Thread):
    """Sends `events` at `rate`/s (acks=all, idempotent: order kept per partition through
    retries); `acked` is the ledger, event_id -> the event, in acknowledgement order."""

    def __init__(self, bootstrap: str, topic: str, events: list[Envelope], rate: float,
                 offsets: list[float] | None = None) -> None:
        """`offsets`: seconds after the start at which each event goes (else `i / rate`)."""
        super().__init__(name="load", daemon=True)
        self.bootstrap, self.topic, self.events, self.rate = bootstrap, topic, events, rate
        self.offsets = offsets
        self.acked: dict[str, Envelope] = {}
        self.acked_at: dict[str, datetime] = {}  # when the acknowledgement came (the worker can't apply it before)
        self.failed: list[str] = []
        self.sent = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def _ok(self, ev: Envelope, _meta: Any) -> None:
        with self._lock:
            self.acked[str(ev.event_id)] = ev
            self.acked_at[str(ev.event_id)] = datetime.now(TZ)

    def _fail(self, ev: Envelope, exc: BaseException) -> None:
        with self._lock:
            self.failed.append(f"{ev.event_id}: {exc!r}")

    def run(self) -> None:
        from kafka import KafkaProducer

        p = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                          request_timeout_ms=30000, delivery_timeout_ms=180000, max_block_ms=180000)
        t0 = time.monotonic()
        try:
            for i, ev in enumerate(self.events):
                if self.stop.is_set():
                    break
                ahead = t0 + (self.offsets[i] if self.offsets else i / self.rate) - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                fut = p.send(self.topic, key=ev.key(), value=ev.to_json())
                fut.add_callback(self._ok, ev).add_errback(self._fail, ev)
                self.sent += 1
            p.flush(timeout=180)
        finally:
            p.close(timeout=10)

    def pending(self) -> int:
        return self.sent - len(self.acked) - len(self.failed)


class GatewayLoad(threading.Thread):
    """Posts `events` to a gateway's `POST /v1/events` in batches of `batch`, at `rate` events/s,
    one batch at a time, as a careful client would: a batch without a 202 (connection refused or
    cut, timeout, 503) is posted again, same events, until one comes. `acked` is the ledger of
    every event a 202 acknowledged; `derived`: merge events the gateway added (its own ids);
    `in_flight` is set while a POST is under way (the fault stops the gateway then: mid-batch)."""

    def __init__(self, url: str, key: str, events: list[Envelope], rate: float, batch: int = 200) -> None:
        super().__init__(name="gateway-load", daemon=True)
        self.url, self.key, self.events, self.rate, self.batch = url.rstrip("/") + "/v1/events", key, events, rate, batch
        self.acked: dict[str, Envelope] = {}
        self.acked_at: dict[str, datetime] = {}
        self.derived: set[str] = set()
        self.failed: list[str] = []  # never acknowledged: given up after `give_up_s`
        self.sent = 0
        self.posts_ok = self.posts_failed = 0
        self.in_flight = threading.Event()
        self.stop = threading.Event()
        self.give_up_s = 240.0

    def run(self) -> None:
        import httpx

        from producers.gateway.adapters import event_id_for

        t0 = time.monotonic()
        with httpx.Client(timeout=10, headers={"X-API-Key": self.key, "Content-Type": "application/json"}) as c:
            for i in range(0, len(self.events), self.batch):
                if self.stop.is_set():
                    break
                chunk = self.events[i:i + self.batch]
                ahead = t0 + i / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                body, first = b"[" + b",".join(e.to_json() for e in chunk) + b"]", time.monotonic()
                self.sent = i + len(chunk)
                while True:
                    self.in_flight.set()
                    try:
                        r = c.post(self.url, content=body)
                    except httpx.HTTPError:
                        r = None
                    finally:
                        self.in_flight.clear()
                    if r is not None and r.status_code == 202:
                        self.posts_ok += 1
                        byid, at = {str(e.event_id): e for e in chunk}, datetime.now(TZ)
                        for a in r.json()["events"]:
                            self.acked[a["event_id"]] = byid[a["event_id"]]
                            self.acked_at[a["event_id"]] = at
                            if a.get("merged_into"):
                                self.derived.add(str(event_id_for(a["case_id"], f"merged:{a['event_id']}")))
                        break
                    self.posts_failed += 1
                    if time.monotonic() - first > self.give_up_s or self.stop.is_set():
                        self.failed.extend(str(e.event_id) for e in chunk)
                        break
                    time.sleep(0.5)
