"""延期 (extension): whether a case may still be extended, as `lifecycle._extended` decides it.

The desks ask before anything is sent: a department's request (申请延期) the policy no longer allows,
or a dispatcher's approval (延期审批) of one, is answered on the desk instead of reaching the worker
and being dead-lettered there. Checked against the lifecycle itself in tests/unit/test_domain_extension.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fengqiao.domain.lifecycle import OPEN
from fengqiao.domain.policy import Policy


@dataclass(frozen=True)
class ExtensionFacts:
    """What the rule needs of a case (from its snapshot: the worker's case view)."""

    case_id: str
    status: str
    resolve_open: bool  # the current resolve round is pending
    formal: bool
    extensions: int  # granted so far

    @classmethod
    def of(cls, snapshot: dict[str, Any]) -> "ExtensionFacts":
        return cls(case_id=str(snapshot.get("case_id") or ""), status=str(snapshot.get("status") or ""),
                   resolve_open=snapshot.get("resolve_status") == "pending",
                   formal=bool(snapshot.get("formal_petition")), extensions=int(snapshot.get("extension_count") or 0))


@dataclass(frozen=True)
class Refusal:
    """Why an extension is not possible now, in both languages."""

    en: str
    zh: str


def refusal(facts: ExtensionFacts, days: int, policy: Policy) -> Refusal | None:
    """None when the lifecycle would take a `case.extended` of `days` now; else why not."""
    if facts.status not in OPEN:
        return Refusal(f"case {facts.case_id} is {facts.status}: only an open case can be extended",
                       f"案件 {facts.case_id} 当前状态为 {facts.status}，不能延期")
    if not facts.resolve_open:
        return Refusal(f"case {facts.case_id} has no open resolve deadline to extend",
                       f"案件 {facts.case_id} 没有可延期的办理时限")
    _, max_n, max_days = policy.extension(facts.formal)
    if max_n is not None and facts.extensions >= max_n:
        track = " on the formal track" if facts.formal else ""
        return Refusal(f"case {facts.case_id} was extended {facts.extensions} time(s): at most {max_n} allowed{track}",
                       f"案件 {facts.case_id} 已延期 {facts.extensions} 次，最多只能延期 {max_n} 次")
    if max_days is not None and days > max_days:
        return Refusal(f"an extension is at most {max_days} days", f"延期不得超过 {max_days} 日")
    return None
