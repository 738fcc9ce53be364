"""Countdown queries: pure functions of an injected `now` (the domain never reads the clock).

For each target: time remaining (negative once overdue), the stage reached at `now`
(`none` before the reminder), and the next stage with its instant. The wall and the
officer console use these for "cases about to miss their deadline".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fengqiao.domain import sla
from fengqiao.domain.calendar import WorkCalendar
from fengqiao.domain.lifecycle import CaseState
from fengqiao.domain.policy import Policy
from fengqiao.domain.sla import TargetDue


@dataclass(frozen=True, slots=True)
class Countdown:
    target: str
    round: int
    due_at: datetime
    remaining: timedelta  # due_at - now; negative when overdue
    stage: str  # none | reminder | warning | overdue | escalation
    level: int  # escalation step reached (0 before escalation)
    supervisor: str | None  # ladder rung of the last escalation step reached
    next_stage: str | None
    next_level: int | None
    next_at: datetime | None
    estimated: bool

    @property
    def overdue(self) -> bool:
        return self.remaining < timedelta(0)


def target_countdown(td: TargetDue, now: datetime) -> Countdown:
    """Where a scheduled target stands at `now`."""
    now = sla.local(now)
    stage, level, sup = "none", 0, None
    nxt: tuple[str, int, datetime, str | None] | None = None
    for st, lv, at, s in td.timeline():
        if at <= now:
            stage, level, sup = st, lv, s
        elif nxt is None:
            nxt = (st, lv, at, s)
    return Countdown(td.target, td.round, td.due_at, td.due_at - now, stage, level, sup,
                     nxt[0] if nxt else None, nxt[1] if nxt else None, nxt[2] if nxt else None, td.estimated)


def case_countdowns(state: CaseState, now: datetime, policy: Policy, cal: WorkCalendar) -> list[Countdown]:
    """Countdowns of the case's open targets (empty when it has met or dropped them all)."""
    return [target_countdown(td, now) for td in sla.case_targets(state, policy, cal).values()]


def remaining(state: CaseState, now: datetime, target: str = "resolve") -> timedelta | None:
    """Time left on one open target, without scheduling stages (cheap, for sorting)."""
    t = state.sign if target == "sign" else state.resolve
    if t is None or not t.is_open:
        return None
    return t.due - sla.local(now)


def most_urgent(states: list[CaseState], now: datetime, limit: int = 10) -> list[tuple[CaseState, timedelta]]:
    """Open cases ordered by the least time left on any open target."""
    scored = []
    for s in states:
        left = [r for r in (remaining(s, now, "sign"), remaining(s, now, "resolve")) if r is not None]
        if left:
            scored.append((s, min(left)))
    scored.sort(key=lambda x: x[1])
    return scored[:limit]
