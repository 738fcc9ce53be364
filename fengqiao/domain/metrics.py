"""KPIs over a collection of cases (DESIGN.md section 4, "Metrics").

Every function takes an iterable of `CaseSnapshot` or `CaseState` and returns a
float in [0, 1], or None when the denominator is 0. Merged cases (duplicates) are
not counted as cases (DESIGN.md "Duplicates": not counted twice), except as the
evidence of a repeat complaint. Definitions (choices where DESIGN.md is terse):

* 响应率 response: signed on time / cases whose sign target is decided (signed, or
  — with `now` — still unsigned past its due). Last sign round.
* 解决率 resolution: resolved (resolved reply or online answer, current round) / cases.
* 满意率 satisfaction: last rating satisfied or basically_satisfied / cases with a rating.
* on-time: resolved on time / cases whose resolve target is decided (met, or — with
  `now` — open past its due).
* online-resolution: resolved online / cases.
* return: cases returned at least once / cases ever assigned.
* re-open: cases re-opened at least once / cases that got an answer (reply or online).
* repeat-complaint: cases that absorbed a duplicate (named by another case's
  `merged_into`, or flagged `repeat_complaint`) / cases.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Callable, Iterable

from fengqiao.records import CaseSnapshot

Case = Any  # CaseSnapshot | CaseState


def _snap(c: Case) -> CaseSnapshot:
    if isinstance(c, CaseSnapshot):
        return c
    from fengqiao.domain.lifecycle import snapshot

    return snapshot(c)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _cases(cases: Iterable[Case]) -> list[CaseSnapshot]:
    return [_snap(c) for c in cases]


def _live(snaps: list[CaseSnapshot]) -> list[CaseSnapshot]:
    return [s for s in snaps if not s.merged_into]


def _resolved(s: CaseSnapshot) -> bool:
    return s.resolved_on_time is not None or s.resolved_online


def response_rate(cases: Iterable[Case], now: datetime | None = None) -> float | None:
    num = den = 0
    for s in _live(_cases(cases)):
        if s.signed_on_time is not None:
            den += 1
            num += s.signed_on_time
        elif now is not None and s.sign_due_at is not None and s.assigned_at is not None and s.sign_due_at < now \
                and s.status == "assigned":
            den += 1
    return _ratio(num, den)


def resolution_rate(cases: Iterable[Case]) -> float | None:
    live = _live(_cases(cases))
    return _ratio(sum(_resolved(s) for s in live), len(live))


def satisfaction_rate(cases: Iterable[Case]) -> float | None:
    rated = [s for s in _live(_cases(cases)) if s.last_rating]
    return _ratio(sum(s.last_rating in ("satisfied", "basically_satisfied") for s in rated), len(rated))


_DONE = frozenset({"merged", "archived", "resolved_online", "evaluated"})


def on_time_rate(cases: Iterable[Case], now: datetime | None = None) -> float | None:
    num = den = 0
    for s in _live(_cases(cases)):
        if s.resolved_on_time is not None:
            den += 1
            num += s.resolved_on_time
        elif now is not None and s.resolve_due_at is not None and s.resolve_due_at < now and not _resolved(s) \
                and s.status not in _DONE:
            den += 1
    return _ratio(num, den)


def online_resolution_rate(cases: Iterable[Case]) -> float | None:
    live = _live(_cases(cases))
    return _ratio(sum(s.resolved_online for s in live), len(live))


def return_rate(cases: Iterable[Case]) -> float | None:
    assigned = [s for s in _live(_cases(cases)) if s.assigned_at is not None or s.return_count]
    return _ratio(sum(s.return_count > 0 for s in assigned), len(assigned))


def reopen_rate(cases: Iterable[Case]) -> float | None:
    answered = [s for s in _live(_cases(cases)) if s.replied_at is not None or s.resolved_online or s.reopen_count]
    return _ratio(sum(s.reopen_count > 0 for s in answered), len(answered))


def repeat_complaint_rate(cases: Iterable[Case]) -> float | None:
    snaps = _cases(cases)
    absorbed = {s.merged_into for s in snaps if s.merged_into}
    live = _live(snaps)
    return _ratio(sum(s.repeat_complaint or s.case_id in absorbed for s in live), len(live))


METRICS: dict[str, Callable[..., float | None]] = {
    "response_rate": response_rate,
    "resolution_rate": resolution_rate,
    "satisfaction_rate": satisfaction_rate,
    "on_time_rate": on_time_rate,
    "online_resolution_rate": online_resolution_rate,
    "return_rate": return_rate,
    "reopen_rate": reopen_rate,
    "repeat_complaint_rate": repeat_complaint_rate,
}
_NOW_AWARE = {"response_rate", "on_time_rate"}


def summary(cases: Iterable[Case], now: datetime | None = None) -> dict[str, float | int | None]:
    """All rates at once, plus the case count (merged duplicates excluded)."""
    snaps = _cases(cases)
    out: dict[str, float | int | None] = {"cases": len(_live(snaps))}
    for name, fn in METRICS.items():
        out[name] = fn(snaps, now) if name in _NOW_AWARE else fn(snaps)
    return out


def by(cases: Iterable[Case], key: Callable[[CaseSnapshot], str], now: datetime | None = None) -> dict[str, dict[str, float | int | None]]:
    """`summary` per group, e.g. `by(cases, lambda s: s.prefecture_code)` or by department.

    Merged duplicates stay in every group's input so repeat complaints are seen."""
    groups: dict[str, list[CaseSnapshot]] = defaultdict(list)
    snaps = _cases(cases)
    for s in snaps:
        groups[key(s)].append(s)
    return {k: summary(v, now) for k, v in groups.items()}
