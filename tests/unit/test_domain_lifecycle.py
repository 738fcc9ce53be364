import json
from datetime import datetime, timedelta

import pytest

from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.countdown import case_countdowns, most_urgent, remaining
from fengqiao.domain.lifecycle import SEEN_MAX, CaseState, LifecycleError, apply, replay, snapshot
from fengqiao.domain.policy import load_policy
from fengqiao.records import CaseSnapshot
from domain_factory import (
    archived, assigned, callback, ev, evaluated, extended, received, replied, returned, signed,
)

pytestmark = pytest.mark.unit
P = load_policy()
CAL = load_calendar()


def t(s: str) -> datetime:
    return datetime.fromisoformat(s)


def run(*events, state=None):
    return replay(events, P, CAL, state)


def happy(cid="h1"):
    return [received(cid, "2026-09-28T09:00:00+08:00"), assigned(cid, "2026-09-28T09:30:00+08:00"),
            signed(cid, "2026-09-28T10:00:00+08:00"), replied(cid, "2026-09-29T15:00:00+08:00"),
            evaluated(cid, "2026-09-29T18:00:00+08:00", "basically_satisfied"),
            archived(cid, "2026-09-30T09:00:00+08:00")]


def test_happy_path_through_every_stage():
    evs = happy()
    statuses = []
    st = None
    for e in evs:
        st = apply(st, e, P, CAL)
        statuses.append(st.status)
    assert statuses == ["received", "assigned", "signed", "replied", "evaluated", "archived"]
    assert st.version == 6 and st.signed_on_time is True and st.resolved_on_time is True
    assert st.first_rating == st.last_rating == "basically_satisfied"
    assert st.levels == ("township",) and st.return_count == 0 and st.reopen_count == 0
    assert st.received_at == t("2026-09-28T09:00:00+08:00") and st.closed_at == t("2026-09-30T09:00:00+08:00")
    snap = snapshot(st)
    assert isinstance(snap, CaseSnapshot)
    assert snap.prefecture_code == "130100" and snap.status == "archived" and snap.version == 6
    assert snap.sign_due_at == t("2026-09-30T00:00:00+08:00")


def test_duplicate_event_id_changes_nothing():
    evs = happy("d1")
    st = run(*evs[:3])
    assert apply(st, evs[1], P, CAL) is st
    assert apply(st, evs[2], P, CAL) is st


def test_seen_ids_are_bounded():
    st = run(received("b1", "2026-09-28T09:00:00+08:00"))
    for i in range(SEEN_MAX + 10):
        st = apply(st, extended("b1", "2026-09-28T10:00:00+08:00", 1), P, CAL)
    assert len(st.seen) == SEEN_MAX


def test_signed_on_an_archived_case_is_a_typed_error():
    st = run(*happy("a1"))
    e = signed("a1", "2026-10-09T09:00:00+08:00")
    with pytest.raises(LifecycleError) as exc:
        apply(st, e, P, CAL)
    err = exc.value
    assert (err.case_id, err.event_id, err.event_type) == ("a1", str(e.event_id), "case.signed")
    assert "archived" in str(err) and "归档" in str(err)


@pytest.mark.parametrize("events, bad, reason", [
    ([], signed("e1", "2026-09-28T10:00:00+08:00"), "no petition.received"),
    ([received("e1", "2026-09-28T09:00:00+08:00")], received("e1", "2026-09-28T09:05:00+08:00"), "already received"),
    ([received("e1", "2026-09-28T09:00:00+08:00")], signed("e1", "2026-09-28T10:00:00+08:00"), "status is 'received'"),
    ([received("e1", "2026-09-28T09:00:00+08:00"), assigned("e1", "2026-09-28T09:30:00+08:00")],
     signed("e1", "2026-09-28T10:00:00+08:00", department="别的部门"), "not the assigned one"),
    ([received("e1", "2026-09-28T09:00:00+08:00"), assigned("e1", "2026-09-28T09:30:00+08:00")],
     replied("e1", "2026-09-28T10:00:00+08:00"), "status is 'assigned'"),
    ([received("e1", "2026-09-28T09:00:00+08:00"), assigned("e1", "2026-09-28T09:30:00+08:00")],
     ev("e1", "case.resolved_online", "2026-09-28T10:00:00+08:00", answer="答复"), "status is 'assigned'"),
    ([received("e1", "2026-09-28T09:00:00+08:00"), assigned("e1", "2026-09-28T09:30:00+08:00", level="county")],
     ev("e1", "case.escalated", "2026-09-28T10:00:00+08:00", to_level="township", reason="x"), "not above"),
    ([received("e1", "2026-09-28T09:00:00+08:00")], evaluated("e1", "2026-09-28T10:00:00+08:00"), "status is 'received'"),
    ([received("e1", "2026-09-28T09:00:00+08:00")],
     ev("e1", "case.merged", "2026-09-28T10:00:00+08:00", into_case_id="e1"), "into itself"),
    ([received("e1", "2026-09-28T09:00:00+08:00")], archived("e1", "2026-09-28T10:00:00+08:00"), "status is 'received'"),
    (happy("e1")[:4], replied("e1", "2026-09-30T10:00:00+08:00"), "already has a resolved reply"),
    (happy("e1")[:4], extended("e1", "2026-09-30T10:00:00+08:00", 3), "no open resolve deadline"),
])
def test_disallowed_events(events, bad, reason):
    st = run(*events) if events else None
    with pytest.raises(LifecycleError, match=reason):
        apply(st, bad, P, CAL)


