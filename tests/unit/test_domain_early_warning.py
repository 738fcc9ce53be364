"""The early-warning rules in the domain (`fengqiao.domain.early_warning`): the baseline needs history."""

from __future__ import annotations

import pytest

from fengqiao.domain import early_warning as ew

pytestmark = pytest.mark.unit
H = 500_000  # an hour since the epoch


def test_history_covers_a_past_hour_of_the_week_only_when_it_began_before_it() -> None:
    assert ew.weeks_covered(None, H) == 0
    assert ew.weeks_covered(H - 1, H) == 0
    assert ew.weeks_covered(H - ew.WEEK_HOURS, H) == 0  # began in that very hour: counted only partly
    assert ew.weeks_covered(H - ew.WEEK_HOURS - 1, H) == 1
    assert ew.weeks_covered(H - 2 * ew.WEEK_HOURS - 1, H) == 2
    assert ew.weeks_covered(H - 52 * ew.WEEK_HOURS, H) == ew.BASE_WEEKS


def test_no_baseline_is_no_hotspot_whatever_the_count() -> None:
    assert not ew.baseline_of([]).hotspot(1000)
    assert not ew.baseline_of([0]).hotspot(1000)  # one week is not enough (MIN_WEEKS = 2)
    b = ew.baseline_of([0, 0])
    assert b.ready and b.mean == 0.0 and b.hotspot(6) and not b.hotspot(5)
    b = ew.baseline_of([3, 3, 3, 3])
    assert not b.hotspot(8) and b.hotspot(12)


def test_the_wall_tooltip_states_the_rule_with_its_numbers() -> None:
    for part in (f"≥{ew.MIN_COUNT}", f"前{ew.BASE_WEEKS}周", f"至少{ew.MIN_WEEKS}周", "基线不足", "不报热点"):
        assert part in ew.RULES_ZH
