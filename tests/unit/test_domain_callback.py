"""The daily callback sample: deterministic for a day and seed, the share, every formal and dissatisfied case."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fengqiao.domain import callback as cb
from fengqiao.settings import CallbackSettings, Settings

pytestmark = pytest.mark.unit
DAY = date(2026, 11, 25)


def concluded(n: int, **kw: object) -> list[cb.Concluded]:
    return [cb.Concluded(f"HL-{i:05d}", **kw) for i in range(n)]  # type: ignore[arg-type]


def test_every_formal_petition_and_every_dissatisfied_case_is_drawn_first() -> None:
    cases = [cb.Concluded("F1", formal_petition=True), cb.Concluded("D1", first_rating="dissatisfied",
                                                                    last_rating="satisfied"),
             cb.Concluded("D2", last_rating="dissatisfied"), *concluded(50)]
    picks = cb.draw(cases, DAY, cb.CallbackRule(share=0.0))
    assert [(p.case_id, p.reason_zh) for p in picks] == [("F1", "信访事项"), ("D1", "曾不满意"), ("D2", "曾不满意")]


def test_the_draw_is_reproducible_and_independent_of_the_other_rows() -> None:
    cases = concluded(2000)
    rule = cb.CallbackRule(share=0.1, seed="s1")
    first = cb.draw(cases, DAY, rule)
    assert cb.draw(list(reversed(cases)), DAY, rule) == first  # same day, same seed: same sample
    assert {p.case_id for p in cb.draw(cases[:1000], DAY, rule)} == {p.case_id for p in first if p.case_id < "HL-01000"}
    assert 150 <= len(first) <= 250  # about 10 %
    assert cb.draw(cases, date(2026, 11, 26), rule) != first  # another day, another sample
    assert cb.draw(cases, DAY, cb.CallbackRule(share=0.1, seed="s2")) != first  # the seed decides


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0), st.integers(min_value=0, max_value=300))
def test_a_larger_share_draws_a_superset(share: float, n: int) -> None:
    cases = concluded(n)
    small = {p.case_id for p in cb.draw(cases, DAY, cb.CallbackRule(share=share / 2))}
    large = {p.case_id for p in cb.draw(cases, DAY, cb.CallbackRule(share=share))}
    assert small <= large
    assert len(cb.draw(cases, DAY, cb.CallbackRule(share=1.0))) == n and cb.draw(cases, DAY, cb.CallbackRule(0.0)) == []


def test_the_share_is_configurable_and_checked() -> None:
    assert Settings(callback=CallbackSettings(share=0.25, seed="x")).callback.rule() == cb.CallbackRule(0.25, "x")
    with pytest.raises(ValueError, match="回访抽样比例"):
        cb.CallbackRule(share=1.5)
    with pytest.raises(ValueError):
        CallbackSettings(share=-0.1)