def test_event_for_another_case_is_refused():
    st = run(received("x1", "2026-09-28T09:00:00+08:00"))
    with pytest.raises(LifecycleError, match="is for case"):
        apply(st, assigned("x2", "2026-09-28T09:30:00+08:00"), P, CAL)


def test_returns_are_counted_and_restart_the_sign_clock():
    st = run(received("r1", "2026-09-28T09:00:00+08:00"), assigned("r1", "2026-09-28T09:30:00+08:00"),
             returned("r1", "2026-09-28T11:00:00+08:00"),
             assigned("r1", "2026-09-29T09:00:00+08:00", department="县人社局", level="county"),
             signed("r1", "2026-09-29T10:00:00+08:00", department="县人社局"),
             returned("r1", "2026-09-29T11:00:00+08:00", department="县人社局"))
    assert st.return_count == 2 and st.status == "returned" and st.department == ""
    assert st.assign_count == 2 and st.levels == ("township", "county")
    assert st.resolve.is_open and st.resolve.start == t("2026-09-28T09:00:00+08:00")  # resolve keeps running
    st = apply(st, assigned("r1", "2026-10-08T09:00:00+08:00", department="乡镇司法所"), P, CAL)
    assert st.sign.round == 2 and st.sign.start == t("2026-10-08T09:00:00+08:00")
    assert st.sign.due == t("2026-10-10T00:00:00+08:00")
    assert snapshot(st).return_count == 2


def test_reopening_twice_escalates_on_the_second():
    cid = "o1"
    st = run(received(cid, "2026-09-28T09:00:00+08:00"), assigned(cid, "2026-09-28T09:30:00+08:00"),
             signed(cid, "2026-09-28T10:00:00+08:00"), replied(cid, "2026-09-29T15:00:00+08:00"))
    first_due = st.resolve.due
    st = apply(st, evaluated(cid, "2026-09-30T10:00:00+08:00", "dissatisfied"), P, CAL)
    assert st.status == "reopened" and st.reopen_count == 1 and st.level == "township"
    assert st.resolve.is_open and st.resolve.round == 1
    assert st.resolve.start == t("2026-09-30T10:00:00+08:00") and st.resolve.due > first_due
    assert st.resolved_on_time is None and not st.resolved
    st = run(assigned(cid, "2026-10-08T09:00:00+08:00"), signed(cid, "2026-10-08T10:00:00+08:00"),
             replied(cid, "2026-10-09T10:00:00+08:00"), state=st)
    assert st.resolved_on_time is True
    st = apply(st, callback(cid, "2026-10-10T10:00:00+08:00", rating="dissatisfied"), P, CAL)
    assert st.status == "reopened" and st.reopen_count == 2
    assert st.level == "county" and st.levels == ("township", "county") and st.escalations == 1
    assert st.resolve.round == 2
    assert st.first_rating == "dissatisfied" and st.last_rating == "dissatisfied"
    st = run(assigned(cid, "2026-10-12T09:00:00+08:00", department="县矛调中心", level="county"),
             signed(cid, "2026-10-12T10:00:00+08:00", department="县矛调中心"),
             replied(cid, "2026-10-13T10:00:00+08:00"), evaluated(cid, "2026-10-13T12:00:00+08:00", "satisfied"),
             archived(cid, "2026-10-14T09:00:00+08:00"), state=st)
    assert st.status == "archived" and st.last_rating == "satisfied" and st.first_rating == "dissatisfied"
    assert snapshot(st).reopen_count == 2 and snapshot(st).escalation_level == 1


def test_unreached_callback_changes_only_the_version():
    st = run(*happy("cb")[:4])
    st2 = apply(st, callback("cb", "2026-09-30T10:00:00+08:00", reached=False), P, CAL)
    assert st2.status == "replied" and st2.version == st.version + 1 and st2.last_rating == ""


def test_merged_and_resolved_online_close_without_dispatch():
    m = run(received("m1", "2026-09-28T09:00:00+08:00"),
            ev("m1", "case.merged", "2026-09-28T09:05:00+08:00", into_case_id="m0"))
    assert m.status == "merged" and m.merged_into == "m0" and m.assigned_at is None
    assert not m.resolve.is_open and m.resolve.outcome == "cancelled" and m.closed_at is not None
    o = run(received("q1", "2026-09-28T09:00:00+08:00", category="consult"),
            ev("q1", "case.resolved_online", "2026-09-28T09:20:00+08:00", answer="政策答复"))
    assert o.status == "resolved_online" and o.resolved_online and o.assigned_at is None
    assert o.resolved_on_time is True and o.closed_at == t("2026-09-28T09:20:00+08:00")
    o = run(evaluated("q1", "2026-09-28T10:00:00+08:00"), archived("q1", "2026-09-28T11:00:00+08:00"), state=o)
    assert o.status == "archived" and o.resolved_online
    assert run(archived("m1", "2026-09-29T09:00:00+08:00"), state=m).status == "archived"


