"""Early-warning rules (DESIGN.md section 4), pure: when a county × topic count is a hotspot (未诉先办),
when there is not yet a baseline to judge it by, and the class-case (类案) thresholds.
`streams/early_warning.py` keeps the counts and token sets and applies these rules.

Let c be a county's count for one topic over the last hour (event time) and λ the baseline: the mean
count at the same hour of the week in the observed ones (below) of the previous `BASE_WEEKS` (4)
weeks, floored at `BASE_FLOOR` (0.5, so a topic never seen before is not "infinitely above
baseline"). A hotspot needs c ≥ `MIN_COUNT` (6) and the Poisson upper tail P(X ≥ c | λ) < `P_VALUE`
(1e-4): with λ at its floor that needs c ≥ 6, with λ = 3 it needs c ≥ 12.

Enough history: a count of 0 a week ago means "quiet" only if the county was being counted then. A
past week's hour is *observed* when the county had at least one counted petition (any topic, event
time) in the `SEEN_HOURS` (12) hours before it (so its counting had begun); the baseline is the mean over the
observed weeks and exists only when at least `MIN_WEEKS` (2) of the previous 4 are observed. Until
then there is no hotspot: the state is "基线不足" (no baseline yet), not an alert at "基线 0.0".
Observation, not "time since the first petition", so a fresh worker, a worker that was down and a
single late petition dated weeks back all leave the unobserved weeks out. It is per county, not per
county × topic: once a county is being counted, a topic it never had is rightly at the floor, and a
new kind of trouble is exactly what early warning is for. Two weeks, not one: from a single past
hour a true λ of 3 reads as 0 one time in twenty, and a floor-level test would then fire on
ordinary traffic; from two the odds are one in four hundred. The price: a county with no petition in
the 12 hours before that hour in two of the last four weeks (a quiet county at night) gets no
hotspot then.

Class case: `CLASS_MIN` (3) petitions of one county within `CLASS_DAYS` (7) days, by event time,
whose token sets are similar (Jaccard index, see `streams/similarity.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_COUNT = 6
P_VALUE = 1e-4
BASE_FLOOR = 0.5
BASE_WEEKS = 4
MIN_WEEKS = 2
SEEN_HOURS = 12
WEEK_HOURS = 24 * 7
CLASS_MIN = 3
CLASS_DAYS = 7

RULES_ZH = (
    f"热点（未诉先办）：某县（市、区）某话题近1小时件数，与该县前{BASE_WEEKS}周同一时段（同星期、同小时）的平均件数"
    f"（基线，不低于{BASE_FLOOR}）相比，件数≥{MIN_COUNT}且泊松检验 P<{P_VALUE:g} 时预警，每小时至多一次。"
    f"基线只取该县当时已在计数的周（该时段之前{SEEN_HOURS}小时内有诉求），需至少{MIN_WEEKS}周；"
    f"历史不足时为“基线不足”，不报热点。"
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


def seen_window(hour: int) -> range:
    """The hours (since the epoch) whose county totals decide whether `hour` was observed."""
    return range(hour - SEEN_HOURS, hour)


def observed(totals: Iterable[int | None]) -> bool:
    """Was the county being counted at a past hour? `totals`: its petition counts (all topics) in
    `seen_window(hour)`, None for an hour without any."""
    return any(totals)


@dataclass(frozen=True)
class Baseline:
    """The same-hour-of-week counts of the observed past weeks (most recent first)."""

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


def baseline_of(past: Sequence[int | None]) -> Baseline:
    """`past[w - 1]`: the county × topic count w weeks ago at this hour, None where that week was not
    observed (see `observed`); the unobserved weeks are left out, not counted as 0."""
    return Baseline(tuple(int(n) for n in past if n is not None))
