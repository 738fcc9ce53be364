"""The sink's consume loop: Kafka topics → `BatchingSink` → ClickHouse.

`run_sink` blocks until `stop` is set and is meant for a background thread of the
process that owns the store (the wall, in embedded mode). `run_sink_forever` is
`fengqiao sink`: the same loop in the foreground with SIGTERM/SIGINT handling,
for server mode or when no wall runs.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime
from functools import partial
from typing import Any, Sequence
from pathlib import Path

from fengqiao import logs
from fengqiao.process import TRIM
from fengqiao.records import DeadLetter
from fengqiao.settings import Settings, reveal
from fengqiao.signing import header_value, verify
from fengqiao.vocab import TZ as SHANGHAI
from sinks.batching import TP, BatchingSink, SinkStopped
from sinks.metrics import SINK, serve_metrics, timed_insert
from sinks.health import HEARTBEAT_SECONDS, SinkHealth, state_path, write_state
from sinks.rows import MAPPERS
from sinks.schema import cleanup_open_cases, migrate
from sinks.store import get_client, is_transient, store_lock

log = logging.getLogger("fengqiao.sink")
SUMMARY_SECONDS = 10.0
DLQ_ACK_SECONDS = 30.0
GC_THRESHOLDS = (50_000, 20, 100)  # `fengqiao sink`: fewer cyclic GC passes over millions of short-lived rows
CLEANUP_SECONDS = 60.0  # how often closed cases are dropped from `open_cases`


class _Rejoin:
    """A fresh sink that got no partition `after` seconds after subscribing joins its group again
    (at most `tries` times). A group leader that assigns before its metadata has every topic hands
    out nothing (kafka-python's range assignor), and the rebalance that follows was seen to leave
    a fresh sink with no partition for minutes: the wall then showed nothing."""

    def __init__(self, subscribe: Any, after: float = 20.0, tries: int = 3) -> None:
        self._subscribe, self.after, self.tries = subscribe, after, tries
        self.assigned, self.since = False, time.monotonic()

    def subscribe(self) -> None:
        self._subscribe()
        self.since = time.monotonic()

    def check(self, consumer: Any) -> None:
        if self.assigned or self.tries <= 0 or time.monotonic() - self.since < self.after or consumer.assignment():
            return
        self.tries -= 1
        log.warning("sink: no partition %.0f s after joining the group; joining again", self.after)
        consumer.unsubscribe()
        self.subscribe()


def topic_kinds(settings: Settings) -> dict[str, str]:
    """Topic name → mapper kind (see `sinks.rows.MAPPERS`)."""
    t = settings.topics
    return {t.events: "events", t.cases: "cases", t.alerts: "alerts", t.stats: "stats", t.commands: "commands",
            t.repeats: "repeats"}


def ensure_topics(settings: Settings) -> None:
    """Create missing topics with their configs (the one creator); harmless when they exist."""
    from broker.topics import ensure_project_topics

    ensure_project_topics(settings)


class _ChInsert:
    """Column-oriented insert into `database.table`, serialised with the wall's queries."""

    def __init__(self, client: Any, database: str, tokens: bool) -> None:
        self.client = client
        self.database = database
        self.tokens = tokens

    def __call__(self, table: str, columns: Sequence[str], data: list[Sequence[Any]], token: str | None) -> None:
        settings = {"insert_deduplication_token": token} if (token and self.tokens) else None
        with store_lock(), timed_insert(table, len(data[0]) if data else 0):
            self.client.insert(
                f"{self.database}.{table}", data, column_names=list(columns),
                column_oriented=True, settings=settings,
            )


class _OpenCasesCleanup:
    """Every `CLEANUP_SECONDS`, after snapshots were inserted: drop closed cases from `open_cases`.

    A failure is logged and retried next time: the wall stays correct (FINAL hides
    deleted rows), only slower.
    """

    def __init__(self, client: Any, database: str, sink: BatchingSink, cluster: str | None = None) -> None:
        self.client, self.database, self.sink, self.cluster = client, database, sink, cluster
        self.last = time.monotonic()
        self.rows = 0

    def __call__(self) -> None:
        rows = self.sink.stats.by_table.get("open_cases", 0)
        if rows == self.rows or time.monotonic() - self.last < CLEANUP_SECONDS:
            return
        self.last, self.rows = time.monotonic(), rows
        try:
            with store_lock():
                cleanup_open_cases(self.client, self.database, self.cluster)
        except Exception as exc:  # noqa: BLE001 - housekeeping must not stop the sink
            log.warning("open_cases cleanup failed (will retry): %s", exc)


class _DeadLetters:
    """A kafka-python producer (acks=all) created on the first dead letter."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: Any = None

    def __call__(self, letters: list[DeadLetter]) -> None:
        if self.producer is None:
            from kafka import KafkaProducer

            self.producer = KafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap, acks="all", client_id="fengqiao-sink-dlq"
            )
        futures = [self.producer.send(self.settings.topics.dlq, value=d.to_json()) for d in letters]
        self.producer.flush(timeout=DLQ_ACK_SECONDS)
        for f in futures:
            f.get(timeout=DLQ_ACK_SECONDS)  # raises if the broker did not ack: the flush is retried

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=5)


class _HealthFile:
    """Writes the sink's state for the wall: at once when it changes, else as a heartbeat."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: tuple[Any, ...] = ()
        self.at = 0.0

    def __call__(self, health: SinkHealth, force: bool = False) -> None:
        state = (health.running, health.failing_since, health.attempts, health.poison_rows)
        now = time.monotonic()
        if not force and state == self.written and now - self.at < HEARTBEAT_SECONDS:
            return
        health.updated_at = time.time()
        try:
            write_state(self.path, health)
        except OSError as exc:  # the wall then says "not reporting": never stop the sink for it
            log.warning("could not write the sink state file %s: %s", self.path, exc)
        self.written, self.at = state, now


class _Commit:
    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    def __call__(self, offsets: dict[TP, int]) -> None:
        from kafka import TopicPartition
        from kafka.errors import CommitFailedError
        from kafka.structs import OffsetAndMetadata

        assigned = self.consumer.assignment()
        mine = {
            TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(off, "", -1)
            for tp, off in offsets.items()
            if TopicPartition(tp.topic, tp.partition) in assigned
        }
        if not mine:
            return
        try:
            self.consumer.commit(mine)
        except CommitFailedError as exc:
            # the group rebalanced away from us: the rows are in ClickHouse, the new owner
            # re-reads from the last commit and ReplacingMergeTree collapses the repeats
            log.warning("commit rejected after a rebalance (rows will be re-read, not lost): %s", exc)


def _make_consumer(settings: Settings) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.sink.group_id,
        client_id="fengqiao-sink",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",  # the gateway writes batches in transactions
        max_poll_records=max(500, min(settings.sink.batch_rows, 20_000)),
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        max_poll_interval_ms=600_000,  # store retries may hold the loop; the group must wait
        session_timeout_ms=10_000,  # a killed sink's partitions move on after 10 s, not 45
        heartbeat_interval_ms=3_000,
    )


