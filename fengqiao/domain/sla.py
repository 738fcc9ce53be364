"""The SLA engine: deadlines, stage instants and escalation instants (DESIGN.md section 4).

Counting rules, in Asia/Shanghai (any input offset is converted first):

* N working days from instant s: 24:00 of the N-th working day strictly after s's date.
* N natural days: 24:00 of (s's date + N).   Minutes/hours: s + the duration.
* Stages: reminder / warning / overdue at the policy fractions (50 / 80 / 100 %) of the
  target's span; for working-day targets of *working time* (only hours on working days
  count, the start day's from s on if it is a working day), otherwise of natural time.
* Escalation (逐级督办) after overdue: every further working day (every 2 h for urgent
  cases), one step per rung of the ladder strictly above the case's current level,
  never past the top (province). So the ladder is finite: at most 4 steps.

Choices where DESIGN.md is silent (also in the final note):

* "Every further working day" after a due of 24:00 of day D means 24:00 of the k-th
  working day after D (an instant that is not midnight keeps its clock time and moves to
  the k-th working day after its date). Likewise a working-day extension of a due.
* "24:00 of day D" is represented as 00:00 of D+1 (same instant).
* Escalation step k is supervised by the k-th ladder rung above the case's *current*
  level (no level yet: the ladder from its first rung). A case already at province has
  no escalation steps; overdue is then its last stage.
* Re-opened / re-assigned targets are new *rounds*; the dedup key keeps DESIGN.md's
  format `sla:{case_id}:{target}:{stage}:{level}` for round 0 and writes the target as
  `{target}.{round}` for later rounds, so a new deadline gets its own alerts while each
  stage of each round still fires once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Iterable
from zoneinfo import ZoneInfo

from fengqiao.domain.calendar import WorkCalendar
from fengqiao.domain.policy import Duration, Policy

if TYPE_CHECKING:
    from fengqiao.domain.lifecycle import CaseState, TargetState

TZ = ZoneInfo("Asia/Shanghai")
STAGES = ("reminder", "warning", "overdue")
SEVERITY = {"reminder": "info", "warning": "warning", "overdue": "critical", "escalation": "critical"}
LEVEL_RANK = {"village": 0, "township": 1, "county": 2, "city": 3, "province": 4}
_DAY = timedelta(days=1)
_EPS = timedelta(microseconds=1)


def local(dt: datetime) -> datetime:
    """The same instant in Asia/Shanghai; naive datetimes are refused."""
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no offset / 时间缺少时区偏移")
    return dt.astimezone(TZ)


def end_of_day(d: date) -> datetime:
    """24:00 of `d`, i.e. 00:00 of the next day."""
    return datetime.combine(d + _DAY, time(0), TZ)


def add_working_days(instant: datetime, n: int, cal: WorkCalendar) -> tuple[datetime, bool]:
    """Move an instant n working days forward (24:00 of D stays at end of a working day)."""
    instant = local(instant)
    if instant.time() == time(0):
        d, est = cal.nth_workday_after(instant.date() - _DAY, n)
        return end_of_day(d), est
    d, est = cal.nth_workday_after(instant.date(), n)
    return datetime.combine(d, instant.timetz()), est


def deadline(start: datetime, dur: Duration, cal: WorkCalendar) -> tuple[datetime, bool]:
    """Due instant of a target of length `dur` starting at `start`, and the estimated flag."""
    s = local(start)
    unit = dur.unit
    if unit == "working_days":
        d, est = cal.nth_workday_after(s.date(), dur.value)
        return end_of_day(d), est
    if unit == "natural_days":
        return end_of_day(s.date() + timedelta(days=dur.value)), False
    if unit == "hours":
        return s + timedelta(hours=dur.value), False
    return s + timedelta(minutes=dur.value), False


def extend(due: datetime, days: int, unit: str, cal: WorkCalendar) -> tuple[datetime, bool]:
    """A due moved by an approved extension of `days` (counted in `unit`)."""
    if unit == "working_days":
        return add_working_days(due, days, cal)
    if unit == "natural_days":
        return local(due) + timedelta(days=days), False
    if unit == "hours":
        return local(due) + timedelta(hours=days), False
    return local(due) + timedelta(minutes=days), False


def _working_segments(start: datetime, due: datetime, cal: WorkCalendar) -> tuple[list[tuple[datetime, datetime]], bool]:
    segs: list[tuple[datetime, datetime]] = []
    est = False
    d = start.date()
    last = (due - _EPS).date()
    while d <= last:
        info = cal.day(d)
        est = est or info.estimated
        if info.working:
            b = max(start, datetime.combine(d, time(0), TZ))
            e = min(due, end_of_day(d))
            if e > b:
                segs.append((b, e))
        d += _DAY
    return segs, est


def stage_instants(start: datetime, due: datetime, working: bool, fractions: Iterable[float],
                   cal: WorkCalendar) -> tuple[list[datetime], bool]:
    """Instants at the given fractions of the span start→due (of working time if `working`)."""
    start, due = local(start), local(due)
    fracs = list(fractions)
    if due <= start:
        return [due for _ in fracs], False
    if not working:
        span = due - start
        return [due if f >= 1 else start + span * f for f in fracs], False
    segs, est = _working_segments(start, due, cal)
    total = sum(((e - b) for b, e in segs), timedelta())
    if not total:
        span = due - start
        return [due if f >= 1 else start + span * f for f in fracs], est
    out = []
    for f in fracs:
        if f >= 1:
            out.append(due)
            continue
        left = total * f
        at = due
        for b, e in segs:
            length = e - b
            if left <= length:
                at = b + left
                break
            left -= length
        out.append(at)
    return out, est


def supervisors(level: str | None, ladder: Iterable[str]) -> tuple[str, ...]:
    """Ladder rungs strictly above the case's level (all of them when it has none)."""
    rank = LEVEL_RANK.get(level or "", 0)
    return tuple(rung for rung in ladder if LEVEL_RANK[rung] > rank)


