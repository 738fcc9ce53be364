"""kafka-python producers for contract events: acks=all, idempotent, key = case_id.

`produce_events` waits for every acknowledgement and raises on the first failed
send, so a caller that gets a count back knows every event is on the broker.
`TransactionalBatcher` writes a batch all-or-nothing (the gateway's batches).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from fengqiao.contract import Envelope
from fengqiao.settings import Settings

log = logging.getLogger("fengqiao.producers")
T = TypeVar("T")


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "client_id": "fengqiao-producers",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 64 * 1024,
        "max_in_flight_requests_per_connection": 5,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
        "max_block_ms": 10_000,
    }
    cfg.update(overrides)
    return cfg


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer for `petitions.events` and friends (bytes in, bytes out)."""
    return KafkaProducer(**producer_config(settings, **overrides))


def ensure_event_topics(settings: Settings, timeout: float = 30.0) -> None:
    """Create the project's topics if missing (idempotent; the one creator in broker.topics)."""
    from broker.topics import ensure_project_topics

    ensure_project_topics(settings, timeout=timeout)


def produce_events(
    settings: Settings,
    events: Iterable[Envelope],
    producer: KafkaProducer | None = None,
    topic: str | None = None,
    timeout: float = 60.0,
) -> int:
    """Send events (key = case_id) and wait until all are acknowledged; return the count.

    Raises the first delivery error (e.g. `KafkaTimeoutError`) after flushing.
    """
    own = producer is None
    p = producer or make_producer(settings)
    topic = topic or settings.topics.events
    futures = []
    try:
        for ev in events:
            futures.append(p.send(topic, key=ev.key(), value=ev.to_json()))
        p.flush(timeout=timeout)
        for f in futures:
            f.get(timeout=timeout)
        return len(futures)
    finally:
        if own:
            p.close(timeout=5)


def until_broker(what: str, attempt: Callable[[], T], stop: threading.Event, cap: float = 10.0) -> T | None:
    """`attempt()` again and again (1, 2, 4 … `cap` s apart) while the broker is unreachable, so a
    producer waits out an outage instead of dying; None if `stop` was set first."""
    delay = 1.0
    while not stop.is_set():
        try:
            return attempt()
        except (KafkaError, TimeoutError) as exc:
            log.warning("broker unavailable (%s), retrying / 消息队列不可用，重试中: %s", what, type(exc).__name__)
        stop.wait(delay)
        delay = min(delay * 2, cap)
    return None


class RetryingSender:
    """Sends (key, value) records to one topic and keeps each until the broker acknowledged it:
    records of a failed send are sent again after the outage (at least once; the worker and the
    sink drop repeats by event id)."""

    def __init__(self, producer: KafkaProducer, topic: str, stop: threading.Event) -> None:
        self.p, self.topic, self.stop = producer, topic, stop
        self._pending: list[tuple[bytes | None, bytes, Any]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: bytes | None, value: bytes) -> None:
        try:
            fut = self.p.send(self.topic, key=key, value=value)
        except KafkaError:  # no metadata within max_block_ms: kept, sent again at the next flush
            fut = None
        self._pending.append((key, value, fut))

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every record is acknowledged, riding out an outage; False if stopped first."""
        def attempt() -> bool:
            self.p.flush(timeout=timeout)
            failed = []
            for key, value, fut in self._pending:
                try:
                    if fut is None:
                        raise KafkaTimeoutError("not sent")
                    fut.get(timeout=timeout)
                except KafkaError:
                    failed.append((key, value))
            self._pending.clear()
            for key, value in failed:
                self.add(key, value)
            if failed:
                raise KafkaTimeoutError(f"{len(failed)} records not acknowledged")
            return True

        return bool(until_broker(f"send to {self.topic}", attempt, self.stop))


class TransactionalBatcher:
    """All-or-nothing writes of small batches with a Kafka transaction.

    One transactional producer, used by one thread at a time (a lock): a batch
    is either committed completely or aborted, so read_committed consumers
    never see half of it. After a fatal error the producer is rebuilt.
    """

    def __init__(self, settings: Settings, prefix: str = "fengqiao-gateway") -> None:
        self.settings = settings
        self.prefix = prefix
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None

    def _get(self) -> KafkaProducer:
        if self._producer is None:
            p = make_producer(self.settings, transactional_id=f"{self.prefix}-{uuid.uuid4().hex[:12]}",
                              transaction_timeout_ms=30_000, max_block_ms=5_000,
                              request_timeout_ms=5_000, delivery_timeout_ms=10_000)
            p.init_transactions()
            self._producer = p
        return self._producer

    def send_all(self, records: list[tuple[str, bytes | None, bytes]], timeout: float = 10.0) -> None:
        """Write (topic, key, value) records in one transaction; raise if not committed."""
        with self._lock:
            try:
                p = self._get()
                p.begin_transaction()
                futures = [p.send(t, key=k, value=v) for t, k, v in records]
                p.flush(timeout=timeout)
                for f in futures:
                    f.get(timeout=timeout)
                _end_transaction(p, commit=True, timeout=timeout)
            except Exception:
                self._discard()
                raise

    def _discard(self) -> None:
        p, self._producer = self._producer, None
        if p is None:
            return
        try:
            _end_transaction(p, commit=False, timeout=1.0)
        except Exception:
            pass
        try:
            p.close(timeout=0)  # drop whatever is still queued: a refused batch must not land later
        except Exception:
            pass

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                try:
                    self._producer.close(timeout=5)
                finally:
                    self._producer = None


def _end_transaction(p: KafkaProducer, commit: bool, timeout: float) -> None:
    """commit/abort with a timeout.

    kafka-python 3.0's `commit_transaction()`/`abort_transaction()` wait without
    a timeout, i.e. forever while the broker is down; this does the same steps
    (its transaction manager's `begin_commit`/`begin_abort`) but bounded.
    """
    tm = p._transaction_manager  # noqa: SLF001 - see docstring
    result = tm.begin_commit() if commit else tm.begin_abort()
    p._sender.wakeup()  # noqa: SLF001
    if not result.wait(timeout_ms=int(timeout * 1000)):
        from kafka.errors import KafkaTimeoutError

        raise KafkaTimeoutError(f"transaction {'commit' if commit else 'abort'} not acknowledged within {timeout} s")
