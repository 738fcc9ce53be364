"""The numbers' meaning (DESIGN.md "What the numbers mean"): phases, target statuses,
overdue, the eight rates with their counts, and fair rankings."""

from datetime import date, datetime

import pytest

from fengqiao.domain import metrics
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import replay, snapshot
from fengqiao.domain.metrics import Board, Rate
from fengqiao.domain.phase import Phase, TargetStatus, is_overdue, legacy_judgement, next_deadline
from fengqiao.domain.policy import load_policy
from fengqiao.records import CaseSnapshot
from domain_factory import archived, assigned, callback, ev, evaluated, received, replied, returned, signed

pytestmark = pytest.mark.unit
P = load_policy()
CAL = load_calendar()
T0 = "2026-09-28T09:00:00+08:00"  # a Monday
LATER = datetime.fromisoformat("2026-12-01T00:00:00+08:00")


def case(cid, *steps, category="consult"):
    return snapshot(replay([received(cid, T0, category=category)] + list(steps), P, CAL))


def at(s: str) -> datetime:
    return datetime.fromisoformat(s)


@pytest.fixture
def cases():
    return [
        # a: signed on time, resolved on time, satisfied (awaiting archive)
        case("a", assigned("a", "2026-09-28T09:30:00+08:00"), signed("a", "2026-09-28T10:00:00+08:00"),
             replied("a", "2026-09-29T10:00:00+08:00"), evaluated("a", "2026-09-29T11:00:00+08:00", "satisfied")),
        # b: returned once, signed late, resolved late, dissatisfied -> re-opened (a new round, pending)
        case("b", assigned("b", "2026-09-28T09:30:00+08:00"), returned("b", "2026-09-28T09:40:00+08:00"),
             assigned("b", "2026-09-28T10:00:00+08:00"), signed("b", "2026-10-09T10:00:00+08:00"),
             replied("b", "2026-10-10T10:00:00+08:00"), evaluated("b", "2026-10-10T11:00:00+08:00", "dissatisfied")),
        # c: answered online
        case("c", ev("c", "case.resolved_online", "2026-09-28T09:10:00+08:00", answer="答复")),
        # d: a duplicate of "a"
        case("d", ev("d", "case.merged", "2026-09-28T09:05:00+08:00", into_case_id="a")),
        # e: still unassigned
        case("e"),
    ]


def test_phases_and_target_statuses(cases):
    a, b, c, d, e = cases
    assert [x.phase for x in cases] == [Phase.awaiting_evaluation, Phase.open, Phase.closed, Phase.merged, Phase.open]
    assert (a.sign_status, a.resolve_status) == (TargetStatus.met, TargetStatus.met)
    assert a.sign_ended_at == at("2026-09-28T10:00:00+08:00") and a.resolve_ended_at == at("2026-09-29T10:00:00+08:00")
    assert (b.sign_status, b.resolve_status, b.resolve_met_count, b.assign_count) == ("met", "pending", 1, 2)
    assert b.signed_on_time is False
    assert (c.sign_status, c.resolve_status) == ("none", "met")
    assert (d.sign_status, d.resolve_status) == ("none", "dropped")
    assert (e.sign_status, e.resolve_status) == ("none", "pending")


def test_answered_and_waiting_for_evaluation_is_never_overdue():
    """The issue's first finding: a resolved reply on time, waiting for the rating, was counted 已超期."""
    waiting = case("w", assigned("w", "2026-09-28T09:30:00+08:00"), signed("w", "2026-09-28T10:00:00+08:00"),
                   replied("w", "2026-09-29T10:00:00+08:00"))
    assert waiting.phase == Phase.awaiting_evaluation and waiting.resolve_due_at < LATER
    assert not is_overdue(waiting, LATER) and next_deadline(waiting, LATER) is None
    assert metrics.board([waiting], LATER) == Board(open=0, awaiting=1, due24=0, overdue=0)


def test_unanswered_and_answered_unresolved_are_overdue():
    silent = case("s", assigned("s", "2026-09-28T09:30:00+08:00"))
    unresolved = case("u", assigned("u", "2026-09-28T09:30:00+08:00"), signed("u", "2026-09-28T10:00:00+08:00"),
                      replied("u", "2026-09-29T10:00:00+08:00", resolved=False))
    assert unresolved.phase == Phase.open and unresolved.resolve_status == TargetStatus.pending
    assert is_overdue(silent, LATER) and is_overdue(unresolved, LATER)
    early = at("2026-09-28T09:40:00+08:00")
    assert not is_overdue(silent, early) and next_deadline(silent, early)[0] == "sign"
    assert next_deadline(unresolved, at("2026-09-30T09:00:00+08:00"))[0] == "resolve"


