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


# The patch below replaces faust's `ProducerBuffer._handle_pending`; it was written for this
# body (faust-streaming 0.15.2-0.15.3, pinned in pyproject.toml). Its fingerprint: sha256 of the
# dedented source. A faust whose method differs must be re-checked before the patch may run.
PATCHED_SOURCE_SHA256 = frozenset({"78d648030fd21016cc0d82ae6cc6df1cb474273195b10f133ea0ef9ac9d35f0c"})


class FaustPatchError(RuntimeError):
    """The installed faust is not the one the changelog-drain patch was written for."""


def source_fingerprint(fn: object) -> str:
    import hashlib
    import inspect

    fun = getattr(fn, "fun", fn)  # mode's `Service.task` wraps the coroutine function in `.fun`
    return hashlib.sha256(inspect.getsource(fun).encode()).hexdigest()  # type: ignore[arg-type]


def check_patchable(original: object, known: frozenset[str] = PATCHED_SOURCE_SHA256) -> None:
    """Refuse to start when the method to replace is not the one the patch was written for."""
    try:
        got = source_fingerprint(original)
    except (OSError, TypeError) as exc:
        got = f"unreadable ({exc})"
    if got not in known:
        import faust

        raise FaustPatchError(
            f"faust {faust.__version__}: ProducerBuffer._handle_pending 与补丁所针对的版本不同，拒绝启动 / "
            f"is not the method the changelog-drain patch in streams/app.py was written for (fingerprint {got}): "
            f"install faust-streaming as pinned in pyproject.toml, or re-check the patch and add the fingerprint")


def _relax_changelog_backpressure() -> None:
    """Let table changelog messages keep pace with the table writes.

    faust queues each table write's changelog message in a `ProducerBuffer` whose one task
    hands them to the producer one per event-loop turn, and stalls the stream whenever more
    than 100 are pending. A worker writes about two table values per event, so the buffer
    fell behind, commits waited for it ("Timer commit is overlapping", 5-17 s) and throughput
    halved (an agent writing three table values per event: 1,400 -> 1,900 events/s). Here the
    task drains everything pending per turn (each hand-over is a non-blocking append to
    aiokafka's accumulator, which bounds memory itself). faust has no setting for this, so the
    patch is guarded: `check_patchable` refuses a faust whose method changed."""
    from mode import Service

    from faust.transport.producer import ProducerBuffer

    if getattr(ProducerBuffer, "_fengqiao_drain", False):
        return
    check_patchable(ProducerBuffer._handle_pending)

    async def _handle_pending(self: ProducerBuffer) -> None:
        get_pending, send_pending, pending = self.pending.get, self._send_pending, self.pending
        while not self.should_stop:
            await send_pending(await get_pending())
            while not pending.empty():
                await send_pending(pending.get_nowait())
            self.message_sent.set()

    ProducerBuffer._fengqiao_original = ProducerBuffer._handle_pending  # type: ignore[attr-defined]
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