def test_formal_track_allows_exactly_one_extension_of_natural_days():
    st = run(received("f1", "2026-09-30T10:00:00+08:00", formal=True))
    assert st.resolve.due == t("2026-11-30T00:00:00+08:00")
    st = apply(st, extended("f1", "2026-11-20T10:00:00+08:00", 30), P, CAL)
    assert st.resolve.due == t("2026-12-30T00:00:00+08:00") and st.extension_count == 1
    with pytest.raises(LifecycleError, match="at most 1 extension"):
        apply(st, extended("f1", "2026-12-20T10:00:00+08:00", 5), P, CAL)


def test_normal_track_extensions_add_working_days_repeatedly():
    st = run(received("n1", "2026-09-28T10:00:00+08:00", category="consult"))
    assert st.resolve.due == t("2026-10-09T00:00:00+08:00")
    st = run(extended("n1", "2026-09-29T10:00:00+08:00", 1), extended("n1", "2026-09-29T11:00:00+08:00", 2), state=st)
    assert st.resolve.due == t("2026-10-13T00:00:00+08:00")  # + 9 Oct, 10 Oct (Sat, worked), 12 Oct
    assert st.extension_days == 3


def test_state_round_trips_through_json_compactly():
    evs = happy("j1")
    st = run(*evs[:5])
    d = st.to_dict()
    text = json.dumps(d, ensure_ascii=False)
    back = CaseState.from_dict(json.loads(text))
    assert back == st
    assert back.to_dict() == d
    assert len(text) < 2000
    # a round-tripped state keeps working
    assert apply(back, archived("j1", "2026-09-30T09:00:00+08:00"), P, CAL).status == "archived"
    assert apply(back, evs[2], P, CAL) is back  # seen ids survive the round trip


def test_estimated_flag_reaches_the_state_and_snapshot():
    st = run(received("y1", "2026-12-30T10:00:00+08:00", category="consult"))
    assert st.calendar_estimated and snapshot(st).calendar_estimated


def test_countdowns_with_injected_now():
    st = run(received("k1", "2026-09-30T16:00:00+08:00"), assigned("k1", "2026-09-30T16:00:00+08:00"))
    before = {c.target: c for c in case_countdowns(st, t("2026-09-30T17:00:00+08:00"), P, CAL)}
    assert before["sign"].stage == "none" and before["sign"].next_stage == "reminder"
    assert before["sign"].next_at == t("2026-10-08T08:00:00+08:00")
    assert before["sign"].remaining == t("2026-10-09T00:00:00+08:00") - t("2026-09-30T17:00:00+08:00")
    mid = {c.target: c for c in case_countdowns(st, t("2026-10-08T18:00:00+08:00"), P, CAL)}
    assert mid["sign"].stage == "warning" and mid["sign"].next_stage == "overdue"
    late = {c.target: c for c in case_countdowns(st, t("2026-10-10T12:00:00+08:00"), P, CAL)}
    assert late["sign"].stage == "escalation" and late["sign"].level == 1 and late["sign"].supervisor == "county"
    assert late["sign"].overdue and late["sign"].next_level == 2
    assert late["resolve"].stage == "none"
    assert remaining(st, t("2026-10-08T00:00:00+08:00"), "sign") == timedelta(days=1)
    other = run(received("k2", "2026-09-30T16:00:00+08:00", urgency="urgent"))
    top = most_urgent([st, other], t("2026-09-30T17:00:00+08:00"))
    assert top[0][0].case_id == "k2"


def test_snapshot_writes_each_current_rounds_status_down():
    cid = "j1"
    s = snapshot(run(received(cid, "2026-09-28T09:00:00+08:00"), assigned(cid, "2026-09-28T09:30:00+08:00")))
    assert (s.phase, s.sign_status, s.resolve_status, s.assign_count) == ("open", "pending", "pending", 1)
    s = snapshot(run(received(cid, "2026-09-28T09:00:00+08:00"), assigned(cid, "2026-09-28T09:30:00+08:00"),
                     returned(cid, "2026-09-28T09:40:00+08:00")))
    assert (s.sign_status, s.sign_ended_at) == ("dropped", t("2026-09-28T09:40:00+08:00"))  # back at dispatch
    # signed on time, re-opened, re-assigned: the new round is pending, the old on-time flag is not reported
    s = snapshot(run(*happy(cid)[:4], evaluated(cid, "2026-09-30T09:00:00+08:00", "dissatisfied"),
                     assigned(cid, "2026-09-30T10:00:00+08:00")))
    assert (s.phase, s.sign_status, s.signed_on_time, s.resolve_status, s.resolve_met_count) == \
        ("open", "pending", None, "pending", 1)
    s = snapshot(run(*happy(cid)))
    assert (s.phase, s.resolve_status, s.resolve_met_count) == ("closed", "met", 1)
