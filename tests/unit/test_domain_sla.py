from datetime import datetime, timedelta

import pytest

from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import apply, replay
from fengqiao.domain.policy import Duration, load_policy
from fengqiao.domain.sla import (
    TZ, add_working_days, case_targets, deadline, dedup_key, extend, next_stage, open_targets, pending_stages,
    targets_for,
)
from domain_factory import assigned, extended, received, replied, signed

pytestmark = pytest.mark.unit
P = load_policy()
CAL = load_calendar()


def t(s: str) -> datetime:
    return datetime.fromisoformat(s)


def iso(d: datetime) -> str:
    return d.isoformat()


def plan(category, urgency, start, formal=False, level=None, policy=P, cal=CAL):
    return targets_for(category, urgency, t(start), policy, cal, formal=formal, level=level)


def test_just_before_national_day():
    p = plan("dispute", "normal", "2026-09-30T16:00:00+08:00")
    sign, res = p["sign"], p["resolve"]
    # 1st working day after 30 Sep is 8 Oct (1-7 Oct holiday): due 24:00 on 8 Oct
    assert iso(sign.due_at) == "2026-10-09T00:00:00+08:00"
    # working time: 8 h on 30 Sep + 24 h on 8 Oct = 32 h; 50 % = 16 h, 80 % = 25.6 h
    assert iso(sign.stages["reminder"]) == "2026-10-08T08:00:00+08:00"
    assert iso(sign.stages["warning"]) == "2026-10-08T17:36:00+08:00"
    assert sign.stages["overdue"] == sign.due_at
    # 15 working days: 8, 9, 10 (make-up Saturday), 12-16, 19-23, 26, 27 Oct
    assert iso(res.due_at) == "2026-10-28T00:00:00+08:00"
    assert not sign.estimated and not res.estimated


def test_just_before_spring_festival():
    p = plan("help", "pressing", "2026-02-13T10:00:00+08:00")  # Friday; 15-23 Feb off, 14 Feb worked
    assert iso(p["sign"].due_at) == "2026-02-15T00:00:00+08:00"  # make-up Saturday 14 Feb
    # ceil(5/2) = 3 working days: 14, 24, 25 Feb
    assert iso(p["resolve"].due_at) == "2026-02-26T00:00:00+08:00"
    # working time 14 h + 3 x 24 h = 86 h; 50 % = 43 h -> 14 h (13th) + 24 h (14th) + 5 h on 24 Feb
    assert iso(p["resolve"].stages["reminder"]) == "2026-02-24T05:00:00+08:00"


def test_received_on_a_makeup_saturday():
    p = plan("consult", "normal", "2026-02-14T09:00:00+08:00")
    assert iso(p["resolve"].due_at) == "2026-02-27T00:00:00+08:00"  # 24, 25, 26 Feb
    # 15 h on 14 Feb + 72 h = 87 h; 50 % = 43.5 h -> 15 + 24 (24 Feb) + 4.5 h on 25 Feb
    assert iso(p["resolve"].stages["reminder"]) == "2026-02-25T04:30:00+08:00"


def test_received_inside_a_holiday_counts_no_start_day_hours():
    p = plan("consult", "normal", "2026-10-03T10:00:00+08:00")
    assert iso(p["resolve"].due_at) == "2026-10-11T00:00:00+08:00"  # 8, 9, 10 Oct
    assert iso(p["resolve"].stages["reminder"]) == "2026-10-09T12:00:00+08:00"  # 36 of 72 h
    assert iso(p["resolve"].stages["warning"]) == "2026-10-10T09:36:00+08:00"  # 57.6 h
    assert iso(p["sign"].stages["reminder"]) == "2026-10-08T12:00:00+08:00"


def test_31_december_into_an_unknown_year_is_estimated():
    p = plan("consult", "normal", "2026-12-31T10:00:00+08:00")
    # 2027 unknown: Monday-Friday, so Fri 1 Jan, Mon 4, Tue 5 Jan
    assert iso(p["resolve"].due_at) == "2027-01-06T00:00:00+08:00"
    assert p["resolve"].estimated and p["sign"].estimated


def test_31_december_with_an_override_for_the_new_year(tmp_path):
    f = tmp_path / "o.toml"
    f.write_text("[2027]\nholidays = [2027-01-01, 2027-01-02, 2027-01-03]\n", "utf-8")
    p = plan("consult", "normal", "2026-12-31T10:00:00+08:00", cal=load_calendar(f))
    assert iso(p["resolve"].due_at) == "2027-01-07T00:00:00+08:00"
    assert not p["resolve"].estimated


