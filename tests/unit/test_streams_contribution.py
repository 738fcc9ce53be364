"""The worker's rolling counts (`petitions.stats`: open_now, overdue_now) count the domain's phase,
as the wall does: a case answered `resolved: true` and waiting for its rating is not open."""

from __future__ import annotations

import pytest

from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.case import CaseRecord
from fengqiao.domain.lifecycle import replay
from fengqiao.domain.policy import load_policy
from streams.casework import contribution

from domain_factory import archived, assigned, received, replied, signed

pytestmark = pytest.mark.unit
P, CAL = load_policy(), load_calendar()
T = "2026-11-23T09:00:00+08:00"


def _open(*events: object, overdue: bool = False) -> tuple[bool, bool]:
    state = replay(list(events), P, CAL)
    assert state is not None
    out = contribution(CaseRecord(state, 0, overdue=overdue))
    assert out is not None
    return out[3], out[4]


def test_awaiting_evaluation_is_neither_open_nor_overdue() -> None:
    base = (received("C1", T), assigned("C1", T), signed("C1", T))
    assert _open(*base, replied("C1", T, resolved=True), overdue=True) == (False, False)


def test_unresolved_reply_stays_open_and_can_be_overdue() -> None:
    base = (received("C2", T), assigned("C2", T), signed("C2", T))
    assert _open(*base, replied("C2", T, resolved=False), overdue=True) == (True, True)
    assert _open(*base, overdue=False) == (True, False)


def test_archived_is_not_open() -> None:
    base = (received("C3", T), assigned("C3", T), signed("C3", T), replied("C3", T, resolved=True))
    assert _open(*base, archived("C3", T)) == (False, False)
