"""Build the Faust app (nothing else here: agents, tables and views register on it).

At-least-once processing (faust's `exactly_once` has open duplicate bugs, DESIGN.md
section 5); every consumer downstream is idempotent by `event_id` / `dedup_key`.
"""

from __future__ import annotations

from pathlib import Path

import faust

from fengqiao.settings import Settings


def rocksdb_available() -> bool:
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_store(wanted: str) -> str:
    """`rocksdb://` when rocksdict is installed, else `memory://` (changelog recovery still works)."""
    if wanted.startswith("rocksdb") and not rocksdb_available():
        return "memory://"
    return wanted


def _relax_changelog_backpressure() -> None:
    """Let table changelog messages keep pace with the table writes.

    faust queues each table write's changelog message in a `ProducerBuffer` whose one task
    hands them to the producer one per event-loop turn, and stalls the stream whenever more
    than 100 are pending. A worker writes about two table values per event, so the buffer
    fell behind, commits waited for it ("Timer commit is overlapping", 5-17 s) and throughput
    halved (an agent writing three table values per event: 1,400 -> 1,900 events/s). Here the task drains everything pending per turn (each hand-over is a
    non-blocking append to aiokafka's accumulator, which bounds memory itself)."""
    from mode import Service

    from faust.transport.producer import ProducerBuffer

    if getattr(ProducerBuffer, "_fengqiao_drain", False):
        return

    async def _handle_pending(self: ProducerBuffer) -> None:
        get_pending, send_pending, pending = self.pending.get, self._send_pending, self.pending
        while not self.should_stop:
            await send_pending(await get_pending())
            while not pending.empty():
                await send_pending(pending.get_nowait())
            self.message_sent.set()

    ProducerBuffer._handle_pending = Service.task(_handle_pending)  # type: ignore[method-assign]
    ProducerBuffer.max_messages = 20000
    ProducerBuffer._fengqiao_drain = True  # type: ignore[attr-defined]


def build_app(settings: Settings, workdir: Path | None = None, web_port: int | None = None,
              store: str | None = None, replication_factor: int = 1) -> faust.App:
    s = settings.streams
    _relax_changelog_backpressure()
    datadir = workdir or (settings.data_dir / "streams" / s.app_id)
    Path(datadir).parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return faust.App(
        s.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=resolve_store(store or s.store),
        datadir=str(datadir),
        autodiscover=False,
        processing_guarantee="at_least_once",
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=replication_factor,  # of the topics faust creates (changelogs)
        topic_allow_declare=True,
        web_enabled=True,
        web_port=web_port or s.web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        broker_commit_every=10000,  # commits go by the 1 s interval (each flushes the producer)
        broker_commit_interval=1.0,
        stream_buffer_maxsize=4096,
        producer_linger=0.02,  # fewer, larger produce requests; alert p99 stays far below 1 s
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        producer_max_batch_size=256 * 1024,
        table_standby_replicas=0,
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,  # acks=all: a write counts once min.insync.replicas copies hold it
    )
