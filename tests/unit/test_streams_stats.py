"""The running 1 h / 24 h intake windows equal a recount of the minute buckets, whatever the
order of intakes (out of order by minutes, hours, or in the future) and clock steps."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fengqiao.vocab import TZ
from streams.stats import PartitionCounts

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)
REGIONS = ("130102", "130104", "130203")


Intake = tuple[str, int, str, str]  # region, minute, category, channel


def recount(added: list[Intake], now: datetime) -> dict[str, tuple[int, int, dict[str, int], dict[str, int]]]:
    """The windows counted afresh from the intakes themselves, not from the structure under test."""
    m_now = int(now.timestamp() // 60)
    out = {}
    for region in {a[0] for a in added}:
        day = [(m, cat, chan) for r, m, cat, chan in added if r == region and m_now - 24 * 60 < m <= m_now]
        out[region] = (sum(1 for m, _, _ in day if m > m_now - 60), len(day), dict(Counter(d[1] for d in day)),
                       dict(Counter(d[2] for d in day)))
    return out


steps = st.lists(st.one_of(
    st.tuples(st.just("add"), st.sampled_from(REGIONS), st.integers(-26 * 60, 10), st.sampled_from(("help", "dispute")),
              st.sampled_from(("hotline", "wechat"))),
    st.tuples(st.just("tick"), st.integers(0, 90)),
), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_running_windows_equal_a_recount(ops: list[tuple]) -> None:
    c = PartitionCounts()
    now = T0
    added: list[Intake] = []
    for op in ops:
        if op[0] == "add":
            _, region, minutes, cat, chan = op
            at = now + timedelta(minutes=minutes)
            c.add_intake(region, at, cat, chan)
            added.append((region, int(at.timestamp() // 60), cat, chan))
        else:
            now += timedelta(minutes=op[1], seconds=7)
        parts = c.partials(now)
        want = recount(added, now)
        for region, (i1, i24, cat, chan) in want.items():
            got = parts["130100" if region.startswith("1301") else "130200"][region]
            assert (got[0], got[1], got[4], got[5]) == (i1, i24, cat, chan)


def test_a_day_of_intake_takes_the_memory_of_its_first_minute() -> None:
    c = PartitionCounts()
    c.add_intake("130102", T0, "help", "hotline")
    ring = c.intake["130102"]
    size = ring.minute.nbytes + ring.rows.nbytes
    for i in range(0, 30 * 60, 7):  # 30 hours: the ring wraps
        c.add_intake("130102", T0 + timedelta(minutes=i), "dispute", "wechat")
    assert c.intake["130102"] is ring and ring.minute.nbytes + ring.rows.nbytes == size
    now = T0 + timedelta(minutes=30 * 60)
    part = c.partials(now)["130100"]["130102"]
    day = [i for i in range(0, 30 * 60, 7) if 30 * 60 - 24 * 60 < i <= 30 * 60]
    assert part[1] == len(day) and part[4] == {"dispute": len(day)} and part[5] == {"wechat": len(day)}


def test_an_intake_older_than_the_ring_is_not_kept_and_disturbs_nothing() -> None:
    c = PartitionCounts()
    c.add_intake("130102", T0, "help", "hotline")
    c.add_intake("130102", T0 - timedelta(minutes=25 * 60), "dispute", "hotline")  # same slot, a ring earlier
    part = c.partials(T0)["130100"]["130102"]
    assert (part[0], part[1], part[4]) == (1, 1, {"help": 1})