def test_estimated_only_when_an_unknown_day_is_consulted():
    assert not plan("consult", "normal", "2026-12-20T10:00:00+08:00")["resolve"].estimated
    # the due is known, but escalation steps reach into 2027
    r = plan("consult", "normal", "2026-12-25T10:00:00+08:00", level="township")["resolve"]
    assert iso(r.due_at) == "2026-12-31T00:00:00+08:00" and not r.estimated
    assert r.escalation_estimated


@pytest.mark.parametrize("start, sign_due, resolve_due", [
    ("2026-09-30T23:50:00+08:00", "2026-10-01T00:20:00+08:00", "2026-10-01T23:50:00+08:00"),
    ("2026-12-31T23:40:00+08:00", "2027-01-01T00:10:00+08:00", "2027-01-01T23:40:00+08:00"),
])
def test_urgent_cases_at_23xx_use_natural_time(start, sign_due, resolve_due):
    p = plan("help", "urgent", start, level="township")
    assert iso(p["sign"].due_at) == sign_due and iso(p["resolve"].due_at) == resolve_due
    assert p["sign"].stages["reminder"] == t(start) + timedelta(minutes=15)
    assert p["sign"].stages["warning"] == t(start) + timedelta(minutes=24)
    assert not p["sign"].estimated and not p["resolve"].estimated
    # escalation every 2 h, township -> county -> city -> province
    assert [(k, at - p["resolve"].due_at, lv) for k, at, lv in p["resolve"].escalations] == [
        (1, timedelta(hours=2), "county"), (2, timedelta(hours=4), "city"), (3, timedelta(hours=6), "province")]


def test_any_input_offset_gives_the_same_instants():
    a = plan("report", "normal", "2026-09-30T16:00:00+08:00")
    b = plan("report", "normal", "2026-09-30T08:00:00+00:00")
    c = plan("report", "normal", "2026-09-30T03:00:00-05:00")
    assert a == b == c
    assert a["resolve"].due_at.tzinfo == TZ


def test_formal_track_is_60_natural_days():
    p = plan("complaint", "normal", "2026-09-30T10:00:00+08:00", formal=True)
    assert iso(p["resolve"].due_at) == "2026-11-30T00:00:00+08:00"  # 24:00 of 29 Nov
    assert not p["resolve"].working
    span = p["resolve"].due_at - t("2026-09-30T10:00:00+08:00")
    assert p["resolve"].stages["reminder"] == t("2026-09-30T10:00:00+08:00") + span / 2
    assert iso(p["sign"].due_at) == "2026-10-09T00:00:00+08:00"  # sign stays the normal target


def test_escalation_every_further_working_day_up_to_province():
    p = plan("dispute", "normal", "2026-09-30T16:00:00+08:00", level="township")
    # sign due 24:00 of 8 Oct; then 9 Oct (Fri), 10 Oct (make-up Sat), 12 Oct (Mon)
    assert [(k, iso(at), lv) for k, at, lv in p["sign"].escalations] == [
        (1, "2026-10-10T00:00:00+08:00", "county"),
        (2, "2026-10-11T00:00:00+08:00", "city"),
        (3, "2026-10-13T00:00:00+08:00", "province")]
    assert plan("dispute", "normal", "2026-09-30T16:00:00+08:00", level="province")["sign"].escalations == ()
    assert [lv for _, _, lv in plan("dispute", "normal", "2026-09-30T16:00:00+08:00", level="city")["sign"].escalations] == ["province"]
    assert len(plan("dispute", "normal", "2026-09-30T16:00:00+08:00", level="village")["sign"].escalations) == 4
    td = p["sign"]
    assert td.escalation_instants(t("2026-10-11T00:00:00+08:00")) == list(td.escalations[:2])
    assert td.next_escalation(t("2026-10-11T00:00:00+08:00")) == td.escalations[2]
    assert td.next_escalation(t("2026-10-13T00:00:00+08:00")) is None


