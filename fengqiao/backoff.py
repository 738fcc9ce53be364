"""When `fengqiao up` restarts a child that exited: exponential backoff, capped, forgiven.

A child that dies at once again and again (a broker that is down, a bad setting)
waits 1, 2, 4 … up to `cap` seconds between tries, so it neither spins nor gives up;
one that ran for `reset_after` seconds before it exited starts again from `base`.
Pure: the supervisor passes the clock's readings in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    base: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    reset_after: float = 60.0  # a run this long forgives the earlier failures

    def delay(self, failures: int) -> float:
        """Seconds to wait before the restart that follows `failures` quick exits in a row (>= 1)."""
        return min(self.cap, self.base * self.factor ** max(0, failures - 1))


@dataclass
class RestartState:
    """One child's run of quick exits and when it may start again."""

    policy: BackoffPolicy
    failures: int = 0
    restarts: int = 0
    next_start: float | None = None  # monotonic time of the planned restart; None while running

    def exited(self, started_at: float, now: float) -> float:
        """Record an exit at `now` of a run begun at `started_at`; returns the delay before restarting."""
        self.failures = 1 if now - started_at >= self.policy.reset_after else self.failures + 1
        wait = self.policy.delay(self.failures)
        self.next_start = now + wait
        return wait

    def due(self, now: float) -> bool:
        """The planned restart's time has come."""
        return self.next_start is not None and now >= self.next_start

    def restarted(self) -> None:
        self.next_start = None
        self.restarts += 1
