"""The sink's rejoin rule (`sinks.runner._Rejoin`): a fresh sink left without partitions joins
again, a few times at most; one that was assigned once never does (its group owns the balance)."""

from __future__ import annotations

import pytest

from sinks.runner import _Rejoin

pytestmark = pytest.mark.unit


class _Consumer:
    def __init__(self) -> None:
        self.parts: set[int] = set()
        self.left = 0

    def assignment(self) -> set[int]:
        return self.parts

    def unsubscribe(self) -> None:
        self.left += 1


def test_no_partition_after_the_delay_joins_again_at_most_tries_times() -> None:
    joins: list[int] = []
    r = _Rejoin(lambda: joins.append(1), after=0.0, tries=2)
    r.subscribe()
    c = _Consumer()
    for _ in range(5):
        r.check(c)
    assert (len(joins), c.left) == (3, 2)  # the first subscription and two more


def test_an_assigned_sink_or_one_within_the_delay_stays() -> None:
    joins: list[int] = []
    r = _Rejoin(lambda: joins.append(1), after=3600.0)
    r.subscribe()
    c = _Consumer()
    r.check(c)  # too early
    r2 = _Rejoin(lambda: joins.append(1), after=0.0)
    r2.assigned = True  # the listener saw partitions once: later empty assignments are the group's choice
    r2.check(c)
    c.parts = {0}
    r3 = _Rejoin(lambda: joins.append(1), after=0.0)
    r3.check(c)  # has partitions now
    assert joins == [1] and c.left == 0
