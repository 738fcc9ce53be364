"""The numbers every screen, report and benchmark shows (DESIGN.md section 4, "What the
numbers mean"), each defined once here over `CaseSnapshot`s.

A rate is a `Rate(num, den)`: shown with its counts, `None` as a value when nothing is
decided. Rates are over the cases received in a period, merged duplicates excluded
(`received_in`); a case's numerator condition implies its denominator condition:

* 响应率 response: sign met on time / sign decided (met, or missed: pending past due).
* 按期办结率 on-time: resolve met on time / resolve decided (the current round).
* 解决率 resolution: resolve met (current round) / received.
* 满意率 satisfaction: last rating satisfied or basically satisfied / rated.
* 网上办结率 online: answered online (and not re-opened since) / received.
* 退回率 return: returned at least once / assigned at least once.
* 重办率 re-open: re-opened at least once / resolve met at least once.
* 重复投诉率 repeat: flagged as a repeat complaint / received.

Rankings compare units fairly (`rank`): a unit with fewer decided cases than the minimum
is listed apart (样本不足), the others are ordered by the lower bound of the 95 % Wilson
interval, so 2 of 2 does not outrank 95 of 100.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from fengqiao.domain.phase import (
    Phase, TargetStatus, is_overdue, next_deadline, target_decided, target_on_time,
)
from fengqiao.records import CaseSnapshot
from fengqiao.vocab import TZ

Case = Any  # CaseSnapshot | CaseState
Z95 = 1.959963984540054
MIN_SAMPLE = 30


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate with its counts."""

    num: int
    den: int

    @property
    def value(self) -> float | None:
        return self.num / self.den if self.den else None

    def __add__(self, other: "Rate") -> "Rate":
        return Rate(self.num + other.num, self.den + other.den)

    def wilson_lower(self, z: float = Z95) -> float | None:
        """Lower bound of the Wilson score interval (95 % by default)."""
        n = self.den
        if not n:
            return None
        p = self.num / n
        centre = p + z * z / (2 * n)
        spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return max(0.0, (centre - spread) / (1 + z * z / n))

    def label(self) -> str:
        """e.g. `92.3 % · 120/130` (`— · 0/0` when nothing is decided)."""
        v = self.value
        return f"{'—' if v is None else f'{100 * v:.1f} %'} · {self.num}/{self.den}"


Pred = Callable[[CaseSnapshot, datetime], bool]


@dataclass(frozen=True, slots=True)
class RateDef:
    name: str
    zh: str
    den: Pred
    num: Pred  # evaluated only where `den` holds


def _sign_decided(c: CaseSnapshot, now: datetime) -> bool:
    return target_decided(c.sign_status, c.sign_due_at, c.sign_ended_at, now)


def _resolve_decided(c: CaseSnapshot, now: datetime) -> bool:
    return target_decided(c.resolve_status, c.resolve_due_at, c.resolve_ended_at, now)


def _always(c: CaseSnapshot, now: datetime) -> bool:
    return True


SATISFIED = frozenset({"satisfied", "basically_satisfied"})

RATES: tuple[RateDef, ...] = (
    RateDef("response", "响应率", _sign_decided,
            lambda c, now: target_on_time(c.sign_status, c.sign_due_at, c.sign_ended_at)),
    RateDef("on_time", "按期办结率", _resolve_decided,
            lambda c, now: target_on_time(c.resolve_status, c.resolve_due_at, c.resolve_ended_at)),
    RateDef("resolution", "解决率", _always, lambda c, now: c.resolve_status == TargetStatus.met),
    RateDef("satisfaction", "满意率", lambda c, now: c.last_rating != "", lambda c, now: c.last_rating in SATISFIED),
    RateDef("online", "网上办结率", _always, lambda c, now: c.resolved_online),
    RateDef("return", "退回率", lambda c, now: c.assign_count > 0, lambda c, now: c.return_count > 0),
    RateDef("reopen", "重办率", lambda c, now: c.resolve_met_count > 0, lambda c, now: c.reopen_count > 0),
    RateDef("repeat", "重复投诉率", _always, lambda c, now: c.repeat_complaint),
)
RATE_BY_NAME = {r.name: r for r in RATES}
RATE_ZH = {r.name: r.zh for r in RATES}


def _snap(c: Case) -> CaseSnapshot:
    if isinstance(c, CaseSnapshot):
        return c
    from fengqiao.domain.lifecycle import snapshot

    return snapshot(c)


def cases_of(cases: Iterable[Case]) -> list[CaseSnapshot]:
    """Snapshots of the counted cases (merged duplicates are never counted as cases)."""
    return [s for s in map(_snap, cases) if s.phase != Phase.merged]


def local_date(at: datetime) -> date:
    return at.astimezone(TZ).date()


