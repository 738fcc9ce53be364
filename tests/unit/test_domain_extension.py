"""fengqiao/domain/extension.py: the desks' extension check agrees with the lifecycle itself
(every status, the formal track's limit of one), and the snapshot carries the extension count."""

from __future__ import annotations

import pytest

from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.extension import ExtensionFacts, refusal
from fengqiao.domain.lifecycle import LifecycleError, apply, snapshot
from fengqiao.domain.policy import load_policy
from tests.unit import domain_factory as f
from tests.unit.test_desk_actions import _states

pytestmark = pytest.mark.unit


def _formal_extended_once() -> dict:
    pol, cal = load_policy(), load_calendar()
    s = None
    for e in (f.received("F", "2026-11-02T09:00:00+08:00", formal=True),
              f.assigned("F", "2026-11-02T09:10:00+08:00", department="乡镇综治中心"),
              f.extended("F", "2026-11-03T09:00:00+08:00", days=10)):
        s = apply(s, e, pol, cal)
    return {"formal-extended": s}


def test_the_extension_check_agrees_with_the_lifecycle() -> None:
    pol, cal = load_policy(), load_calendar()
    states = {**_states(), **_formal_extended_once()}
    seen = set()
    for name, state in states.items():
        for days in (3, 30):
            try:
                apply(state, f.extended(state.case_id, "2026-11-04T09:00:00+08:00", days=days), pol, cal)
                ok = True
            except LifecycleError:
                ok = False
            snap = snapshot(state).model_dump(mode="json")
            why = refusal(ExtensionFacts.of(snap), days, pol)
            assert (why is None) == ok, (name, days, why)
            seen.add(ok)
            if why is not None:
                assert why.zh and why.en and why.zh != why.en
    assert seen == {True, False}


def test_the_snapshot_carries_the_extension_count_and_the_limit_uses_it() -> None:
    snap = snapshot(_formal_extended_once()["formal-extended"]).model_dump(mode="json")
    assert snap["extension_count"] == 1 and snap["formal_petition"] is True
    why = refusal(ExtensionFacts.of(snap), 5, load_policy())
    assert why is not None and "最多只能延期 1 次" in why.zh and "at most 1" in why.en
