"""The simulator's self-check: its traffic replayed through the domain and measured.

`replay_all` applies each case's events through `fengqiao.domain.lifecycle.apply` (what
the streams worker does) and collects what the lifecycle refuses: for the simulator that
list must be empty. `realism` measures the replayed cases at the simulated `now` with the
domain's own definitions (`fengqiao.domain.metrics`): the numbers the wall would show.
Used by tests/unit/test_simulator.py and bench/bench_simulator.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from fengqiao.contract import Envelope
from fengqiao.domain import metrics
from fengqiao.domain.calendar import WorkCalendar, load_calendar
from fengqiao.domain.lifecycle import CaseState, LifecycleError, apply
from fengqiao.domain.policy import Policy, load_policy


def replay_all(events: Iterable[Envelope], policy: Policy | None = None, calendar: WorkCalendar | None = None,
               ) -> tuple[dict[str, CaseState], list[LifecycleError]]:
    """Every case's state after its events, in order, and the events the lifecycle refused."""
    policy = policy or load_policy()
    calendar = calendar or load_calendar()
    states: dict[str, CaseState] = {}
    refused: list[LifecycleError] = []
    for ev in events:
        try:
            states[ev.case_id] = apply(states.get(ev.case_id), ev, policy, calendar)
        except LifecycleError as exc:
            refused.append(exc)
    return states, refused


@dataclass(frozen=True, slots=True)
class Realism:
    """What the wall would show at `now` for the cases received from `since` on."""

    cases: int
    response: metrics.Rate
    on_time: metrics.Rate
    resolution: metrics.Rate
    returned: metrics.Rate
    reopened: metrics.Rate
    satisfaction: metrics.Rate
    open: int  # 在办, all cases
    overdue: int  # 已超期, all cases
    awaiting: int  # 待评价, all cases
    dissatisfied: metrics.Rate  # dissatisfied ratings / ratings given (evaluations and reached callbacks)

    @property
    def overdue_share(self) -> float:
        return self.overdue / self.open if self.open else 0.0

    def lines(self) -> list[str]:
        return [
            f"cases received since warm-up  {self.cases}",
            f"响应率 response              {self.response.label()}",
            f"按期办结率 on-time            {self.on_time.label()}",
            f"解决率 resolution             {self.resolution.label()}",
            f"已超期/在办 overdue of open    {self.overdue}/{self.open} = {100 * self.overdue_share:.1f} %"
            f"  (待评价 awaiting {self.awaiting})",
            f"退回率 return                 {self.returned.label()}",
            f"重办率 re-open                {self.reopened.label()}",
            f"满意率 satisfaction           {self.satisfaction.label()}",
            f"不满意 dissatisfied ratings    {self.dissatisfied.label()}",
        ]


def realism(events: list[Envelope], states: dict[str, CaseState], now: datetime, since: datetime) -> Realism:
    warm = [s for s in states.values() if s.received_at is not None and s.received_at >= since]
    r = metrics.rates(warm, now)
    b = metrics.board(states.values(), now)
    ratings = Counter(str(getattr(e.payload, "rating", None) or "") for e in events
                      if e.event_type in ("case.evaluated", "case.callback"))
    ratings.pop("", None)
    return Realism(
        cases=len(metrics.cases_of(warm)), response=r["response"], on_time=r["on_time"],
        resolution=r["resolution"], returned=r["return"], reopened=r["reopen"], satisfaction=r["satisfaction"],
        open=b.open, overdue=b.overdue, awaiting=b.awaiting,
        dissatisfied=metrics.Rate(ratings["dissatisfied"], sum(ratings.values())),
    )
