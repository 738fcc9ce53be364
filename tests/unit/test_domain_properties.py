"""Property-based tests of the SLA engine and the state machine (hypothesis)."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengqiao.contract import parse_event
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import CaseState, LifecycleError, apply, seen_id
from fengqiao.domain.policy import Duration, load_policy
from fengqiao.domain.sla import deadline, local, stage_instants, targets_for

pytestmark = pytest.mark.unit
P = load_policy()
DEMO = load_policy(profile="demo")
CAL = load_calendar()
EPS = timedelta(microseconds=1)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
starts = st.builds(
    lambda base, secs, tz: (base + timedelta(seconds=secs)).replace(tzinfo=timezone.utc).astimezone(tz),
    st.sampled_from([datetime(2004, 1, 1), datetime(2015, 1, 1), datetime(2025, 9, 1), datetime(2026, 9, 1)]),
    st.integers(min_value=0, max_value=3 * 365 * 86400), offsets,
)
units = st.sampled_from(["minutes", "hours", "natural_days", "working_days"])


@FAST
@given(starts, units, st.integers(min_value=1, max_value=40))
def test_deadline_never_before_start_and_monotone_in_n(start, unit, n):
    due, _ = deadline(start, Duration(n, unit), CAL)
    due_next, _ = deadline(start, Duration(n + 1, unit), CAL)
    assert due > start
    assert due_next > due


@FAST
@given(starts, st.integers(min_value=1, max_value=30))
def test_working_day_deadline_ends_a_working_day(start, n):
    due, _ = deadline(start, Duration(n, "working_days"), CAL)
    assert due.hour == 0 and due.minute == 0 and due.second == 0
    last_day = (due - EPS).date()
    assert CAL.is_workday(last_day)
    assert last_day > local(start).date()
    # exactly n working days strictly after the start date, up to the due day
    days, _ = CAL.workdays_between(local(start).date() + timedelta(days=1), last_day)
    assert len(days) == n


@FAST
@given(starts, st.sampled_from(["consult", "help", "dispute", "suggestion"]),
       st.sampled_from(["urgent", "pressing", "normal"]), st.booleans(), st.sampled_from([P, DEMO]),
       st.sampled_from([None, "village", "township", "county", "city", "province"]))
def test_stages_are_ordered_and_escalations_follow(start, category, urgency, formal, policy, level):
    for td in targets_for(category, urgency, start, policy, CAL, formal=formal, level=level).values():
        s = td.stages
        assert td.start <= s["reminder"] <= s["warning"] <= s["overdue"] == td.due_at
        ats = [at for _, at, _ in td.escalations]
        assert all(a < b for a, b in zip([td.due_at] + ats, ats))
        assert len(td.escalations) <= 4
        if td.working:
            for name in ("reminder", "warning"):
                at = s[name]
                # a working-time fraction lands inside (or at the edge of) a working day
                assert CAL.is_workday(at.date()) or CAL.is_workday((at - EPS).date())


@FAST
@given(starts, st.integers(min_value=1, max_value=20), st.floats(min_value=0.01, max_value=0.99))
def test_working_fraction_is_monotone(start, n, f):
    due, _ = deadline(start, Duration(n, "working_days"), CAL)
    (a, b), _ = stage_instants(start, due, True, (f, min(f + 0.01, 1.0)), CAL)
    assert local(start) <= a <= b <= due


# ------------------------------------------------------------------ state machine
KINDS = ["assigned", "assigned_county", "signed", "returned", "replied", "replied_unresolved", "extended",
         "evaluated_ok", "evaluated_bad", "callback_bad", "callback_none", "escalated", "online", "merged",
         "archived", "dup"]


def _event(cid, i, kind, at):
    payload = {
        "assigned": ("case.assigned", {"department": "乡镇综治中心", "level": "township"}),
        "assigned_county": ("case.assigned", {"department": "乡镇综治中心", "level": "county"}),
        "signed": ("case.signed", {"department": "乡镇综治中心"}),
        "returned": ("case.returned", {"department": "乡镇综治中心", "reason": "非本部门"}),
        "replied": ("case.replied", {"department": "乡镇综治中心", "result": "已办", "resolved": True}),
        "replied_unresolved": ("case.replied", {"department": "乡镇综治中心", "result": "说明", "resolved": False}),
        "extended": ("case.extended", {"days": 3, "reason": "复杂", "approved_by": "领导"}),
        "evaluated_ok": ("case.evaluated", {"rating": "satisfied"}),
        "evaluated_bad": ("case.evaluated", {"rating": "dissatisfied"}),
        "callback_bad": ("case.callback", {"reached": True, "rating": "dissatisfied"}),
        "callback_none": ("case.callback", {"reached": False}),
        "escalated": ("case.escalated", {"to_level": "city", "reason": "提级"}),
        "online": ("case.resolved_online", {"answer": "答复"}),
        "merged": ("case.merged", {"into_case_id": "other"}),
        "archived": ("case.archived", {}),
    }[kind]
    return parse_event({"schema_version": 1, "event_id": str(uuid.UUID(int=i + 1)), "event_type": payload[0],
                        "case_id": cid, "occurred_at": at.isoformat(), "region_code": "130123",
                        "channel": "internal", "payload": payload[1]})


sequences = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(min_value=0, max_value=3 * 86400)),
                     min_size=1, max_size=14)  # within SEEN_MAX, so `seen` holds every accepted id


def _build(seq, start, formal):
    cid = "p1"
    evs = [parse_event({"schema_version": 1, "event_id": str(uuid.UUID(int=10_000)), "event_type": "petition.received",
                        "case_id": cid, "occurred_at": start.isoformat(), "region_code": "130123", "channel": "web",
                        "payload": {"category": "dispute", "topic": "邻里纠纷", "urgency": "normal", "title": "t",
                                    "content": "c", "formal_petition": formal}})]
    at = start
    for i, (kind, gap) in enumerate(seq):
        at = at + timedelta(seconds=gap)
        evs.append(evs[-1] if kind == "dup" else _event(cid, i, kind, at))
    return evs


def _run(evs, through_json=False):
    state, errors = None, 0
    for e in evs:
        try:
            state = apply(state, e, P, CAL)
        except LifecycleError:
            errors += 1
        if through_json and state is not None:
            state = CaseState.from_dict(state.to_dict())
    return state, errors


def _rejected(final, e):
    """Accepted events are exactly those whose ids the (short-history) state remembers."""
    return seen_id(str(e.event_id)) not in final.seen


@FAST
@given(sequences, starts, st.booleans())
def test_replaying_a_sequence_twice_gives_the_same_state(seq, start, formal):
    evs = _build(seq, start, formal)
    first, e1 = _run(evs)
    second, e2 = _run(evs)
    assert first == second and e1 == e2
    assert first.to_dict() == second.to_dict()
    # ... also through the JSON form the streams worker stores, and with every event delivered twice
    assert _run(evs, through_json=True)[0] == first
    doubled = [e for ev in evs for e in (ev, ev)]
    assert _run(doubled)[0] == first
    assert first.version == len({str(e.event_id) for e in evs}) - len(
        {str(e.event_id) for e in evs if _rejected(first, e)})
    assert first.return_count >= 0 and first.reopen_count <= sum(1 for k, _ in seq if k.endswith("_bad"))


def _build_valid(choices, start, formal):
    """A sequence the state machine accepts: each choice picks the first allowed kind from its index on."""
    evs = _build([], start, formal)
    state = apply(None, evs[0], P, CAL)
    real = [k for k in KINDS if k != "dup"]
    at = start
    for i, (c, gap) in enumerate(choices):
        at = at + timedelta(seconds=gap)
        for j in range(len(real)):
            e = _event("p1", 100 + i, real[(c + j) % len(real)], at)
            try:
                state = apply(state, e, P, CAL)
            except LifecycleError:
                continue
            evs.append(e)
            break
    return evs, state


@FAST
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=5 * 86400)),
                min_size=1, max_size=40), starts, st.booleans())
def test_valid_sequences_replay_identically(choices, start, formal):
    evs, built = _build_valid(choices, start, formal)
    again, errors = _run(evs)
    assert errors == 0 and again == built and _run(evs, through_json=True)[0] == built
    assert built.version == len(evs)
    if built.reopen_count >= 2:
        assert built.escalations >= 1 or built.level == "province"
    assert built.reopen_count == sum(1 for e in evs if getattr(e.payload, "rating", None) == "dissatisfied"
                                     and (e.event_type == "case.evaluated" or e.payload.reached))
    assert built.return_count == sum(1 for e in evs if e.event_type == "case.returned")
