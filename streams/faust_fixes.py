"""Where faust-streaming 0.15 loses events or stalls, and what the worker does about it.

faust has no setting for any of these. Each fix is written for the faust source it replaces or
extends (faust-streaming 0.15.2-0.15.3, pinned in pyproject.toml); `before_build` compares the
sha256 of each such method's source with the one the fix was written for and refuses to start
on any other.

1. **Changelog drain** (`ProducerBuffer._handle_pending`, replaced). faust queues each table
   write's changelog message in a buffer whose one task hands them to the producer one per
   event-loop turn, and stalls the stream whenever more than 100 are pending. A worker writes
   about two table values per event, so the buffer fell behind, commits waited for it ("Timer
   commit is overlapping", 5-17 s) and throughput halved (an agent writing three table values per
   event: 1,400 -> 1,900 events/s). The task here drains everything pending per turn (each
   hand-over is an append to aiokafka's accumulator, which bounds memory itself).
2. **Stale acks** (`Consumer.ack`, extended). A stream skips a message fetched before a rebalance
   (its `generation_id` is older than the consumer's) and acks it, and the consumer records its
   offset as processed. After the rebalance the consumer seeks back to the committed offset and
   reads those messages again, but the recorded offsets stay: once processing reaches the first
   of them, the next commit covers the whole prefetched range (up to the stream buffer, 4,096 a
   partition) before it is processed again. A worker killed then restarts past events it never
   applied: the long fault run lost ~2,000 events a partition this way (a rebalance on a broker
   SIGSTOP, then the worker SIGKILL). Here a stale message's ack records nothing.
3. **Flush before commit** (`Producer.flush`, extended). Offsets are committed after
   `producer.flush()`, but the buffer's flush returns as soon as one hand-over takes more than
   0.1 s (a partition electing its leader), with changelog messages still queued: a commit could
   cover events whose table writes no changelog holds yet, and a worker taking the partition over
   would restore without them. Here the flush waits until the buffer is empty and nothing is being
   handed over (while the buffer runs: a stopped one raises, as before).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
from typing import Any

from faust.transport.consumer import Consumer as _BaseConsumer
from faust.transport.drivers import aiokafka as _driver
from faust.transport.producer import ProducerBuffer

# sha256 of `inspect.getsource` of each method a fix replaces or relies on
KNOWN = {
    "ProducerBuffer._handle_pending": frozenset({"78d648030fd21016cc0d82ae6cc6df1cb474273195b10f133ea0ef9ac9d35f0c"}),
    "Consumer.ack": frozenset({"5fcf41cf45153475de3790dc56fec1b83335956dc8b3bf7ff6bbb2b57627f03f"}),
    "ProducerBuffer.flush_atmost": frozenset({"4966e8c5f9b42eb97abe3f93cbc9bc566a22bdea01ae5328c5a6593414820323"}),
    "Producer.flush": frozenset({"36d0cb3615f65b01010d1ec8c5b0f6180110e24c486799bc47c0d72be5152270"}),
}
_BUSY = "_fengqiao_busy"  # set on a buffer while its task hands messages to the producer


class FaustPatchError(RuntimeError):
    """The installed faust is not the one these fixes were written for."""


def source_fingerprint(fn: object) -> str:
    fun = getattr(fn, "fun", fn)  # mode's `Service.task` wraps the coroutine function in `.fun`
    return hashlib.sha256(inspect.getsource(fun).encode()).hexdigest()  # type: ignore[arg-type]


def check_patchable(original: object, known: frozenset[str] = KNOWN["ProducerBuffer._handle_pending"],
                    name: str = "ProducerBuffer._handle_pending") -> None:
    """Refuse to start when a method a fix relies on is not the one it was written for."""
    try:
        got = source_fingerprint(original)
    except (OSError, TypeError) as exc:
        got = f"unreadable ({exc})"
    if got not in known:
        import faust

        raise FaustPatchError(
            f"faust {faust.__version__}: {name} 与修补所针对的版本不同，拒绝启动 / is not the method the fix "
            f"in streams/faust_fixes.py was written for (fingerprint {got}): install faust-streaming as pinned "
            f"in pyproject.toml, or re-check the fix and add the fingerprint")


def _originals() -> dict[str, object]:
    return {"ProducerBuffer._handle_pending": getattr(ProducerBuffer, "_fengqiao_original",
                                                      ProducerBuffer._handle_pending),
            "Consumer.ack": _BaseConsumer.ack, "ProducerBuffer.flush_atmost": ProducerBuffer.flush_atmost,
            "Producer.flush": _driver.Producer.flush}


def before_build() -> None:
    """Check every fingerprint, then replace the buffer's task (once per process)."""
    for name, fn in _originals().items():
        check_patchable(fn, KNOWN[name], name)
    if getattr(ProducerBuffer, "_fengqiao_drain", False):
        return
    from mode import Service

    async def _handle_pending(self: ProducerBuffer) -> None:
        get_pending, send_pending, pending = self.pending.get, self._send_pending, self.pending
        while not self.should_stop:
            fut = await get_pending()
            setattr(self, _BUSY, True)
            try:
                await send_pending(fut)
                while not pending.empty():
                    await send_pending(pending.get_nowait())
            finally:
                setattr(self, _BUSY, False)
            self.message_sent.set()

    ProducerBuffer._fengqiao_original = ProducerBuffer._handle_pending  # type: ignore[attr-defined]
    ProducerBuffer._handle_pending = Service.task(_handle_pending)  # type: ignore[method-assign]
    ProducerBuffer.max_messages = 20000
    ProducerBuffer._fengqiao_drain = True  # type: ignore[attr-defined]


async def drain(buffer: ProducerBuffer, step: float = 0.1) -> None:
    """Wait until `buffer` holds nothing and hands nothing over (fix 3); returns at once when the
    buffer does not run (its own flush then raises, as faust's does)."""
    while (buffer.size or getattr(buffer, _BUSY, False)) and buffer.state == "running":
        buffer.message_sent.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(buffer.message_sent.wait(), timeout=step)


class Consumer(_driver.Consumer):
    def ack(self, message: Any) -> bool:
        """Fix 2: a message fetched in an earlier generation is read again after the seek that
        follows every rebalance; its skip must not count its offset as processed."""
        if message.generation_id is not None and message.generation_id != self.app.consumer_generation_id:
            message.acked = True
            return False
        return super().ack(message)


class Producer(_driver.Producer):
    async def flush(self) -> None:
        """Fix 3: what the buffer holds reaches the producer before the offsets are committed."""
        await drain(self.buffer)
        await super().flush()


class Transport(_driver.Transport):
    Consumer = Consumer
    Producer = Producer


def install(app: Any) -> None:
    """The app's consumer and producer from this module's transport (faust's own, two methods extended)."""
    app.transport = Transport(app.conf.broker_consumer, app)
    app.producer_transport = Transport(app.conf.broker_producer, app)
