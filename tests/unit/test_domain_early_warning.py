"""The early-warning rules in the domain (`fengqiao.domain.early_warning`): the baseline needs observed weeks."""

from __future__ import annotations

import pytest

from fengqiao.domain import early_warning as ew

pytestmark = pytest.mark.unit
H = 500_000  # an hour since the epoch


def test_a_past_hour_is_observed_when_the_county_was_counted_in_the_hours_before_it() -> None:
    assert list(ew.seen_window(H)) == list(range(H - ew.SEEN_HOURS, H))  # not the hour itself: counting had begun
    assert not ew.observed([]) and not ew.observed([None, 0, None])
    assert ew.observed([None, 1])


def test_no_baseline_is_no_hotspot_whatever_the_count() -> None:
    assert not ew.baseline_of([]).hotspot(1000)
    assert not ew.baseline_of([0]).hotspot(1000)  # one week is not enough (MIN_WEEKS = 2)
    assert not ew.baseline_of([0, None, None, None]).hotspot(1000)  # unobserved weeks are not zeros
    b = ew.baseline_of([None, 4, None, 6])
    assert b.weeks == 2 and b.mean == 5.0
    b = ew.baseline_of([0, 0])
    assert b.ready and b.mean == 0.0 and b.hotspot(6) and not b.hotspot(5)
    b = ew.baseline_of([3, 3, 3, 3])
    assert not b.hotspot(8) and b.hotspot(12)


def test_the_wall_tooltip_states_the_rule_with_its_numbers() -> None:
    for part in (f"≥{ew.MIN_COUNT}", f"前{ew.BASE_WEEKS}周", f"至少{ew.MIN_WEEKS}周", f"{ew.SEEN_HOURS}小时",
                 "基线不足", "不报热点"):
        assert part in ew.RULES_ZH