def escalation_at(due: datetime, step: Duration, k: int, cal: WorkCalendar) -> tuple[datetime, bool]:
    """Instant of escalation step k (k ≥ 1) after `due`."""
    if step.unit == "working_days":
        return add_working_days(due, step.value * k, cal)
    if step.unit == "natural_days":
        return local(due) + timedelta(days=step.value * k), False
    if step.unit == "hours":
        return local(due) + timedelta(hours=step.value * k), False
    return local(due) + timedelta(minutes=step.value * k), False


@dataclass(frozen=True, slots=True)
class TargetDue:
    """One target of one case, fully scheduled."""

    target: str  # "sign" | "resolve"
    round: int
    start: datetime
    due_at: datetime
    working: bool
    stages: dict[str, datetime]  # reminder, warning, overdue
    escalations: tuple[tuple[int, datetime, str], ...]  # (step, instant, supervising level)
    estimated: bool  # the due or a stage instant needed a year the calendar does not know
    escalation_estimated: bool = False  # an escalation instant did

    def escalation_instants(self, up_to: datetime) -> list[tuple[int, datetime, str]]:
        return [e for e in self.escalations if e[1] <= up_to]

    def next_escalation(self, after: datetime) -> tuple[int, datetime, str] | None:
        return next((e for e in self.escalations if e[1] > after), None)

    def timeline(self) -> list[tuple[str, int, datetime, str | None]]:
        """(stage, level, instant, supervisor) in firing order."""
        out: list[tuple[str, int, datetime, str | None]] = [(s, 0, self.stages[s], None) for s in STAGES]
        out.extend(("escalation", k, at, sup) for k, at, sup in self.escalations)
        return out


