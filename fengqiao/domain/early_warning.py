"""Early-warning rules (DESIGN.md section 4), pure: when a county × topic count is a hotspot (未诉先办),
when there is not yet a baseline to judge it by, and the class-case (类案) thresholds.
`streams/early_warning.py` keeps the counts and token sets and applies these rules.

Let c be a county's count for one topic over the last hour (event time) and λ the baseline: the mean
count of the same hour of the week over the previous weeks the county's history covers, at most
`BASE_WEEKS` (4), floored at `BASE_FLOOR` (0.5, so a topic never seen before is not "infinitely above
baseline"). A hotspot needs c ≥ `MIN_COUNT` (6) and the Poisson upper tail P(X ≥ c | λ) < `P_VALUE`
(1e-4): with λ at its floor that needs c ≥ 6, with λ = 3 it needs c ≥ 12.

Enough history: a count of 0 a week ago means "quiet" only if the county was being counted then. So
the baseline exists only when the county's history (since its first counted petition, by event time)
covers the same hour of the week at least `MIN_WEEKS` (2) times; until then there is no hotspot —
the state is "基线不足" (no baseline yet), not an alert at "基线 0.0". The history is per county, not
per county × topic: once a county's counts are known, a topic it never had is rightly at the floor,
and a new kind of trouble is exactly what early warning is for. Two weeks, not one: from a single
past hour a true λ of 3 reads as 0 one time in twenty, and a floor-level test would then fire on
ordinary traffic; from two the odds are one in four hundred.

Class case: `CLASS_MIN` (3) petitions of one county within `CLASS_DAYS` (7) days, by event time,
whose token sets are similar (Jaccard index, see `streams/similarity.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_COUNT = 6
P_VALUE = 1e-4
BASE_FLOOR = 0.5
BASE_WEEKS = 4
MIN_WEEKS = 2
WEEK_HOURS = 24 * 7
CLASS_MIN = 3
CLASS_DAYS = 7

RULES_ZH = (
    f"热点（未诉先办）：某县（市、区）某话题近1小时件数，与该县前{BASE_WEEKS}周同一时段（同星期、同小时）的平均件数"
    f"（基线，不低于{BASE_FLOOR}）相比，件数≥{MIN_COUNT}且泊松检验 P<{P_VALUE:g} 时预警，每小时至多一次。"
    f"基线需该县已有至少{MIN_WEEKS}周的历史计数；历史不足时为“基线不足”，不报热点。"
    f"类案：同一县{CLASS_DAYS}日内内容相似的诉求达{CLASS_MIN}件。"
)
"""The rules in the wall's words (the tooltip of its early-warning section)."""


def poisson_tail(c: int, lam: float) -> float:
    """P(X ≥ c) for X ~ Poisson(λ)."""
    if c <= 0:
        return 1.0
    term = math.exp(-lam)
    cdf = term
    for k in range(1, c):
        term *= lam / k
        cdf += term
    return max(0.0, 1.0 - cdf)


def is_hotspot(count: int, baseline: float) -> bool:
    """The test itself, for a baseline that exists (see `Baseline.ready`)."""
    return count >= MIN_COUNT and poisson_tail(count, max(baseline, BASE_FLOOR)) < P_VALUE


def weeks_covered(first_hour: int | None, now_hour: int) -> int:
    """How many of the previous `BASE_WEEKS` same hours of the week lie wholly inside the history
    that began in `first_hour` (hours since the epoch); 0 without history. The first hour itself
    was counted only from its first petition on, so it does not count as covered."""
    if first_hour is None:
        return 0
    return max(0, min(BASE_WEEKS, (now_hour - first_hour - 1) // WEEK_HOURS))


@dataclass(frozen=True)
class Baseline:
    """The same-hour-of-week counts the history covers (most recent week first)."""

    past: tuple[int, ...]

    @property
    def weeks(self) -> int:
        return len(self.past)

    @property
    def ready(self) -> bool:
        """Enough history to judge by; otherwise "基线不足" and no hotspot."""
        return self.weeks >= MIN_WEEKS

    @property
    def mean(self) -> float:
        return sum(self.past) / len(self.past) if self.past else 0.0

    def hotspot(self, count: int) -> bool:
        return self.ready and is_hotspot(count, self.mean)


def baseline_of(past: Sequence[int]) -> Baseline:
    return Baseline(tuple(int(n) for n in past))
