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


def recount(c: PartitionCounts, now: datetime) -> dict[str, tuple[int, int, dict[str, int]]]:
    m_now = int(now.timestamp() // 60)
    out = {}
    for region, buckets in c.intake.items():
        i1 = i24 = 0
        cat: Counter[str] = Counter()
        for m, counts in buckets.items():
            if m_now - 24 * 60 < m <= m_now:
                n = sum(counts.values())
                i24 += n
                i1 += n if m > m_now - 60 else 0
                for (ca, _), k in counts.items():
                    cat[ca] += k
        out[region] = (i1, i24, {k: v for k, v in cat.items() if v})
    return out


steps = st.lists(st.one_of(
    st.tuples(st.just("add"), st.sampled_from(REGIONS), st.integers(-26 * 60, 10), st.sampled_from(("help", "dispute"))),
    st.tuples(st.just("tick"), st.integers(0, 90)),
), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_running_windows_equal_a_recount(ops: list[tuple]) -> None:
    c = PartitionCounts()
    now = T0
    for op in ops:
        if op[0] == "add":
            _, region, minutes, cat = op
            c.add_intake(region, now + timedelta(minutes=minutes), cat, "hotline")
        else:
            now += timedelta(minutes=op[1], seconds=7)
        parts = c.partials(now)
        want = recount(c, now)
        for region, (i1, i24, cat) in want.items():
            got = parts["130100" if region.startswith("1301") else "130200"][region]
            assert (got[0], got[1], got[4]) == (i1, i24, cat)
