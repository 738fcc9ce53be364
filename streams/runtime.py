"""Wire everything onto one Faust app: topics, tables, agents, timers, views.

`build_runtime(settings, clock=...)` is what the worker and the tests use; the clock is
injectable so unit tests drive timers deterministically.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import faust

from fengqiao.contract import ContractError, parse_event
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import LifecycleError
from fengqiao.domain.policy import load_policy
from fengqiao.records import DeadLetter
from fengqiao.settings import Settings

from streams import app as app_mod
from streams import tables as tables_mod
from streams import topics as topics_mod
from streams.casework import CaseLogic, Out, Route, contribution
from streams.early_warning import EarlyWarning
from streams.stats import PartitionCounts, RegionTotals
from streams.timers import TimerHeap

TZ = ZoneInfo("Asia/Shanghai")
log = logging.getLogger("fengqiao.streams")
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(TZ)


@dataclass
class Runtime:
    settings: Settings
    app: faust.App
    topics: topics_mod.StreamTopics
    tables: tables_mod.StreamTables
    logic: CaseLogic
    clock: Clock
    heap: TimerHeap = field(default_factory=TimerHeap)
    counts: dict[int, PartitionCounts] = field(default_factory=dict)
    totals: RegionTotals = field(default_factory=RegionTotals)
    pref_partition: dict[str, int] = field(default_factory=dict)
    ew: EarlyWarning = field(default_factory=EarlyWarning)
    ready: bool = False
    live: bool = False  # a real worker (assignor state); False in the test context
    stats_published: int = 0
    events_applied: int = 0
    agents: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ helpers
    def out_topic(self, name: str) -> faust.TopicT:
        return getattr(self.topics, name)  # alerts, cases, events, alert_index, early, dlq, case_ops

    async def send(self, topic: faust.TopicT, key: bytes | None, value: bytes) -> None:
        """Bytes we already serialised, straight to the producer in a live worker.

        `Topic.send` costs about three times a direct producer send (FutureMessage, codecs,
        callbacks): an agent forwarding each event reached 2,750 events/s with `Topic.send` and
        4,950 with the producer on this 2-core machine. At-least-once still holds:
        faust flushes the producer before it commits offsets, and a send that fails for good
        crashes the worker before the offsets of its input can be committed. The key picks the
        partition with the same murmur2 partitioner. In the test context (not `live`) sends go
        through the topic, where the tests record them."""
        if not self.live:
            await topic.send(key=key, value=value)
            return
        fut = await self.app.producer.send(topic.get_topic_name(), key, value, None, None, None)
        fut.add_done_callback(self._sent)

    def _sent(self, fut: Any) -> None:
        if fut.cancelled() or fut.exception() is None:
            return
        log.error("streams: a send failed for good, stopping so the input is processed again: %r", fut.exception())
        self.app._crash(fut.exception())

    async def publish(self, outs: list[Out]) -> None:
        for o in outs:
            await self.send(self.out_topic(o.topic), o.key, o.value)

    async def dead_letter(self, raw: bytes | None, error: str, message: Any) -> None:
        dl = DeadLetter.of("streams", raw, error, self.clock(), topic=message.topic, partition=message.partition,
                           offset=message.offset)
        await self.send(self.topics.dlq, None, dl.to_json())

    def owned(self, topic: str) -> set[int] | None:
        """Partitions of `topic` this worker owns; None when unknown (test context: all)."""
        if not self.live:
            return None
        assigned = self.app.assignor.assigned_actives()
        return {tp.partition for tp in assigned if tp.topic == topic}

    def schedule(self, case_id: str, entry: dict[str, Any]) -> None:
        w = entry.get("w")
        self.heap.schedule(case_id, datetime.fromisoformat(w).timestamp() if w else None)

    def counts_for(self, partition: int) -> PartitionCounts:
        c = self.counts.get(partition)
        if c is None:
            c = self.counts[partition] = PartitionCounts()
        return c

    def rebuild(self) -> None:
        """After a rebalance/recovery: heap and partition counts from this worker's table partitions."""
        mine = self.owned(self.topics.events.get_topic_name())
        self.heap.clear()
        self.counts = {p: PartitionCounts() for p in mine} if mine is not None else {}
        now = self.clock()
        floor = now.timestamp() - 25 * 3600
        n = 0
        for case_id, entry in self.tables.cases.items():
            if not entry or (mine is not None and entry.get("p") not in mine):
                continue
            n += 1
            self.schedule(case_id, entry)
            c = self.counts_for(entry["p"])
            c.change(None, contribution(entry))
            s = entry["s"]
            if s.get("received_at"):
                at = datetime.fromisoformat(s["received_at"])
                if at.timestamp() >= floor:
                    c.add_intake(s["region_code"], at, s.get("category", ""), s.get("channel", ""))
        self.ready = True
        log.info("streams: rebuilt %d cases, %d timers, partitions %s", n, len(self.heap), mine)


def build_runtime(settings: Settings, clock: Clock = wall_clock, workdir: Path | None = None,
                  web_port: int | None = None, store: str | None = None, route: Route | None = None,
                  renotify_seconds: float | None = None) -> Runtime:
    app = app_mod.build_app(settings, workdir=workdir, web_port=web_port, store=store)
    s = settings.streams
    policy = load_policy(s.policy_file, s.policy_profile)
    renotify = renotify_seconds if renotify_seconds is not None else s.renotify_seconds
    logic = CaseLogic(policy, load_calendar(), renotify_seconds=renotify,
                      auto_dispatch_after_seconds=s.auto_dispatch_after_seconds, route=route)
    rt = Runtime(settings, app, topics_mod.declare(app, settings), tables_mod.declare(app, settings), logic, clock)
    from streams import agents_case, agents_side, web

    agents_case.register(rt)
    agents_side.register(rt)
    web.register(rt)
    return rt


def loads(value: bytes) -> dict[str, Any]:
    return json.loads(value)


__all__ = ["Runtime", "build_runtime", "ContractError", "LifecycleError", "parse_event", "loads"]
