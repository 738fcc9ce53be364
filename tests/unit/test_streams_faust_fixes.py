"""The worker's fixes to faust (streams/faust_fixes.py), each against faust's own behaviour."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from fengqiao.settings import Settings, StreamsSettings
from streams import faust_fixes
from streams.app import build_app

pytestmark = pytest.mark.unit


@pytest.fixture()
def app(tmp_path: Path):  # type: ignore[no-untyped-def]
    a = build_app(Settings(streams=StreamsSettings(app_id="fixes-test")), workdir=tmp_path / "w", store="memory://")
    a.topics._acking_topics.add("events")  # acks on, as the conductor sets them for an agent's source
    return a


def _msg(offset: int, generation: int) -> ConsumerMessage:
    return ConsumerMessage("events", 0, offset, time.time(), 0, [], b"k", b"v", None, generation_id=generation)


def _replay(consumer: object, ack: object) -> int | None:
    """Before a rebalance the stream had fetched offsets 105-109 (generation 1); after it (generation
    2) it skips and acks them, seeks back to the committed 100 and processes 100-104 again."""
    tp = TP("events", 0)
    consumer._committed_offset[tp] = 100  # type: ignore[attr-defined]
    consumer.app.consumer_generation_id = 2  # type: ignore[attr-defined]
    for off in range(105, 110):
        ack(consumer, _msg(off, 1))  # type: ignore[operator]
    for off in range(100, 105):
        ack(consumer, _msg(off, 2))  # type: ignore[operator]
    return consumer._new_offset(tp)  # type: ignore[attr-defined]


def test_a_message_fetched_before_a_rebalance_is_not_committed_by_its_skip(app) -> None:  # type: ignore[no-untyped-def]
    consumer = app.consumer
    assert isinstance(consumer, faust_fixes.Consumer)
    assert _replay(consumer, type(consumer).ack) == 105  # 105-109 are read again before they count
    consumer._acked.clear(), consumer._acked_index.clear()
    assert _replay(consumer, FaustConsumer.ack) == 110  # faust's own: 105-109 committed, never processed


class _SlowChannel:
    """A channel whose hand-over to the producer takes `delay` s (a partition electing its leader)."""

    def __init__(self, delay: float) -> None:
        self.delay, self.sent = delay, 0

    async def publish_message(self, fut: object, wait: bool = False) -> None:
        await asyncio.sleep(self.delay)
        self.sent += 1


def test_the_flush_before_a_commit_waits_for_every_queued_changelog_message(app) -> None:  # type: ignore[no-untyped-def]
    async def run() -> tuple[int, int, int]:
        buf = app.producer.buffer
        await buf.start()
        try:
            chan = _SlowChannel(0.15)
            for _ in range(4):
                buf.put(SimpleNamespace(message=SimpleNamespace(channel=chan)))
            await buf.flush()  # faust's: gives up after one 0.1 s wait
            after_faust = chan.sent
            await faust_fixes.drain(buf)
            return after_faust, chan.sent, buf.size
        finally:
            await buf.stop()

    after_faust, after_drain, left = asyncio.run(run())
    assert after_faust < 4
    assert (after_drain, left) == (4, 0)


def test_each_fix_refuses_a_faust_it_was_not_written_for() -> None:
    faust_fixes.before_build()  # the installed faust: every fingerprint known
    for name, fn in faust_fixes._originals().items():
        with pytest.raises(faust_fixes.FaustPatchError, match=name.replace(".", r"\.")):
            faust_fixes.check_patchable(fn, frozenset({"0" * 64}), name)
