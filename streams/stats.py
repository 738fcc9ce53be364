"""Rolling counts per prefecture and county (intake 1 h / 24 h by event time, open and overdue now).

Two steps, both idempotent and self-healing:

1. `PartitionCounts`: each worker keeps, for each case partition it owns, a ring of minutes
   of intake (`MinuteRing`) keyed by the event time of `petition.received` (so events out of order
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

import numpy as np

from fengqiao.contract import Category, Channel
from fengqiao.records import RegionStats
from fengqiao.regions import prefecture_of, regions

KEEP_MINUTES = 25 * 60
DAY, HOUR = 24 * 60, 60
CATEGORIES, CHANNELS = tuple(Category), tuple(Channel)
_SLOT = {**{str(c): i for i, c in enumerate(CATEGORIES)}, **{str(c): len(CATEGORIES) + i for i, c in enumerate(CHANNELS)}}
WIDTH = len(CATEGORIES) + len(CHANNELS)
CAP = np.iinfo(np.uint16).max


def _minute(at: datetime) -> int:
    return int(at.timestamp() // 60)


class MinuteRing:
    """A region's intake of the last `KEEP_MINUTES` minutes, one row per minute (slot minute %
    KEEP_MINUTES): counts per category, then per channel (a petition counts once in each half).
    Allocated once: a day of intake costs the same memory in its first minute as in its 25th hour
    (dict buckets grew ~12 MB an hour at 15 petitions/s over 4 partitions, bounded only after a day:
    ~300 MB; the rings of 170 counties on 4 partitions hold ~32 MB from the start)."""

    __slots__ = ("minute", "rows")

    def __init__(self) -> None:
        self.minute = np.full(KEEP_MINUTES, -1, np.int32)  # the minute (since 1970) each slot holds, -1: empty
        self.rows = np.zeros((KEEP_MINUTES, WIDTH), np.uint16)  # ~48 KB a ring

    def add(self, m: int, category: str, channel: str) -> tuple[int, int] | None:
        """Count one intake in minute `m` and return the two columns it counted in; None (not kept)
        when its slot holds a minute a whole ring later (`m` is older than anything the windows can
        still reach), or when the minute already counts `CAP` (a county's 1,000 petitions a second
        on one partition: not a real load)."""
        s = m % KEEP_MINUTES
        held = int(self.minute[s])
        if held != m:
            if held > m:
                return None
            self.minute[s] = m
            self.rows[s] = 0
        i, j = _SLOT[category], _SLOT[channel]
        row = self.rows[s]
        if row[i] >= CAP or row[j] >= CAP:
            return None
        row[i] += 1
        row[j] += 1
        return i, j

    def row(self, m: int) -> np.ndarray | None:
        s = m % KEEP_MINUTES
        return self.rows[s] if self.minute[s] == m else None

    def span(self, lo: int, hi: int) -> np.ndarray:
        """Counts summed over the minutes lo < m <= hi."""
        keep = (self.minute > lo) & (self.minute <= hi)
        return self.rows[keep].sum(axis=0, dtype=np.int64)

    def prune(self, floor: int) -> None:
        old = (self.minute >= 0) & (self.minute < floor)
        self.minute[old] = -1
        self.rows[old] = 0


def _total(vec: np.ndarray) -> int:
    return int(vec[:len(CATEGORIES)].sum())


class PartitionCounts:
    """The counts of one case partition (in memory, rebuilt from the table).

    The 1 h / 24 h intake windows are running sums over the minute rings, moved along
    minute by minute as the clock advances (a minute entering or leaving a window is added
    or subtracted once), so publishing every few seconds costs O(regions) instead of a
    pass over a day of minutes."""

    def __init__(self) -> None:
        self.intake: dict[str, MinuteRing] = {}
        self.open: Counter[str] = Counter()
        self.overdue: Counter[str] = Counter()
        self.touched: set[str] = set()  # prefectures changed since the last full send
        self._edge: int | None = None  # windows hold the minutes (edge - size, edge]
        self._w1: Counter[str] = Counter()
        self._w24: dict[str, np.ndarray] = {}

    def add_intake(self, region: str, at: datetime, category: str, channel: str) -> None:
        ring = self.intake.get(region)
        if ring is None:
            ring = self.intake[region] = MinuteRing()
        m = _minute(at)
        cols = ring.add(m, category, channel)
        if cols is None:
            return
        edge = self._edge
        if edge is not None and edge - DAY < m <= edge:
            w = self._window(region)
            w[cols[0]] += 1
            w[cols[1]] += 1
            if m > edge - HOUR:
                self._w1[region] += 1

    def _window(self, region: str) -> np.ndarray:
        """The region's 24 h window vector (created empty on its first intake)."""
        w = self._w24.get(region)
        if w is None:
            w = self._w24[region] = np.zeros(WIDTH, np.int64)
        return w

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
        for ring in self.intake.values():
            ring.prune(floor)

    def _advance(self, m_now: int) -> None:
        edge = self._edge
        if edge is None or m_now < edge or m_now - edge > 60:
            self._w24 = {r: ring.span(m_now - DAY, m_now) for r, ring in self.intake.items()}
            self._w1 = Counter({r: _total(ring.span(m_now - HOUR, m_now)) for r, ring in self.intake.items()})
        else:
            for region, ring in self.intake.items():
                w = self._window(region)
                for m in range(edge + 1, m_now + 1):  # entering both windows
                    row = ring.row(m)
                    if row is not None:
                        w += row
                        self._w1[region] += _total(row)
                for m in range(edge - DAY + 1, m_now - DAY + 1):  # leaving the 24 h window
                    row = ring.row(m)
                    if row is not None:
                        w -= row
                for m in range(edge - HOUR + 1, m_now - HOUR + 1):  # leaving the 1 h window
                    row = ring.row(m)
                    if row is not None:
                        self._w1[region] -= _total(row)
        self._edge = m_now

    def partials(self, now: datetime) -> dict[str, dict[str, list[Any]]]:
        """prefecture -> region -> [intake_1h, intake_24h, open, overdue, by_category, by_channel]."""
        self._advance(_minute(now))
        out: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        codes = set(self.intake) | set(self.open) | set(self.overdue)
        for region in codes:
            w = self._w24.get(region)
            cat = {str(c): int(n) for c, n in zip(CATEGORIES, w[:len(CATEGORIES)]) if n} if w is not None else {}
            chan = {str(c): int(n) for c, n in zip(CHANNELS, w[len(CATEGORIES):]) if n} if w is not None else {}
            i24 = sum(cat.values())
            try:
                pref = prefecture_of(region)
            except KeyError:
                continue
            out[pref][region] = [self._w1.get(region, 0), i24, self.open[region], self.overdue[region], cat, chan]
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
