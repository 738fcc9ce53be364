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

Speed (the streams worker calls `pending_stages` on every event and timer tick): the
calendar answers day counts and working time from prefix sums (spans leaving its table
are walked day by day), escalation instants are memoised per due instant (most dues are
24:00 of a working day, shared by many cases), and `pending_stages` builds its
`StageDue`s without the intermediate `TargetDue`s. Results are those of the day-by-day
walk, exactly (tests/unit/test_domain_sla_fast.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Iterable

from fengqiao.domain.calendar import WorkCalendar
from fengqiao.domain.policy import Duration, Policy
from fengqiao.vocab import LEVEL_RANK, TZ

if TYPE_CHECKING:
    from fengqiao.domain.lifecycle import CaseState, TargetState

STAGES = ("reminder", "warning", "overdue")
SEVERITY = {"reminder": "info", "warning": "warning", "overdue": "critical", "escalation": "critical"}
_DAY = timedelta(days=1)
_EPS = timedelta(microseconds=1)
_MIDNIGHT = time(0)


def local(dt: datetime) -> datetime:
    """The same instant in Asia/Shanghai; naive datetimes are refused."""
    if dt.tzinfo is TZ:  # what astimezone would return, without the offset look-ups
        return dt
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no offset / 时间缺少时区偏移")
    return dt.astimezone(TZ)


def end_of_day(d: date) -> datetime:
    """24:00 of `d`, i.e. 00:00 of the next day."""
    return datetime.combine(d + _DAY, time(0), TZ)


def add_working_days(instant: datetime, n: int, cal: WorkCalendar) -> tuple[datetime, bool]:
    """Move an instant n working days forward (24:00 of D stays at end of a working day)."""
    ats, est = _working_days_after(instant, (n,), cal)
    return ats[0], est


def _working_days_after(instant: datetime, ns: Iterable[int], cal: WorkCalendar) -> tuple[list[datetime], bool]:
    """`add_working_days` for each n of an ascending sequence, and whether any was estimated."""
    instant = local(instant)
    if instant.time() == _MIDNIGHT:
        days, est = cal.nth_workdays_after(instant.date() - _DAY, ns)
        return [end_of_day(d) for d in days], est
    days, est = cal.nth_workdays_after(instant.date(), ns)
    clock = instant.timetz()
    return [datetime.combine(d, clock) for d in days], est


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
    """The working parts of start→due, day by day (only for spans outside the calendar's table)."""
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
    got = cal.working_time(start, due)
    if got is None or min(fracs) < 0:  # outside the calendar's table (or a fraction before start)
        return _walked_stage_instants(start, due, fracs, cal)
    total, est = got
    if not total:
        span = due - start
        return [due if f >= 1 else start + span * f for f in fracs], est
    ats = iter(cal.working_instants(start, [_times(total, f) for f in fracs if f < 1]))
    return [due if f >= 1 else next(ats) for f in fracs], est


def _times(us: int, f: float) -> int:
    """us × f rounded to the microsecond, ties to even: exactly `timedelta(microseconds=us) * f`."""
    num, den = f.as_integer_ratio()
    q, r = divmod(us * num, den)
    return q + 1 if 2 * r > den or (2 * r == den and q & 1) else q


def _walked_stage_instants(start: datetime, due: datetime, fracs: list[float],
                           cal: WorkCalendar) -> tuple[list[datetime], bool]:
    """`stage_instants` of working time over explicit day segments (due > start)."""
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
    """Instant of escalation step k (k ≥ 1) after `due` (`escalations_at` gives steps 1…n at once)."""
    if step.unit == "working_days":
        return add_working_days(due, step.value * k, cal)
    if step.unit == "natural_days":
        return local(due) + timedelta(days=step.value * k), False
    if step.unit == "hours":
        return local(due) + timedelta(hours=step.value * k), False
    return local(due) + timedelta(minutes=step.value * k), False


def escalations_at(due: datetime, step: Duration, n: int, cal: WorkCalendar) -> tuple[list[datetime], bool]:
    """Instants of escalation steps 1…n after `due`, and whether any of them was estimated."""
    due = local(due)
    if step.unit != "working_days":
        return [escalation_at(due, step, k, cal)[0] for k in range(1, n + 1)], False
    return _working_days_after(due, range(step.value, step.value * n + 1, step.value), cal)


_LADDERS: dict[tuple[datetime, int, int, str, int, WorkCalendar], tuple[tuple[datetime, ...], bool]] = {}


def _ladder(due: datetime, step: Duration, n: int, cal: WorkCalendar) -> tuple[tuple[datetime, ...], bool]:
    """`escalations_at` of a local `due`, memoised: many targets share a due (24:00 of a working day)."""
    key = (due, due.fold, step.value, step.unit, n, cal)  # fold: same-zone datetimes compare by wall clock
    hit = _LADDERS.get(key)
    if hit is None:
        ats, est = escalations_at(due, step, n, cal)
        if len(_LADDERS) >= 4096:
            _LADDERS.clear()
        hit = _LADDERS[key] = (tuple(ats), est)
    return hit


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
    fracs, step, sups = _policy_terms(policy, urgency, level)
    start, due = local(start), local(due)
    (rem, warn, over), est = stage_instants(start, due, working, fracs, cal)
    ats, esc_est = _ladder(due, step, len(sups), cal)
    return TargetDue(target, round, start, due, working, {"reminder": rem, "warning": warn, "overdue": over},
                     tuple(zip(range(1, len(sups) + 1), ats, sups)), estimated or est, esc_est)


_TERMS: dict[tuple[int, str, str | None], tuple[Policy, tuple[float, float, float], Duration, tuple[str, ...]]] = {}


def _policy_terms(policy: Policy, urgency: str, level: str | None,
                  ) -> tuple[tuple[float, float, float], Duration, tuple[str, ...]]:
    """Stage fractions, escalation step and supervisors: what `schedule` reads from the policy.

    Cached per policy object (kept referenced, so its id cannot be reused while cached).
    """
    key = (id(policy), urgency, level)
    hit = _TERMS.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1], hit[2], hit[3]
    th = policy.thresholds
    terms = ((th.reminder, th.warning, th.overdue), policy.escalation_step(urgency), supervisors(level, policy.ladder))
    if len(_TERMS) >= 256:
        _TERMS.clear()
    _TERMS[key] = (policy, *terms)
    return terms