def test_archived_merged_and_answered_online_are_not_open(cases):
    arch = case("x", assigned("x", "2026-09-28T09:30:00+08:00"), signed("x", "2026-09-28T10:00:00+08:00"),
                replied("x", "2026-09-29T10:00:00+08:00"), archived("x", "2026-09-30T10:00:00+08:00"))
    for c in (arch, cases[2], cases[3]):
        assert c.phase in (Phase.closed, Phase.merged) and not is_overdue(c, LATER)
    unresolved_archive = case("y", assigned("y", "2026-09-28T09:30:00+08:00"), signed("y", "2026-09-28T10:00:00+08:00"),
                              replied("y", "2026-09-29T10:00:00+08:00", resolved=False),
                              archived("y", "2026-10-30T10:00:00+08:00"))
    assert (unresolved_archive.phase, unresolved_archive.resolve_status) == (Phase.closed, TargetStatus.dropped)
    # archived after its due instant without a resolved reply: decided, missed
    assert metrics.rate("on_time", [unresolved_archive], LATER) == Rate(0, 1)


def test_a_satisfied_callback_keeps_awaiting_and_a_dissatisfied_one_reopens():
    base = [assigned("k", "2026-09-28T09:30:00+08:00"), signed("k", "2026-09-28T10:00:00+08:00"),
            replied("k", "2026-09-29T10:00:00+08:00")]
    assert case("k", *base, callback("k", "2026-09-30T10:00:00+08:00", rating="basically_satisfied")).phase \
        == Phase.awaiting_evaluation
    again = case("k", *base, callback("k", "2026-09-30T10:00:00+08:00", rating="dissatisfied"))
    assert again.phase == Phase.open and again.resolve_status == TargetStatus.pending


def test_the_eight_rates_with_their_counts(cases):
    r = metrics.rates(cases, at("2026-09-28T09:20:00+08:00"))  # before any due instant passed
    assert r["response"] == Rate(1, 2)  # a on time, b late
    assert r["on_time"] == Rate(2, 2)  # a, c met on time; b's new round and e undecided
    assert r["resolution"] == Rate(2, 4)  # a and c (b re-opened, e open); d merged: not a case
    assert r["satisfaction"] == Rate(1, 2)
    assert r["online"] == Rate(1, 4)
    assert r["return"] == Rate(1, 2)
    assert r["reopen"] == Rate(1, 3)  # a, b, c met their target once
    assert r["repeat"] == Rate(0, 4)
    later = metrics.rates(cases, LATER)
    assert later["on_time"] == Rate(2, 4)  # b's new round and e now pending past due
    extra = case("f", assigned("f", "2026-09-28T09:30:00+08:00"))
    assert metrics.rate("response", cases + [extra], LATER) == Rate(1, 3)


def test_rates_over_states_equal_rates_over_snapshots(cases):
    states = [replay([received("g", T0)], P, CAL)]
    assert metrics.rates(states, LATER) == metrics.rates([snapshot(s) for s in states], LATER)


def test_rate_values_and_labels():
    assert Rate(120, 130).label() == "92.3 % · 120/130" and Rate(0, 0).label() == "— · 0/0"
    assert Rate(0, 0).value is None and Rate(1, 4).value == 0.25 and Rate(1, 2) + Rate(2, 3) == Rate(3, 5)


def test_received_in_a_period_and_groups(cases):
    assert len(metrics.received_in(cases, date(2026, 9, 28), date(2026, 9, 28))) == 4
    assert metrics.received_in(cases, date(2026, 9, 29), date(2026, 10, 1)) == []
    g = metrics.group(cases, lambda s: "online" if s.resolved_online else "other")
    assert len(g["online"]) == 1 and len(g["other"]) == 3


def test_fair_ranking_two_of_two_does_not_outrank_ninety_five_of_a_hundred():
    r = metrics.rank({"tiny": Rate(2, 2), "big": Rate(95, 100), "mid": Rate(28, 30), "worse": Rate(80, 100)})
    assert [u.key for u in r.ranked] == ["big", "mid", "worse"] and [u.key for u in r.too_few] == ["tiny"]
    assert r.ranked[0].lower == pytest.approx(0.8882, abs=1e-4)
    assert [u.key for u in metrics.rank({"a": Rate(2, 2)}, min_sample=2).ranked] == ["a"]
    # lower is better (return rate): ranked by the complement
    low = metrics.rank({"few_returns": Rate(5, 100), "many": Rate(40, 100)}, higher_is_better=False)
    assert [u.key for u in low.ranked] == ["few_returns", "many"]


def test_a_snapshot_from_before_the_judgement_fields_gets_them():
    old = {"case_id": "o", "version": 4, "status": "replied", "region_code": "130102", "prefecture_code": "130100",
           "resolved_on_time": True, "replied_at": "2026-09-29T10:00:00+08:00", "signed_on_time": True,
           "signed_at": "2026-09-28T10:00:00+08:00", "assigned_at": "2026-09-28T09:30:00+08:00",
           "updated_at": "2026-09-29T10:00:00+08:00"}
    s = CaseSnapshot.model_validate_json(__import__("json").dumps(old))
    assert (s.phase, s.sign_status, s.resolve_status, s.assign_count, s.resolve_met_count) == \
        (Phase.awaiting_evaluation, "met", "met", 1, 1)
    assert legacy_judgement({"status": "assigned"})["sign_status"] == "pending"
    assert legacy_judgement({"status": "archived", "closed_at": "x"})["resolve_status"] == "dropped"
