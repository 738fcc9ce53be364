"""The gateway's audit trail of refused requests (`petitions.audit`, see `authz.AccessAudit`).

Records are written by one background thread: a 403 never waits for Kafka, and a
broker that is down costs a logged error, never the answer. Bounded: when the
queue is full a record is dropped with an error in the log.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from producers.gateway.authz import AccessAudit

log = logging.getLogger("fengqiao.gateway")


class AuditTrail:
    """`put(record)` from any thread; `write(raw)` sends one record and raises on failure."""

    def __init__(self, write: Callable[[bytes], None], size: int = 10_000) -> None:
        self._write = write
        self._q: queue.Queue[AccessAudit | None] = queue.Queue(maxsize=size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, record: AccessAudit) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gateway-audit", daemon=True)
                self._thread.start()
        try:
            self._q.put_nowait(record)
        except queue.Full:
            log.error("audit queue full: a 403 record was dropped")

    def _run(self) -> None:
        while (record := self._q.get()) is not None:
            try:
                self._write(record.to_json())
            except Exception as exc:
                log.error("audit record not written: %s", type(exc).__name__)

    def close(self) -> None:
        if self._thread is not None:
            try:
                self._q.put(None, timeout=5)
            except queue.Full:
                log.error("audit queue still full at shutdown: %d records not written", self._q.qsize())
            self._thread.join(timeout=5)
