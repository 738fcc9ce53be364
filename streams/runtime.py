"""Wire everything onto one Faust app: topics, tables, agents, timers, views.

`build_runtime(settings, clock=..., sender=..., assigned=...)` is what the worker and the
tests use. What differs between a live worker and a test is injected, never branched on:
the clock, how a message leaves (`Sender`: straight to the producer in a worker, a recorder
in a test) and which partitions this worker owns (`Assigned`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

import faust

from broker.topics import Replication
from fengqiao import privacy
from fengqiao.contract import ContractError, parse_event
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.case import CaseRecord, CaseRules
from fengqiao.domain.lifecycle import LifecycleError
from fengqiao.domain.policy import load_policy
from fengqiao.records import DeadLetter
from fengqiao.settings import Settings, reveal
from fengqiao.vocab import TZ

from streams import app as app_mod
from streams import tables as tables_mod
from streams import topics as topics_mod
from streams.casework import Out, Route, build_rules, contribution
from streams.early_warning import EarlyWarning
from streams.offsets import InputEnds, consumer_ends
from streams.stats import PartitionCounts, RegionTotals
from streams.timers import TimerHeap

log = logging.getLogger("fengqiao.streams")
Clock = Callable[[], datetime]
Sender = Callable[[str, "bytes | None", bytes], Awaitable[None]]  # topic name, key, value
Assigned = Callable[[str], "set[int]"]  # topic name -> partitions this worker owns
Handler = Callable[[], Awaitable[None]]
# outputs of a step leave after its table write and before its input's offset is committed: a worker
# that dies in between loses them (the input is re-read, found applied, nothing sent). Its successor
# sends again what changed this recently (far longer than a commit interval plus a producer flush).
REDELIVER_WINDOW = timedelta(seconds=120)
INPUT_GRACE = 3.0  # s after a rebuild before a partition never sought (nothing committed) counts as idle
MARKERS, MARKERS_IDLE = 3, 2.0  # offsets past the last event that may be commit markers; s they stay put


def wall_clock() -> datetime:
    return datetime.now(TZ)


def producer_sender(app: faust.App) -> Sender:
    """Bytes we already serialised, straight to the producer.

    `Topic.send` costs about three times a direct producer send (FutureMessage, codecs,
    callbacks): an agent forwarding each event reached 2,750 events/s with `Topic.send` and
    4,950 with the producer on this 2-core machine. At-least-once still holds: faust flushes
    the producer before it commits offsets, and a send that fails for good crashes the worker
    before the offsets of its input can be committed. The key picks the partition with the
    same murmur2 partitioner."""

    def sent(fut: Any) -> None:
        if fut.cancelled() or fut.exception() is None:
            return
        log.error("streams: a send failed for good, stopping so the input is processed again: %r", fut.exception())
        app._crash(fut.exception())

    async def send(topic: str, key: bytes | None, value: bytes) -> None:
        fut = await app.producer.send(topic, key, value, None, None, None)
        fut.add_done_callback(sent)

    return send


def assignor_partitions(app: faust.App) -> Assigned:
    def assigned(topic: str) -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}

    return assigned


@dataclass
class Runtime:
    settings: Settings
    app: faust.App
    topics: topics_mod.StreamTopics
    tables: tables_mod.StreamTables
    logic: CaseRules
    clock: Clock
    sender: Sender
    assigned: Assigned
    input_ends: InputEnds | None = None
    heap: TimerHeap = field(default_factory=TimerHeap)
    counts: dict[int, PartitionCounts] = field(default_factory=dict)
    totals: RegionTotals = field(default_factory=RegionTotals)
    pref_partition: dict[str, int] = field(default_factory=dict)
    ew: EarlyWarning = field(default_factory=EarlyWarning)
    ready: bool = False
    stats_published: int = 0
    events_applied: int = 0
    agents: dict[str, Any] = field(default_factory=dict)
    # events partition -> (offset, broker time) of the last event applied: how far the input has come
    applied: dict[int, tuple[int, float]] = field(default_factory=dict)
    ready_at: float = 0.0  # the clock's epoch seconds at the last rebuild
    ends_seen: dict[int, tuple[int, float]] = field(default_factory=dict)  # partition -> (end offset, since)
    # owner kind -> the topic its alerts' commands are routed to (besides "case" and "region"): e.g. "beat"
    alert_owners: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ helpers
    def out_topic(self, name: str) -> faust.TopicT:
        return getattr(self.topics, name)  # alerts, cases, events, alert_index, early, dlq, case_ops

    async def send(self, topic: faust.TopicT, key: bytes | None, value: bytes) -> None:
        await self.sender(topic.get_topic_name(), key, value)

    async def publish(self, outs: list[Out]) -> None:
        for o in outs:
            await self.send(self.out_topic(o.topic), o.key, o.value)

    async def dead_letter(self, raw: bytes | None, error: str, message: Any) -> None:
        """Bytes that may hold clear contact data are kept sealed, as the gateway's and the sink's are;
        the reason is scrubbed (an exception's text may quote a value)."""
        where = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
        error = privacy.scrub_text(error)
        if privacy.may_carry_pii(raw):
            dl = DeadLetter.sealed_of("streams", raw or b"", error, self.clock(), reveal(self.settings.pii_key), **where)
        else:
            dl = DeadLetter.of("streams", raw, error, self.clock(), **where)
        await self.send(self.topics.dlq, None, dl.to_json())

    async def guarded(self, message: Any, raw: bytes | None, handle: Handler) -> bool:
        """Run one message's handler; any exception becomes a dead letter naming the source
        topic/partition/offset, and the stream goes on (one bad message must not stop a
        partition, nor vanish). False when it was dead-lettered."""
        try:
            await handle()
            return True
        except Exception as exc:  # noqa: BLE001 - the point: whatever it is, dead-letter it and go on
            log.warning("streams: message %s[%s]@%s dead-lettered: %s", message.topic, message.partition,
                        message.offset, type(exc).__name__)
            await self.dead_letter(raw, f"unexpected: {type(exc).__name__}: {str(exc)[:500]}", message)
            return False

    def owned(self, topic: str) -> set[int]:
        """Partitions of `topic` this worker owns."""
        return self.assigned(topic)

    def schedule(self, case_id: str, rec: CaseRecord) -> None:
        w = rec.wake_at
        self.heap.schedule(case_id, w.timestamp() if w is not None else None, rec.partition)

    def note_applied(self, partition: int, offset: int, timestamp: float | None) -> None:
        """An event of `partition` at `offset` (produced at `timestamp`) was applied."""
        self.applied[partition] = (offset, timestamp or self.clock().timestamp())

    def watermark(self, partition: int | None) -> float:
        """The latest instant (epoch s) up to which SLA stages of `partition`'s cases may be raised:
        now once its input is applied to the end; else the time the last applied event was produced
        (what was produced before it is applied; an event still waiting may end a stage due later),
        and nothing before the first event after a rebuild is applied. The end may sit a few offsets
        past the last event for good: a transaction's commit markers take offsets (the gateway writes
        in transactions), so an end at most `MARKERS` past that stays put `MARKERS_IDLE` s is the end."""
        now = self.clock().timestamp()
        if partition is None or self.input_ends is None:
            return now
        end, fetched = self.input_ends(self.topics.events.get_topic_name(), partition)
        if end is None:
            return now
        last = self.applied.get(partition)
        if last is not None:
            nxt, behind = last[0] + 1, min(now, last[1])
            if fetched is not None and fetched > last[0]:
                return behind  # handed to the stream, not applied yet
        elif fetched is not None:
            nxt, behind = fetched, 0.0  # sought to the committed offset, nothing applied since
        else:  # never sought: no committed offset yet, or not started
            return now if now - self.ready_at >= INPUT_GRACE else 0.0
        if nxt >= end:
            return now
        seen = self.ends_seen.get(partition)
        if seen is None or seen[0] != end:
            self.ends_seen[partition] = (end, now)
            return behind
        return now if end - nxt <= MARKERS and now - seen[1] >= MARKERS_IDLE else behind

    def counts_for(self, partition: int) -> PartitionCounts:
        c = self.counts.get(partition)
        if c is None:
            c = self.counts[partition] = PartitionCounts()
        return c

    def rebuild(self) -> list[Any]:
        """After a rebalance/recovery: heap and partition counts from this worker's table partitions.
        Returns the outputs to send again: what changed in the last `REDELIVER_WINDOW` (see there)."""
        mine = self.owned(self.topics.events.get_topic_name())
        self.heap.clear()
        self.applied = {}  # how far each partition's input is applied: learnt again from the next events
        self.ends_seen = {}
        self.counts = {p: PartitionCounts() for p in mine}
        now = self.clock()
        floor = now.timestamp() - 25 * 3600
        n = 0
        since = now - REDELIVER_WINDOW
        again: list[Any] = []
        for case_id, rec in self.tables.case_items():
            if rec.partition not in mine:
                continue
            n += 1
            self.schedule(case_id, rec)
            again += self.logic.redeliver(rec, since, now)
            c = self.counts_for(rec.partition)
            c.change(None, contribution(rec))
            s = rec.state
            if s.received_at is not None and s.received_at.timestamp() >= floor:
                c.add_intake(s.region_code, s.received_at, s.category, s.channel)
        self.ready, self.ready_at = True, now.timestamp()
        log.info("streams: rebuilt %d cases, %d timers, partitions %s; %d outputs of the last %d s to send again",
                 n, len(self.heap), sorted(mine), len(again), REDELIVER_WINDOW.total_seconds())
        return again


def build_runtime(settings: Settings, clock: Clock = wall_clock, workdir: Path | None = None,
                  web_port: int | None = None, store: str | None = None, route: Route | None = None,
                  renotify_seconds: float | None = None, sender: Sender | None = None,
                  assigned: Assigned | None = None, replication: Replication | None = None,
                  input_ends: InputEnds | None = None) -> Runtime:
    """`replication`: what the topic creation chose (`broker.topics.ensure_project_topics`), so
    the topics faust creates itself (changelogs) get the same factor and min.insync.replicas."""
    rep = replication or Replication.from_settings(settings)
    app = app_mod.build_app(settings, workdir=workdir, web_port=web_port, store=store,
                            replication_factor=rep.factor)
    s = settings.streams
    policy = load_policy(s.policy_file, s.policy_profile)
    renotify = renotify_seconds if renotify_seconds is not None else s.renotify_seconds
    logic = build_rules(policy, load_calendar(), renotify_seconds=renotify,
                        auto_dispatch_after_seconds=s.auto_dispatch_after_seconds, route=route)
    rt = Runtime(settings, app, topics_mod.declare(app, settings, rep.topic_configs()),
                 tables_mod.declare(app, settings, rep.topic_configs()), logic, clock,
                 sender or producer_sender(app), assigned or assignor_partitions(app),
                 input_ends or consumer_ends(app))
    from streams import agents_case, agents_repeat, agents_side, heartbeat, web

    agents_case.register(rt)
    agents_side.register(rt)
    agents_repeat.register(rt, also=heartbeat.register(rt))  # repeat complaints (假性整改), channel heartbeat
    web.register(rt)
    return rt


def loads(value: bytes) -> dict[str, Any]:
    return json.loads(value)


__all__ = ["Runtime", "build_runtime", "ContractError", "LifecycleError", "parse_event", "loads"]
