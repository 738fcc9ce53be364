from datetime import datetime

import pytest

from fengqiao.domain import metrics
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import replay, snapshot
from fengqiao.domain.policy import load_policy
from domain_factory import assigned, ev, evaluated, received, replied, returned, signed

pytestmark = pytest.mark.unit
P = load_policy()
CAL = load_calendar()


def case(cid, *steps):
    return replay([received(cid, "2026-09-28T09:00:00+08:00", category="consult")] + list(steps), P, CAL)


@pytest.fixture
def cases():
    return [
        # signed on time, resolved on time, satisfied
        case("a", assigned("a", "2026-09-28T09:30:00+08:00"), signed("a", "2026-09-28T10:00:00+08:00"),
             replied("a", "2026-09-29T10:00:00+08:00"), evaluated("a", "2026-09-29T11:00:00+08:00", "satisfied")),
        # signed late, resolved late, dissatisfied -> re-opened, returned once before
        case("b", assigned("b", "2026-09-28T09:30:00+08:00"), returned("b", "2026-09-28T09:40:00+08:00"),
             assigned("b", "2026-09-28T10:00:00+08:00"), signed("b", "2026-10-09T10:00:00+08:00"),
             replied("b", "2026-10-10T10:00:00+08:00"), evaluated("b", "2026-10-10T11:00:00+08:00", "dissatisfied")),
        # answered online
        case("c", ev("c", "case.resolved_online", "2026-09-28T09:10:00+08:00", answer="答复")),
        # a duplicate of "a"
        case("d", ev("d", "case.merged", "2026-09-28T09:05:00+08:00", into_case_id="a")),
        # still unassigned
        case("e"),
    ]


def test_rates(cases):
    s = metrics.summary(cases)
    assert s["cases"] == 4  # the merged duplicate is not counted
    assert s["response_rate"] == 1 / 2
    assert s["resolution_rate"] == 2 / 4  # a and c (b re-opened, e open)
    assert s["satisfaction_rate"] == 1 / 2
    assert s["on_time_rate"] == 1.0  # b's open round is undecided without `now`
    assert s["online_resolution_rate"] == 1 / 4
    assert s["return_rate"] == 1 / 2
    assert s["reopen_rate"] == 1 / 3  # a, b, c got answers
    assert s["repeat_complaint_rate"] == 1 / 4


def test_now_counts_open_cases_past_due(cases):
    now = datetime.fromisoformat("2026-12-01T00:00:00+08:00")
    assert metrics.on_time_rate(cases, now) == 2 / 4  # a, c met; b and e open past due
    extra = case("f", assigned("f", "2026-09-28T09:30:00+08:00"))
    assert metrics.response_rate(cases + [extra], now) == 1 / 3


def test_snapshots_and_states_give_the_same_answer(cases):
    assert metrics.summary(cases) == metrics.summary([snapshot(c) for c in cases])


def test_empty_denominators_are_none():
    assert all(v is None for k, v in metrics.summary([]).items() if k != "cases")
    only_open = [case("z")]
    assert metrics.satisfaction_rate(only_open) is None and metrics.resolution_rate(only_open) == 0.0


def test_grouping(cases):
    g = metrics.by(cases, lambda s: "online" if s.resolved_online else "other")
    assert g["online"]["online_resolution_rate"] == 1.0 and g["other"]["cases"] == 3