def _open_store(settings: Settings, stop: threading.Event, health: SinkHealth, report: _HealthFile) -> Any:
    """The client, with the schema migrated; a store that is down is retried with backoff
    (the wall says stale meanwhile). None if stop was requested first."""
    delay = 0.5
    while True:
        try:
            client = get_client(settings)
            with store_lock():
                migrate(client, settings.clickhouse_database, settings.clickhouse.cluster)
            health.succeeded(time.time(), inserted=False)
            report(health, force=True)
            return client
        except Exception as exc:  # noqa: BLE001 - any failure to reach the store is retried
            health.failed("open the store", f"{type(exc).__name__}: {exc}", time.time())
            report(health)
            log.warning("store unavailable, retrying in %.1fs: %s", delay, exc)
            if stop.wait(delay):
                health.running = False
                report(health, force=True)
                return None
            delay = min(delay * 2, 10.0)


def run_sink(settings: Settings, stop: threading.Event, ready: threading.Event | None = None) -> None:
    """Consume events, cases, alerts, stats and commands into ClickHouse until `stop` is set.

    Migrates the schema and creates missing topics first. `ready` is set once the
    consumer has its first partition assignment. On stop, every buffer is
    flushed and committed (unless the store stays unreachable: then nothing
    past the last inserted row is committed).
    """
    from kafka import ConsumerRebalanceListener

    health = SinkHealth()
    health_file = _HealthFile(state_path(settings.data_dir))
    client = _open_store(settings, stop, health, health_file)
    if client is None:
        return
    ensure_topics(settings)

    kinds = topic_kinds(settings)
    consumer = _make_consumer(settings)
    dead = _DeadLetters(settings)
    sink = BatchingSink(
        insert=_ChInsert(client, settings.clickhouse_database, tokens=True),
        commit=_Commit(consumer),
        send_dead=dead,
        batch_rows=settings.sink.batch_rows,
        batch_seconds=settings.sink.batch_seconds,
        recent_keys=settings.sink.recent_keys,
        stop=stop,
        pii_key=reveal(settings.pii_key),
        is_transient=is_transient,
        health=health,
        on_health=health_file,
    )

    cleanup = _OpenCasesCleanup(client, settings.clickhouse_database, sink, settings.clickhouse.cluster)
    SINK.watch(sink.stats)

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked: Any) -> None:
            tps = [TP(tp.topic, tp.partition) for tp in revoked]
            try:
                sink.flush(tps)  # commit what we hold while we still own it
            except SinkStopped:
                sink.discard(tps)

        def on_partitions_assigned(self, assigned: Any) -> None:
            if assigned:
                rejoin.assigned = True
                log.info("sink assigned %d partitions", len(assigned))
                if ready is not None:
                    ready.set()

    rejoin = _Rejoin(lambda: consumer.subscribe(topics=sorted(kinds), listener=Listener()))
    rejoin.subscribe()
    mappers = {name: MAPPERS[kind] for name, kind in kinds.items()}
    mappers[settings.topics.events] = partial(MAPPERS["events"], pii_key=reveal(settings.pii_key))
    commands_topic, command_key = settings.topics.commands, reveal(settings.command_key)
    log.info("sink consuming %s into %s (group %s)", ", ".join(sorted(kinds)),
             settings.clickhouse_database, settings.sink.group_id)

    last_summary = time.monotonic()
    last_rows = 0
    try:
        while not stop.is_set():
            wait_ms = int(min(sink.seconds_until_due(), 0.5) * 1000)
            batch = consumer.poll(timeout_ms=max(wait_ms, 10))
            if batch:
                now = datetime.now(SHANGHAI)
                for ktp, records in batch.items():
                    mapper = mappers[ktp.topic]
                    tp = TP(ktp.topic, ktp.partition)
                    for r in records:
                        try:  # the audit table keeps only commands the console signed
                            forged = ktp.topic == commands_topic and verify(command_key, r.value, header_value(r.headers))
                            mapped = forged or mapper(r.value, r.partition, r.offset, now)
                        except Exception as exc:  # noqa: BLE001 - a poison record must not stop the sink
                            log.exception("could not map %s[%d]@%d", tp.topic, tp.partition, r.offset)
                            mapped = f"(sink): could not map this record: {type(exc).__name__} / 无法处理此消息"
                        sink.add(tp, r.offset, mapped, r.value, now)
                    if records:
                        SINK.consumed(tp.topic, tp.partition, records[-1].offset)
            sink.flush_due()
            rejoin.check(consumer)
            SINK.sample(consumer)
            SINK.sample_store(client, store_lock())
            TRIM.maybe()  # in the wall's process too, where the embedded sink runs
            health_file(sink.health)
            cleanup()
            t = time.monotonic()
            if t - last_summary >= SUMMARY_SECONDS and (sink.stats.rows != last_rows or t - last_summary >= 60):
                s = sink.stats
                rate = (s.rows - last_rows) / (t - last_summary)
                log.info("sink: %.0f rows/s, %d rows, %d messages, %d duplicates skipped, %d dead letters, %d flushes",
                         rate, s.rows, s.messages, s.duplicates, s.dead_letters, s.flushes)
                last_summary, last_rows = t, s.rows
        sink.flush()
    except SinkStopped as exc:
        log.error("sink stopped with unflushed rows (not committed, will be re-read): %s", exc)
    finally:
        try:
            consumer.close(autocommit=False)
        finally:
            dead.close()
            sink.health.running = False
            health_file(sink.health, force=True)
        s = sink.stats
        log.info("sink stopped: %d rows, %d messages, %d duplicates skipped, %d dead letters",
                 s.rows, s.messages, s.duplicates, s.dead_letters)


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        level = os.environ.get("FENGQIAO_LOG_LEVEL", "INFO").upper()
        logging.basicConfig(level=getattr(logging, level, logging.INFO),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        for noisy in ("kafka", "clickhouse_connect"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # "no partition metadata" while a just-created topic propagates: harmless, and loud
        logging.getLogger("kafka.coordinator.assignors").setLevel(logging.ERROR)
    logs.install()  # an outage of the broker or the store: logged once, then at a bounded rate


def run_sink_forever(settings: Settings) -> None:
    """`fengqiao sink`: run until SIGTERM/SIGINT, then flush, commit and exit cleanly."""
    _configure_logging()
    if settings.embedded_store:
        print(
            f"warning: embedded ClickHouse (chDB) at {settings.effective_clickhouse_url}: no other process (the wall, "
            f"another sink) may open this path while the sink runs / 嵌入式存储：此路径只允许一个进程打开",
            file=sys.stderr, flush=True,
        )
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("sink: signal %d, flushing and stopping", signum)
        stop.set()

    # This process only runs the sink: a pipeline that allocates millions of short-lived
    # rows spends a noticeable share of its time in the cyclic GC at default thresholds.
    gc.set_threshold(*GC_THRESHOLDS)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ready = threading.Event()
    serve_metrics(settings.sink.metrics_port)
    run_sink(settings, stop, ready)