def targets_for(category: str, urgency: str, start: datetime, policy: Policy, cal: WorkCalendar,
                formal: bool = False, assigned_at: datetime | None = None,
                level: str | None = None) -> dict[str, TargetDue]:
    """Both targets of a case received at `start` (and assigned at `assigned_at`, default `start`)."""
    pair = policy.targets(category, urgency, formal)
    out = {}
    for name, dur, s in (("sign", pair.sign, assigned_at or start), ("resolve", pair.resolve, start)):
        s = local(s)  # once, not again in deadline and schedule
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
    return f"{_key_prefix(case_id, target, round)}{stage}:{level}"


def _key_prefix(case_id: str, target: str, round: int) -> str:
    t = target if round == 0 else f"{target}.{round}"
    return f"sla:{case_id}:{t}:"


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


_STAGE_ORDER = attrgetter("at", "target", "level")


def pending_stages(state: "CaseState", policy: Policy, cal: WorkCalendar,
                   after: datetime | None = None) -> list[StageDue]:
    """Every stage instant still to come for the open targets, in time order.

    `after` drops instants at or before it (e.g. the worker's clock on restart; the
    dedup keys make re-firing harmless anyway). The list is finite: the ladder ends.
    """
    out: list[StageDue] = []
    cid = state.case_id
    fracs, step, sups = _policy_terms(policy, state.urgency, state.level or None)
    for t in (state.sign, state.resolve):  # as case_targets, then each target's timeline
        if t is None or not t.is_open:
            continue
        name, rnd = t.name, t.round
        start, due = local(t.start), local(t.due)
        stage_ats, _ = stage_instants(start, due, t.working, fracs, cal)
        esc_ats, _ = _ladder(due, step, len(sups), cal)
        prefix = _key_prefix(cid, name, rnd)
        for stage, at in zip(STAGES, stage_ats):
            if after is None or at > after:
                out.append(StageDue(cid, name, rnd, stage, 0, at, due, None, SEVERITY[stage], f"{prefix}{stage}:0"))
        for k, (at, sup) in enumerate(zip(esc_ats, sups), start=1):
            if after is None or at > after:
                out.append(StageDue(cid, name, rnd, "escalation", k, at, due, sup, SEVERITY["escalation"],
                                    f"{prefix}escalation:{k}"))
    out.sort(key=_STAGE_ORDER)
    return out


def next_stage(state: "CaseState", policy: Policy, cal: WorkCalendar, after: datetime) -> StageDue | None:
    """The single next stage due after `after` (for a timer wheel scheduling one at a time)."""
    stages = pending_stages(state, policy, cal, after)
    return stages[0] if stages else None
