"""The prefix-sum calendar and the faster SLA engine give exactly the old results (hypothesis).

The reference below is the day-by-day implementation the fast paths replaced, copied
as it was; results are compared strictly (wall clock, tzinfo object and fold of every
datetime, flags, order, dedup keys), not just as equal instants.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengqiao.domain import sla
from fengqiao.domain.calendar import WorkCalendar, _build, load_calendar
from fengqiao.domain.lifecycle import CaseState, TargetState
from fengqiao.domain.policy import Duration, load_policy
from fengqiao.domain.sla import TZ, TargetDue

pytestmark = pytest.mark.unit
P = load_policy()
DEMO = load_policy(profile="demo")
CAL = load_calendar()
# 2027 made known (with a few holidays and a make-up Saturday) and a 2026 workday turned into a holiday
CAL_2027 = _build({2027: ({date(2027, 1, 1), date(2027, 2, 8), date(2027, 2, 9)}, {date(2027, 2, 6)}),
                   2026: ({date(2026, 12, 31)}, set())}, "test")
CALS = st.sampled_from([CAL, CAL_2027])
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_DAY = timedelta(days=1)
_EPS = timedelta(microseconds=1)


# ------------------------------------------------------------------ the old implementation (reference)
def ref_local(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError("naive")
    return dt.astimezone(TZ)


def ref_end_of_day(d: date) -> datetime:
    return datetime.combine(d + _DAY, time(0), TZ)


def ref_nth_workday_after(cal: WorkCalendar, d: date, n: int) -> tuple[date, bool]:
    if n < 1:
        raise ValueError("n must be >= 1")
    o = d.toordinal()
    est = False
    while n:
        o += 1
        c = cal._code(o)
        if c & 2:
            est = True
        if c & 1:
            n -= 1
    return date.fromordinal(o), est


def ref_add_working_days(instant: datetime, n: int, cal: WorkCalendar) -> tuple[datetime, bool]:
    instant = ref_local(instant)
    if instant.time() == time(0):
        d, est = ref_nth_workday_after(cal, instant.date() - _DAY, n)
        return ref_end_of_day(d), est
    d, est = ref_nth_workday_after(cal, instant.date(), n)
    return datetime.combine(d, instant.timetz()), est


def ref_deadline(start: datetime, dur: Duration, cal: WorkCalendar) -> tuple[datetime, bool]:
    s = ref_local(start)
    if dur.unit == "working_days":
        d, est = ref_nth_workday_after(cal, s.date(), dur.value)
        return ref_end_of_day(d), est
    if dur.unit == "natural_days":
        return ref_end_of_day(s.date() + timedelta(days=dur.value)), False
    if dur.unit == "hours":
        return s + timedelta(hours=dur.value), False
    return s + timedelta(minutes=dur.value), False


ref_working_segments = sla._working_segments  # the original day-by-day walk, kept in sla


def ref_stage_instants(start, due, working, fractions, cal):
    start, due = ref_local(start), ref_local(due)
    fracs = list(fractions)
    if due <= start:
        return [due for _ in fracs], False
    if not working:
        span = due - start
        return [due if f >= 1 else start + span * f for f in fracs], False
    return sla._walked_stage_instants(start, due, fracs, cal)  # the original day-by-day walk, kept in sla


def ref_escalation_at(due, step, k, cal):
    if step.unit == "working_days":
        return ref_add_working_days(due, step.value * k, cal)
    if step.unit == "natural_days":
        return ref_local(due) + timedelta(days=step.value * k), False
    if step.unit == "hours":
        return ref_local(due) + timedelta(hours=step.value * k), False
    return ref_local(due) + timedelta(minutes=step.value * k), False


def ref_schedule(target, start, due, working, policy, cal, urgency, level=None, round=0, estimated=False):
    th = policy.thresholds
    (rem, warn, over), est = ref_stage_instants(start, due, working, (th.reminder, th.warning, th.overdue), cal)
    step = policy.escalation_step(urgency)
    escs = []
    esc_est = False
    for k, sup in enumerate(sla.supervisors(level, policy.ladder), start=1):
        at, e = ref_escalation_at(due, step, k, cal)
        esc_est = esc_est or e
        escs.append((k, at, sup))
    return TargetDue(target, round, ref_local(start), ref_local(due), working,
                     {"reminder": rem, "warning": warn, "overdue": over}, tuple(escs), estimated or est, esc_est)


def ref_pending_stages(state, policy, cal, after=None):
    out = []
    for t in (state.sign, state.resolve):
        if t is None or not t.is_open:
            continue
        td = ref_schedule(t.name, t.start, t.due, t.working, policy, cal, state.urgency, state.level or None,
                          t.round, t.estimated)
        for stage, level, at, sup in td.timeline():
            if after is not None and at <= after:
                continue
            t_ = td.target if td.round == 0 else f"{td.target}.{td.round}"
            out.append(sla.StageDue(state.case_id, td.target, td.round, stage, level, at, td.due_at, sup,
                                    sla.SEVERITY[stage], f"sla:{state.case_id}:{t_}:{stage}:{level}"))
    out.sort(key=lambda s: (s.at, s.target, s.level))
    return out


def strict(x):
    """A value in which datetimes also show their tzinfo object and fold (== ignores both)."""
    if isinstance(x, datetime):
        return ("dt", x.replace(tzinfo=None, fold=0), id(x.tzinfo), x.fold)
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [strict(v) for v in x])
    if isinstance(x, dict):
        return ("dict", [(k, strict(v)) for k, v in x.items()])
    if isinstance(x, (TargetDue, sla.StageDue)):
        return (type(x).__name__, [strict(getattr(x, f)) for f in x.__slots__])
    return x


# ------------------------------------------------------------------ strategies
offsets = st.one_of(
    st.just(TZ), st.just(timezone(timedelta(hours=8))), st.just(timezone.utc),
    st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q))),
)
_windows = st.sampled_from([
    (datetime(2024, 1, 1), 4 * 366 * 86400),  # 2024–2027 (2027 is not in chinesecalendar: estimated)
    (datetime(2024, 9, 20), 30 * 86400), (datetime(2025, 9, 20), 30 * 86400), (datetime(2026, 9, 20), 30 * 86400),
    (datetime(2025, 1, 20), 30 * 86400), (datetime(2026, 2, 5), 30 * 86400),  # national day, spring festival
    (datetime(2026, 12, 10), 40 * 86400),  # known → unknown year
    (datetime(1999, 12, 1), 60 * 86400), (datetime(2060, 11, 20), 60 * 86400),  # the table's edges
])


@st.composite
def instants(draw):
    base, span = draw(_windows)
    wall = base + timedelta(seconds=draw(st.integers(min_value=0, max_value=span)))
    kind = draw(st.sampled_from(["any", "midnight", "micro"]))
    if kind == "midnight":
        wall = datetime.combine(wall.date(), time(0))
    elif kind == "micro":
        wall += timedelta(microseconds=draw(st.integers(min_value=0, max_value=999_999)))
    return wall.replace(tzinfo=TZ).astimezone(draw(offsets))


durations = st.one_of(
    st.builds(Duration, st.integers(min_value=1, max_value=40), st.just("working_days")),
    st.builds(Duration, st.integers(min_value=1, max_value=60), st.just("natural_days")),
    st.builds(Duration, st.integers(min_value=1, max_value=400), st.just("hours")),
    st.builds(Duration, st.integers(min_value=1, max_value=5000), st.just("minutes")),
)
fraction = st.one_of(st.sampled_from([0.0, 0.5, 0.8, 1.0, 0.3, 1e-9, 0.999999]),
                     st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=1.0, max_value=2.0))


# ------------------------------------------------------------------ calendar
@SETTINGS
@given(st.dates(min_value=date(1998, 1, 1), max_value=date(2062, 12, 31)), st.integers(min_value=1, max_value=60),
       CALS)
def test_nth_workday_after_matches_the_walk(d, n, cal):
    assert cal.nth_workday_after(d, n) == ref_nth_workday_after(cal, d, n)


@SETTINGS
@given(st.dates(min_value=date(1998, 1, 1), max_value=date(2062, 12, 31)), st.integers(min_value=1, max_value=20),
       st.integers(min_value=0, max_value=6), CALS)
def test_nth_workdays_after_matches_one_at_a_time(d, step, n, cal):
    ns = [step * k for k in range(1, n + 1)]
    got, est = cal.nth_workdays_after(d, ns)
    want = [ref_nth_workday_after(cal, d, k) for k in ns]
    assert got == [w[0] for w in want]
    assert est == any(w[1] for w in want)


def test_nth_workday_after_at_the_table_edges():
    for d in (date(1999, 12, 30), date(1999, 12, 31), date(2060, 12, 29), date(2060, 12, 30), date(2060, 12, 31)):
        for n in (1, 2, 3, 10):
            assert CAL.nth_workday_after(d, n) == ref_nth_workday_after(CAL, d, n), (d, n)
    with pytest.raises(ValueError):
        CAL.nth_workday_after(date(2026, 1, 1), 0)
    with pytest.raises(ValueError):
        CAL.nth_workdays_after(date(2026, 1, 1), [0, 1])


@SETTINGS
@given(instants(), instants(), CALS)
def test_working_time_is_the_sum_of_the_working_segments(a, b, cal):
    start, end = sorted((ref_local(a), ref_local(b)))
    if start == end:
        return
    got = cal.working_time(start, end)
    segs, est = ref_working_segments(start, end, cal)
    if got is None:  # only when a day is outside the table
        assert start.year < 2000 or (end - _EPS).year > 2060
        return
    assert got == (sum(((e - b) for b, e in segs), timedelta()) // _EPS, est)


# ------------------------------------------------------------------ SLA engine
@SETTINGS
@given(instants(), instants(), st.booleans(), st.lists(fraction, min_size=1, max_size=4), CALS)
def test_stage_instants_match(start, due, working, fracs, cal):
    assert strict(sla.stage_instants(start, due, working, fracs, cal)) == \
        strict(ref_stage_instants(start, due, working, fracs, cal))


@SETTINGS
@given(instants(), durations, st.lists(fraction, min_size=1, max_size=3), CALS)
def test_stage_instants_of_real_deadlines_match(start, dur, fracs, cal):
    due, _ = ref_deadline(start, dur, cal)
    for working in (True, False):
        assert strict(sla.stage_instants(start, due, working, fracs, cal)) == \
            strict(ref_stage_instants(start, due, working, fracs, cal))


@SETTINGS
@given(instants(), durations, st.integers(min_value=1, max_value=30), CALS)
def test_deadline_add_and_escalations_match(start, dur, n, cal):
    assert strict(sla.deadline(start, dur, cal)) == strict(ref_deadline(start, dur, cal))
    assert strict(sla.add_working_days(start, n, cal)) == strict(ref_add_working_days(start, n, cal))
    want = [ref_escalation_at(start, dur, k, cal) for k in range(1, 5)]
    for k in range(1, 5):
        assert strict(sla.escalation_at(start, dur, k, cal)) == strict(want[k - 1])
    ats, est = sla.escalations_at(start, dur, 4, cal)
    assert strict(ats) == strict([w[0] for w in want]) and est == any(w[1] for w in want)


@SETTINGS
@given(instants(), st.sampled_from(["consult", "help", "dispute", "report", "complaint", "suggestion"]),
       st.sampled_from(["urgent", "pressing", "normal"]), st.booleans(), st.sampled_from([P, DEMO]),
       st.sampled_from([None, "village", "township", "county", "city", "province"]), CALS,
       st.one_of(st.none(), instants()))
def test_targets_for_and_schedule_match(start, category, urgency, formal, policy, level, cal, assigned_at):
    got = sla.targets_for(category, urgency, start, policy, cal, formal=formal, assigned_at=assigned_at, level=level)
    pair = policy.targets(category, urgency, formal)
    for name, dur, s in (("sign", pair.sign, assigned_at or start), ("resolve", pair.resolve, start)):
        due, est = ref_deadline(s, dur, cal)
        want = ref_schedule(name, s, due, dur.working, policy, cal, urgency, level, 0, est)
        assert strict(got[name]) == strict(want)
        assert type(got[name].stages) is dict


@st.composite
def targets(draw, name):
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return None
    start = draw(instants())
    dur = draw(durations)
    due = ref_deadline(start, dur, CAL)[0].astimezone(draw(offsets))  # as read back from JSON: any offset
    if draw(st.booleans()):  # an extended or re-planned due, anywhere (even before the start)
        due = draw(instants())
    outcome = draw(st.sampled_from(["", "", "", "met", "cancelled"]))
    return TargetState(name, draw(st.integers(min_value=0, max_value=3)), start, due, dur.working,
                       draw(st.booleans()), start if outcome else None, outcome)


@SETTINGS
@given(targets("sign"), targets("resolve"), st.sampled_from(["urgent", "pressing", "normal"]),
       st.sampled_from(["", "village", "township", "county", "city", "province"]), st.sampled_from([P, DEMO]),
       CALS, st.one_of(st.none(), instants()), st.sampled_from(["p1", "案-7"]))
def test_pending_stages_match(sign, resolve, urgency, level, policy, cal, after, case_id):
    state = CaseState(case_id=case_id, urgency=urgency, level=level, sign=sign, resolve=resolve)
    got = sla.pending_stages(state, policy, cal, after)
    assert strict(got) == strict(ref_pending_stages(state, policy, cal, after))
    assert strict(got) == strict(sla.pending_stages(CaseState.from_dict(state.to_dict()), policy, cal, after))
    if after is not None:
        assert sla.next_stage(state, policy, cal, after) == (got[0] if got else None)


def test_unknown_years_are_flagged_as_before():
    start = datetime(2026, 12, 24, 15, 30, tzinfo=TZ)
    for cal, estimated in ((CAL, True), (CAL_2027, False)):
        due, est = sla.deadline(start, Duration(15, "working_days"), cal)
        assert (due, est) == ref_deadline(start, Duration(15, "working_days"), cal) and est is estimated
        got = sla.schedule("resolve", start, due, True, P, cal, "normal", "township", 0, est)
        want = ref_schedule("resolve", start, due, True, P, cal, "normal", "township", 0, est)
        assert strict(got) == strict(want) and got.escalation_estimated is estimated


def test_ladder_memo_is_bounded_and_keyed_on_the_calendar():
    due = datetime(2026, 12, 31, tzinfo=TZ)
    step = Duration(1, "working_days")
    a = sla._ladder(due, step, 4, CAL)
    b = sla._ladder(due, step, 4, CAL_2027)
    assert a != b  # 31 Dec 2026 is a holiday in CAL_2027, and 2027 is known there
    for i in range(5000):
        sla._ladder(due + timedelta(minutes=i), step, 1, CAL)
    assert len(sla._LADDERS) <= 4096