def test_working_and_natural_extensions():
    due = t("2026-09-30T00:00:00+08:00")  # 24:00 of 29 Sep
    assert iso(extend(due, 2, "working_days", CAL)[0]) == "2026-10-09T00:00:00+08:00"  # 30 Sep, 8 Oct
    assert iso(extend(due, 30, "natural_days", CAL)[0]) == "2026-10-30T00:00:00+08:00"
    # a non-midnight due keeps its clock time
    assert iso(add_working_days(t("2026-09-30T15:00:00+08:00"), 1, CAL)[0]) == "2026-10-08T15:00:00+08:00"


def test_deadline_units():
    s = t("2026-09-30T16:00:00+08:00")
    assert deadline(s, Duration(90, "minutes"), CAL)[0] == s + timedelta(minutes=90)
    assert iso(deadline(s, Duration(1, "natural_days"), CAL)[0]) == "2026-10-02T00:00:00+08:00"


def test_extension_moves_the_case_deadline_and_stages():
    st = replay([received("c1", "2026-09-28T10:00:00+08:00", category="consult"),
                 assigned("c1", "2026-09-28T11:00:00+08:00")], P, CAL)
    assert iso(st.resolve.due) == "2026-10-09T00:00:00+08:00"  # 29, 30 Sep, 8 Oct
    st2 = apply(st, extended("c1", "2026-10-08T09:00:00+08:00", 2), P, CAL)
    assert iso(st2.resolve.due) == "2026-10-11T00:00:00+08:00"  # + 9, 10 Oct
    before = case_targets(st, P, CAL)["resolve"].stages["warning"]
    after = case_targets(st2, P, CAL)["resolve"].stages["warning"]
    assert after > before


def test_pending_stages_for_timers():
    st = replay([received("c2", "2026-09-30T16:00:00+08:00"), assigned("c2", "2026-09-30T16:00:00+08:00")], P, CAL)
    assert open_targets(st) == ["sign", "resolve"]
    stages = pending_stages(st, P, CAL)
    keys = [s.dedup_key for s in stages]
    assert "sla:c2:sign:reminder:0" in keys and "sla:c2:resolve:overdue:0" in keys
    assert "sla:c2:sign:escalation:1" in keys and "sla:c2:sign:escalation:3" in keys
    assert "sla:c2:sign:escalation:4" not in keys  # never past province
    assert [s.at for s in stages] == sorted(s.at for s in stages)
    esc = next(s for s in stages if s.dedup_key == "sla:c2:sign:escalation:1")
    assert esc.supervisor == "county" and esc.severity == "critical" and esc.level == 1
    later = pending_stages(st, P, CAL, after=t("2026-10-08T12:00:00+08:00"))
    assert "sla:c2:sign:reminder:0" not in [s.dedup_key for s in later]
    assert next_stage(st, P, CAL, t("2026-10-08T12:00:00+08:00")).dedup_key == "sla:c2:sign:warning:0"
    # signing closes the sign target: its stages disappear
    st = apply(st, signed("c2", "2026-10-08T09:00:00+08:00"), P, CAL)
    assert open_targets(st) == ["resolve"]
    assert all(s.target == "resolve" for s in pending_stages(st, P, CAL))
    st = apply(st, replied("c2", "2026-10-09T09:00:00+08:00"), P, CAL)
    assert pending_stages(st, P, CAL) == [] and open_targets(st) == []


def test_dedup_key_rounds():
    assert dedup_key("c", "resolve", "warning", 0) == "sla:c:resolve:warning:0"
    assert dedup_key("c", "resolve", "escalation", 2, round=1) == "sla:c:resolve.1:escalation:2"


def test_demo_policy_in_minutes():
    demo = load_policy(profile="demo")
    p = targets_for("dispute", "normal", t("2026-10-03T10:00:00+08:00"), demo, CAL, level="township")
    assert p["resolve"].due_at - t("2026-10-03T10:00:00+08:00") == timedelta(minutes=6)
    assert [at - p["resolve"].due_at for _, at, _ in p["resolve"].escalations] == [
        timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=3)]


def test_utc_start_on_a_different_local_date():
    # 2026-09-30T17:00Z is 1 Oct 01:00 in Shanghai: a holiday, so no start-day hours
    p = plan("consult", "normal", "2026-09-30T17:00:00+00:00")
    assert iso(p["resolve"].due_at) == "2026-10-11T00:00:00+08:00"


def test_naive_start_is_refused():
    with pytest.raises(ValueError):
        targets_for("consult", "normal", datetime(2026, 1, 5, 9), P, CAL)
