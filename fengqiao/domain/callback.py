"""The day's callback sample (随机回访, DESIGN.md section 1 "callback operators", issue 14 item 3).

Each day the callback desk calls back a random share of the cases concluded the day before,
plus every dissatisfied one and every formal petition (信访事项). Pure and deterministic: a
case is drawn when a keyed hash of (seed, day, case id) falls below the share, so anyone with
the seed can re-draw a day and check that nobody picked or skipped a case by hand, and the
draw of one case does not depend on which other cases are in the list (a late row changes
nothing for the rest).

Choices where DESIGN.md is silent:

* "concluded" means concluded as resolved on that day (Asia/Shanghai): a resolved reply or an
  online answer on that date (the read model's events, stable even after a callback re-opens
  the case);
* "dissatisfied" means rated dissatisfied at least once (first or last rating): those cases
  were re-opened and concluded again, and the callback checks the second conclusion.

The callback itself is the contract's `case.callback` (`reached`, `rating`?); the lifecycle
re-opens a case on a dissatisfied one (再转办, `fengqiao.domain.lifecycle`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Reason(StrEnum):
    formal = "formal"
    dissatisfied = "dissatisfied"
    random = "random"


REASON_ZH = {Reason.formal: "信访事项", Reason.dissatisfied: "曾不满意", Reason.random: "随机抽样"}


@dataclass(frozen=True, slots=True)
class CallbackRule:
    share: float = 0.1  # of the concluded cases, drawn at random
    seed: str = "fengqiao-callback"

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"回访抽样比例须在 0 到 1 之间 / the callback share must be within 0..1, not {self.share}")


@dataclass(frozen=True, slots=True)
class Concluded:
    """A case concluded on the day, as the draw needs it."""

    case_id: str
    formal_petition: bool = False
    first_rating: str = ""
    last_rating: str = ""

    @property
    def dissatisfied(self) -> bool:
        return "dissatisfied" in (self.first_rating, self.last_rating)


@dataclass(frozen=True, slots=True)
class Pick:
    case_id: str
    reason: Reason

    @property
    def reason_zh(self) -> str:
        return REASON_ZH[self.reason]


def lot(case_id: str, day: date, seed: str) -> float:
    """The case's lot for the day, uniform in [0, 1): HMAC-SHA256 of day and case id under the seed."""
    digest = hmac.new(seed.encode(), f"{day.isoformat()}|{case_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def reason_for(c: Concluded, day: date, rule: CallbackRule) -> Reason | None:
    if c.formal_petition:
        return Reason.formal
    if c.dissatisfied:
        return Reason.dissatisfied
    return Reason.random if lot(c.case_id, day, rule.seed) < rule.share else None


def draw(cases: Iterable[Concluded], day: date, rule: CallbackRule = CallbackRule()) -> list[Pick]:
    """The sample of the cases concluded on `day`: formal petitions, then dissatisfied ones, then the
    random share, each group by case id (one pick per case)."""
    picks: dict[str, Pick] = {}
    for c in cases:
        r = reason_for(c, day, rule)
        if r is not None and c.case_id not in picks:
            picks[c.case_id] = Pick(c.case_id, r)
    order = list(Reason)
    return sorted(picks.values(), key=lambda p: (order.index(p.reason), p.case_id))
