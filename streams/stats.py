"""Rolling counts per prefecture and county (intake 1 h / 24 h by event time, open and overdue now).

Two steps, both idempotent and self-healing:

1. `PartitionCounts`: each worker keeps, for each case partition it owns, minute buckets
   of intake keyed by the event time of `petition.received` (so events out of order
   by minutes land in the right bucket; nothing depends on wall-clock window expiry)
   and the open/overdue counters, maintained from each case's contribution before and
   after a change, and rebuilt from the case table after a rebalance. Every
   `stats_interval_seconds` it publishes one *absolute* partial per (partition,
   prefecture) to the internal stat-parts topic (key: prefecture code).
2. `RegionTotals`: the stat-parts agent keeps the latest partial of each partition per
   prefecture and publishes `RegionStats` = the sum over partitions. A re-sent or
   duplicated partial replaces itself, so at-least-once delivery cannot double count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from fengqiao.records import RegionStats
from fengqiao.regions import prefecture_of, regions

KEEP_MINUTES = 25 * 60
DAY, HOUR = 24 * 60, 60


def _minute(at: datetime) -> int:
    return int(at.timestamp() // 60)


class PartitionCounts:
    """The counts of one case partition (in memory, rebuilt from the table).

    The 1 h / 24 h intake windows are running sums over the minute buckets, moved along
    minute by minute as the clock advances (a bucket entering or leaving a window is added
    or subtracted once), so publishing every few seconds costs O(regions) instead of a
    pass over a day of minute buckets (~40 k per partition at 2 petitions/s)."""

    def __init__(self) -> None:
        # region -> minute -> Counter[(category, channel)]
        self.intake: dict[str, dict[int, Counter[tuple[str, str]]]] = defaultdict(dict)
        self.open: Counter[str] = Counter()
        self.overdue: Counter[str] = Counter()
        self.touched: set[str] = set()  # prefectures changed since the last full send
        self._edge: int | None = None  # windows hold the buckets of (edge - size, edge]
        self._w1: Counter[str] = Counter()
        self._w24: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)

    def add_intake(self, region: str, at: datetime, category: str, channel: str) -> None:
        buckets = self.intake[region]
        m = _minute(at)
        c = buckets.get(m)
        if c is None:
            c = buckets[m] = Counter()
        c[(category, channel)] += 1
        edge = self._edge
        if edge is not None and edge - DAY < m <= edge:
            self._w24[region][(category, channel)] += 1
            if m > edge - HOUR:
                self._w1[region] += 1

    def change(self, before: tuple[str, str, str, bool, bool] | None, after: tuple[str, str, str, bool, bool] | None) -> None:
        if before == after:
            return
        for contrib, sign in ((before, -1), (after, 1)):
            if contrib is None:
                continue
            region, _, _, is_open, is_overdue = contrib
            if is_open:
                self.open[region] += sign
            if is_overdue:
                self.overdue[region] += sign

    def prune(self, now: datetime) -> None:
        floor = _minute(now) - KEEP_MINUTES
        for region, buckets in self.intake.items():
            for m in [m for m in buckets if m < floor]:
                del buckets[m]

    def _advance(self, m_now: int) -> None:
        edge = self._edge
        if edge is None or m_now < edge or m_now - edge > 60:
            self._w1, self._w24 = Counter(), defaultdict(Counter)
            for region, buckets in self.intake.items():
                for m, c in buckets.items():
                    if m_now - DAY < m <= m_now:
                        self._w24[region].update(c)
                        if m > m_now - HOUR:
                            self._w1[region] += sum(c.values())
        else:
            for region, buckets in self.intake.items():
                for m in range(edge + 1, m_now + 1):  # entering both windows
                    c = buckets.get(m)
                    if c:
                        self._w24[region].update(c)
                        self._w1[region] += sum(c.values())
                for m in range(edge - DAY + 1, m_now - DAY + 1):  # leaving the 24 h window
                    c = buckets.get(m)
                    if c:
                        self._w24[region].subtract(c)
                for m in range(edge - HOUR + 1, m_now - HOUR + 1):  # leaving the 1 h window
                    c = buckets.get(m)
                    if c:
                        self._w1[region] -= sum(c.values())
        self._edge = m_now

    def partials(self, now: datetime) -> dict[str, dict[str, list[Any]]]:
        """prefecture -> region -> [intake_1h, intake_24h, open, overdue, by_category, by_channel]."""
        self._advance(_minute(now))
        out: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        codes = set(self.intake) | set(self.open) | set(self.overdue)
        for region in codes:
            cat: Counter[str] = Counter()
            chan: Counter[str] = Counter()
            i24 = 0
            for (ca, ch), k in self._w24.get(region, {}).items():
                if k:
                    i24 += k
                    cat[ca] += k
                    chan[ch] += k
            try:
                pref = prefecture_of(region)
            except KeyError:
                continue
            out[pref][region] = [self._w1.get(region, 0), i24, self.open[region], self.overdue[region], dict(cat),
                                 dict(chan)]
        return out


class RegionTotals:
    """Latest partial per (prefecture, partition), summed to RegionStats (soft state)."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[int, dict[str, list[Any]]]] = defaultdict(dict)

    def put(self, prefecture: str, partition: int, regions_part: dict[str, list[Any]]) -> None:
        self.parts[prefecture][partition] = regions_part

    def forget(self, prefecture: str) -> None:
        self.parts.pop(prefecture, None)

    def region_stats(self, prefecture: str, now: datetime) -> list[RegionStats]:
        sums: dict[str, list[Any]] = {}
        for part in self.parts.get(prefecture, {}).values():
            for region, (i1, i24, op, ov, cat, chan) in part.items():
                acc = sums.setdefault(region, [0, 0, 0, 0, Counter(), Counter()])
                acc[0] += i1
                acc[1] += i24
                acc[2] += op
                acc[3] += ov
                acc[4].update(cat)
                acc[5].update(chan)
        pref = [0, 0, 0, 0, Counter(), Counter()]
        out = []
        for region, acc in sorted(sums.items()):
            for i in range(4):
                pref[i] += acc[i]
            pref[4].update(acc[4])
            pref[5].update(acc[5])
            if region != prefecture:
                out.append(_record(region, "county", now, acc))
        out.insert(0, _record(prefecture, "prefecture", now, pref))
        return out


def _record(code: str, level: str, now: datetime, acc: list[Any]) -> RegionStats:
    return RegionStats(region_code=code, region_level=level, as_of=now, intake_1h=acc[0], intake_24h=acc[1],
                       open_now=max(acc[2], 0), overdue_now=max(acc[3], 0),
                       by_category_24h={k: v for k, v in acc[4].items() if v},
                       by_channel_24h={k: v for k, v in acc[5].items() if v})


def all_prefectures() -> list[str]:
    return sorted(code for code, r in regions().items() if r.kind == "prefecture")


def window_floor(now: datetime) -> datetime:
    return now - timedelta(hours=24)
