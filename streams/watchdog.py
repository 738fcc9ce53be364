"""The worker watching itself: is the broker reachable, has every stream started?

Issue 13: a fresh worker once found a changelog topic with 0 partitions; one agent crashed
every 5 s and the case-ops partitions were never processed (faust only logs "Stream has not
started processing ..."), for minutes, at 12 % CPU. Here a timer checks every `interval` s
each assigned partition of an agent's source topic: one with records waiting and no event into
its stream for `limit` (60) s since it was assigned is *stalled*: the health endpoint lists it
at once (`ok` false, `fengqiao status` says "stream not started"). If it is still stalled
`restart_after` (180) s after it was assigned, the worker restarts: `on_stall` (set by
`streams.main` for the real process) stops the worker cleanly and it exits with EXIT_STALLED,
so `fengqiao up`'s supervisor (or systemd, Docker) starts a fresh one with backoff; a fresh
process re-creates the topics and joins the group anew, which restarting one agent in place
would not. Why not restart at 60 s: on this shared 2-core machine, under a load average of 35,
a worker just restarted after a SIGKILL went 60 s without an event from one partition while
its others ran; a restart then only adds a rebalance and a table recovery. Not counted:
partitions of a worker that is rebalancing or recovering its tables, and any time the broker is
unreachable (an outage is reported as such, not as a stall, and must not make workers restart).
A worker that keeps applying events on its other partitions while one is stalled is behind a
backlog, not wedged: in the long fault benchmark (28,000 events waiting per partition) a worker
restarted at 180 s found the same partitions unstarted after each of three restarts, so then the
restart waits `restart_busy` (600) s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from broker.wire import metadata_brokers, parse_bootstrap

log = logging.getLogger("fengqiao.streams.watchdog")
STALL_SECONDS = 60.0  # reported on /health/
RESTART_AFTER_SECONDS = 180.0  # still stalled and the worker applied nothing meanwhile: it restarts
RESTART_BUSY_SECONDS = 600.0  # still stalled although the worker applies events elsewhere: it restarts
EXIT_STALLED = 3  # the worker's exit status after a stall restart (not 0: systemd's on-failure restarts it)

Partition = tuple[str, int]


@dataclass(frozen=True)
class Stall:
    topic: str
    partition: int
    seconds: float  # since it was assigned (or since the broker or a rebalance last held it up)
    waiting: int  # records on the partition its stream has not read

    def as_json(self) -> dict[str, object]:
        return {"topic": self.topic, "partition": self.partition, "seconds": round(self.seconds, 1),
                "waiting": self.waiting}


@dataclass
class StallCheck:
    """The decision, pure: feed it what the worker sees each tick, it says which partitions stalled."""

    limit: float = STALL_SECONDS
    since: dict[Partition, float] = field(default_factory=dict)

    def observe(self, now: float, assigned: set[Partition], waiting: Mapping[Partition, int],
                inbound: Mapping[Partition, float], held_up: bool) -> list[Stall]:
        """`waiting`: records not yet read per partition; `inbound`: when its stream last took an
        event; `held_up`: rebalancing, recovering or the broker unreachable (the clock restarts)."""
        for p in list(self.since):
            if p not in assigned:
                del self.since[p]
        out = []
        for p in sorted(assigned):
            start = self.since.setdefault(p, now)
            if held_up:
                self.since[p] = now
                continue
            took = inbound.get(p)
            if (took is not None and took >= start) or waiting.get(p, 0) <= 0:
                continue
            if now - start >= self.limit:
                out.append(Stall(p[0], p[1], now - start, waiting.get(p, 0)))
        return out


@dataclass
class Watchdog:
    """The faust glue: state for /health/, a timer feeding `StallCheck`, `on_stall` to act."""

    bootstrap: str
    check: StallCheck = field(default_factory=StallCheck)
    restart_after: float = RESTART_AFTER_SECONDS
    restart_busy: float = RESTART_BUSY_SECONDS
    on_stall: Callable[[list[Stall]], None] | None = None  # None: report only (in-process test workers)
    progress: Callable[[], int] | None = None  # events applied so far (busy: a backlog, not a wedge)
    _progress_at_stall: int | None = None
    broker_up: bool = True
    broker_down_since: float | None = None
    stalled: list[Stall] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic

    def reachable(self) -> bool:
        """One raw Metadata request per bootstrap server until one answers (no client retry noise)."""
        return any(metadata_brokers(h, p, timeout=2.0) for h, p in parse_bootstrap(self.bootstrap))

    def broker_seen(self, up: bool) -> None:
        """Log the outage once when it starts and once when it ends."""
        now = self.clock()
        if up and not self.broker_up:
            log.warning("Kafka 已恢复 / the broker answers again after %.0f s", now - (self.broker_down_since or now))
            self.broker_down_since = None
        elif not up and self.broker_up:
            self.broker_down_since = now
            log.error("Kafka 无响应 / no broker answers at %s: waiting for it (the health endpoint says so)",
                      self.bootstrap)
        self.broker_up = up

    def health(self) -> dict[str, object]:
        down = self.broker_down_since
        return {"kafka": {"reachable": self.broker_up,
                          "down_s": round(self.clock() - down, 1) if down is not None else 0.0},
                "stalled": [s.as_json() for s in self.stalled], "stall_limit_s": self.check.limit,
                "restart_after_s": self.restart_after}

    async def tick(self, app: Any) -> None:
        loop = asyncio.get_running_loop()
        self.broker_seen(await loop.run_in_executor(None, self.reachable))
        held_up = bool(app.rebalancing or getattr(app, "in_recovery", False) or not self.broker_up)
        sources = source_topics(app)
        try:
            assigned = {(tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in sources}
        except Exception:  # noqa: BLE001 - no consumer yet (starting) or being replaced
            return
        from streams.offsets import consumer_lag

        inbound = {(tp.topic, tp.partition): t for tp, t in (app.monitor.stream_inbound_time or {}).items()}
        self.act(self.check.observe(self.clock(), assigned, consumer_lag(app), inbound, held_up))

    def act(self, stalls: list[Stall]) -> None:
        """Report new stalls once; restart (`on_stall`) for those older than `restart_after`."""
        applied = self.progress() if self.progress is not None else 0
        if not stalls:
            self._progress_at_stall = None
        elif self._progress_at_stall is None:
            self._progress_at_stall = applied
        busy = self._progress_at_stall is not None and applied > self._progress_at_stall
        if stalls and not self.stalled:
            log.error("流未启动 / stream not started within %.0f s on %s: reported on /health/%s", self.check.limit,
                      ", ".join(f"{s.topic}:{s.partition} ({s.waiting} waiting)" for s in stalls),
                      f", the worker restarts if still so after {self.restart_after:.0f} s" if self.on_stall else "")
        self.stalled = stalls
        due = [s for s in stalls if s.seconds >= (self.restart_busy if busy else self.restart_after)]
        if due and self.on_stall is not None:
            log.error("流仍未启动，重启 / still not started after %.0f s on %s: restarting the worker",
                      self.restart_after, ", ".join(f"{s.topic}:{s.partition}" for s in due))
            self.on_stall(due)


def source_topics(app: Any) -> set[str]:
    """The topics the app's agents consume."""
    return {t for agent in app.agents.values() for t in getattr(agent.channel, "topics", ())}


_WATCHDOGS: WeakKeyDictionary[Any, Watchdog] = WeakKeyDictionary()


def install(app: Any, bootstrap: str, interval: float = 10.0) -> Watchdog:
    """One watchdog per app, its timer registered before the app starts."""
    wd = _WATCHDOGS.get(app)
    if wd is None:
        wd = _WATCHDOGS[app] = Watchdog(bootstrap)

        @app.timer(interval=interval, name="fengqiao-watchdog")
        async def _watch() -> None:
            await wd.tick(app)
    return wd


def of(app: Any) -> Watchdog | None:
    return _WATCHDOGS.get(app)