def schedule(target: str, start: datetime, due: datetime, working: bool, policy: Policy, cal: WorkCalendar,
             urgency: str, level: str | None = None, round: int = 0, estimated: bool = False) -> TargetDue:
    """Stage and escalation instants of a target whose start and due are known."""
    th = policy.thresholds
    (rem, warn, over), est = stage_instants(start, due, working, (th.reminder, th.warning, th.overdue), cal)
    step = policy.escalation_step(urgency)
    escs = []
    esc_est = False
    for k, sup in enumerate(supervisors(level, policy.ladder), start=1):
        at, e = escalation_at(due, step, k, cal)
        esc_est = esc_est or e
        escs.append((k, at, sup))
    return TargetDue(target, round, local(start), local(due), working,
                     {"reminder": rem, "warning": warn, "overdue": over}, tuple(escs), estimated or est, esc_est)


def targets_for(category: str, urgency: str, start: datetime, policy: Policy, cal: WorkCalendar,
                formal: bool = False, assigned_at: datetime | None = None,
                level: str | None = None) -> dict[str, TargetDue]:
    """Both targets of a case received at `start` (and assigned at `assigned_at`, default `start`)."""
    pair = policy.targets(category, urgency, formal)
    out = {}
    for name, dur, s in (("sign", pair.sign, assigned_at or start), ("resolve", pair.resolve, start)):
        due, est = deadline(s, dur, cal)
        out[name] = schedule(name, s, due, dur.working, policy, cal, urgency, level, 0, est)
    return out


# ------------------------------------------------------------------ case-level queries
@dataclass(frozen=True, slots=True)
class StageDue:
    """One stage instant a timer must fire for (at most once: `dedup_key`)."""

    case_id: str
    target: str
    round: int
    stage: str
    level: int
    at: datetime
    due_at: datetime
    supervisor: str | None
    severity: str
    dedup_key: str


def dedup_key(case_id: str, target: str, stage: str, level: int, round: int = 0) -> str:
    t = target if round == 0 else f"{target}.{round}"
    return f"sla:{case_id}:{t}:{stage}:{level}"


def _target_due(state: "CaseState", t: "TargetState", policy: Policy, cal: WorkCalendar) -> TargetDue:
    return schedule(t.name, t.start, t.due, t.working, policy, cal, state.urgency, state.level or None,
                    t.round, t.estimated)


def case_targets(state: "CaseState", policy: Policy, cal: WorkCalendar,
                 open_only: bool = True) -> dict[str, TargetDue]:
    """The case's current targets (only those still open by default), scheduled."""
    out = {}
    for t in (state.sign, state.resolve):
        if t is not None and (t.is_open or not open_only):
            out[t.name] = _target_due(state, t, policy, cal)
    return out


def open_targets(state: "CaseState") -> list[str]:
    return [t.name for t in (state.sign, state.resolve) if t is not None and t.is_open]


def pending_stages(state: "CaseState", policy: Policy, cal: WorkCalendar,
                   after: datetime | None = None) -> list[StageDue]:
    """Every stage instant still to come for the open targets, in time order.

    `after` drops instants at or before it (e.g. the worker's clock on restart; the
    dedup keys make re-firing harmless anyway). The list is finite: the ladder ends.
    """
    out = []
    for td in case_targets(state, policy, cal).values():
        for stage, level, at, sup in td.timeline():
            if after is not None and at <= after:
                continue
            out.append(StageDue(state.case_id, td.target, td.round, stage, level, at, td.due_at, sup,
                                SEVERITY[stage], dedup_key(state.case_id, td.target, stage, level, td.round)))
    out.sort(key=lambda s: (s.at, s.target, s.level))
    return out


def next_stage(state: "CaseState", policy: Policy, cal: WorkCalendar, after: datetime) -> StageDue | None:
    """The single next stage due after `after` (for a timer wheel scheduling one at a time)."""
    stages = pending_stages(state, policy, cal, after)
    return stages[0] if stages else None