def received_in(cases: Iterable[Case], start: date, end: date) -> list[CaseSnapshot]:
    """The counted cases received between `start` and `end` (inclusive, Asia/Shanghai dates)."""
    return [s for s in cases_of(cases) if s.received_at is not None and start <= local_date(s.received_at) <= end]


def rate(defn: RateDef | str, cases: Iterable[Case], now: datetime) -> Rate:
    d = RATE_BY_NAME[defn] if isinstance(defn, str) else defn
    num = den = 0
    for c in cases_of(cases):
        if d.den(c, now):
            den += 1
            num += bool(d.num(c, now))
    return Rate(num, den)


def rates(cases: Iterable[Case], now: datetime) -> dict[str, Rate]:
    """Every rate over the same cases."""
    snaps = cases_of(cases)
    return {d.name: rate(d, snaps, now) for d in RATES}


@dataclass(frozen=True, slots=True)
class Board:
    """The wall's phase tiles: 在办, 待评价, 24 小时内到期 (open, not overdue), 已超期."""

    open: int = 0
    awaiting: int = 0
    due24: int = 0
    overdue: int = 0

    def __add__(self, o: "Board") -> "Board":
        return Board(self.open + o.open, self.awaiting + o.awaiting, self.due24 + o.due24, self.overdue + o.overdue)


def due_within(c: CaseSnapshot, now: datetime, hours: float = 24) -> bool:
    """Open, not overdue, and its next pending deadline falls within `hours`."""
    nxt = next_deadline(c, now)
    return nxt is not None and nxt[1] < now + timedelta(hours=hours)


def board(cases: Iterable[Case], now: datetime) -> Board:
    o = a = d = v = 0
    for c in cases_of(cases):
        if c.phase == Phase.open:
            o += 1
            v += is_overdue(c, now)
            d += due_within(c, now)
        elif c.phase == Phase.awaiting_evaluation:
            a += 1
    return Board(o, a, d, v)


def group(cases: Iterable[Case], key: Callable[[CaseSnapshot], str]) -> dict[str, list[CaseSnapshot]]:
    """Counted cases by a key, e.g. `lambda s: s.prefecture_code` or the department."""
    out: dict[str, list[CaseSnapshot]] = defaultdict(list)
    for c in cases_of(cases):
        out[key(c)].append(c)
    return dict(out)


@dataclass(frozen=True, slots=True)
class Ranked:
    key: str
    rate: Rate
    lower: float | None  # Wilson lower bound


@dataclass(frozen=True, slots=True)
class Ranking:
    ranked: list[Ranked]  # best first
    too_few: list[Ranked]  # 样本不足: fewer decided cases than the minimum


def rank(units: Mapping[str, Rate], min_sample: int = MIN_SAMPLE, z: float = Z95,
         higher_is_better: bool = True) -> Ranking:
    """Rank units by the Wilson lower bound of their rate (of the complement when lower is
    better, e.g. the return rate); ties by larger sample, then key."""
    ranked, few = [], []
    for key, r in units.items():
        if r.den < min_sample:
            few.append(Ranked(key, r, r.wilson_lower(z)))
            continue
        lo = r.wilson_lower(z) if higher_is_better else Rate(r.den - r.num, r.den).wilson_lower(z)
        ranked.append(Ranked(key, r, lo))
    ranked.sort(key=lambda u: (-(u.lower or 0.0), -u.rate.den, u.key))
    few.sort(key=lambda u: (-u.rate.den, u.key))
    return Ranking(ranked, few)


def countdown(cases: Iterable[Case], now: datetime, limit: int = 12, days: float = 7) -> list[tuple[str, str, datetime]]:
    """(case_id, target, due) of open cases that are not overdue, by their next pending
    deadline within `days` (the wall's 临期倒计时), soonest first."""
    out = []
    horizon = now + timedelta(days=days)
    for c in cases_of(cases):
        nxt = next_deadline(c, now)
        if nxt is not None and nxt[1] < horizon:
            out.append((c.case_id, nxt[0], nxt[1]))
    out.sort(key=lambda t: (t[2], t[0]))
    return out[:limit]


def intake_by_channel(cases: Iterable[Case], day: date) -> dict[str, int]:
    """Counted cases received on `day` (今日受理) per channel."""
    out: dict[str, int] = defaultdict(int)
    for c in received_in(cases, day, day):
        out[c.channel] += 1
    return dict(out)


def intake_by_hour(cases: Iterable[Case], now: datetime) -> dict[datetime, int]:
    """Counted cases received per hour over the 24 hours up to `now` (every hour present)."""
    top = now.astimezone(TZ).replace(minute=0, second=0, microsecond=0)
    hours = {top - timedelta(hours=h): 0 for h in range(23, -1, -1)}
    for c in cases_of(cases):
        if c.received_at is not None and c.received_at <= now:
            h = c.received_at.astimezone(TZ).replace(minute=0, second=0, microsecond=0)
            if h in hours:
                hours[h] += 1
    return hours
