"""申请延期 → 延期审批: a department asks for more time, a dispatcher decides.

A department never extends its own case: the department desk sends an extension request (a signed
workflow record `case.request_extension` on `petitions.commands`, acks=all, stored by the sink in
`commands`), and only a dispatcher's approval sends the contract's `case.extended` (approved_by: the
dispatcher), through `desk_actions.act`, followed by the decision record `case.decide_extension`.
A rejection is a decision record only, with its reason. The worker validates both records and
leaves them alone (audit/workflow, like `case.reveal_contact`).

Every step is checked server-side as the desks' other actions are (`desk_actions`): the role, the
case from the worker's case view (fail closed), the `case.extended` the request asks for run through
the gateway's authorization and the user's region scope, the lifecycle's state and the policy's
extension limit (`fengqiao.domain.extension`); and here: one pending request per case, a decision
only on a pending request, an approval only while the case is with the requesting department and has
not been extended since the request. Refusals are audited and answered in Chinese and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from dashboard import commands, desk_actions
from dashboard.auth import User, require
from dashboard.desk_actions import CaseLookup, Denial
from fengqiao.settings import Settings

REQUEST = "case.request_extension"
DECIDE = "case.decide_extension"
STATE_ZH = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}


@dataclass(frozen=True)
class ExtensionRequest:
    """One request as the read model holds it (`queries.extension_requests_of` / `pending_extensions`)."""

    request_id: str
    case_id: str
    department: str
    requested_by: str
    requested_at: datetime
    days: int
    reason: str
    extensions_before: int
    state: str  # pending | approved | rejected
    decided_by: str = ""
    decision_reason: str = ""

    @classmethod
    def of(cls, row: dict[str, Any]) -> "ExtensionRequest":
        return cls(**{k: row[k] for k in cls.__dataclass_fields__ if k in row})

    @property
    def label(self) -> str:
        """What the department reads on its case: 待审批 / 已批准 / 已驳回：reason."""
        head = f"延期 {self.days} 天 · {STATE_ZH.get(self.state, self.state)}"
        if self.state == "rejected":
            return f"{head}：{self.decision_reason}"
        return head + (f"（{self.decided_by}）" if self.state == "approved" and self.decided_by else "")


Requests = Callable[[str], list[ExtensionRequest]]  # case id → its requests, newest first


def requests_of(settings: Settings) -> Requests:
    """The read model's requests of one case (read now, not cached)."""
    def lookup(case_id: str) -> list[ExtensionRequest]:
        from dashboard import queries

        return [ExtensionRequest.of(r) for r in queries.run(settings, "extension_requests_of", [case_id])]
    return lookup


def request(settings: Settings, user: User, case_id: str, days: int, reason: str,
            cases: CaseLookup | None = None, requests: Requests | None = None) -> Any:
    """A department's request for `days` more on `case_id`: checked, then sent and acked. The record."""
    require(user, REQUEST)
    case = desk_actions.read_case(settings, case_id, cases)
    asked = _asked(user, case_id, case, days, reason)
    denial = (desk_actions.denial_of(user, asked, case, action=REQUEST)
              or desk_actions.not_now(asked, case or {}, desk_actions.policy_of(settings))
              or _pending(case_id, str((case or {}).get("department") or ""), (requests or requests_of(settings))(case_id)))
    if denial is not None:
        desk_actions.refuse(settings, user, denial, event_type=REQUEST, case_id=case_id)
    assert case is not None  # denial_of refuses an unknown case
    return commands.issue(settings, user, REQUEST, case_id=case_id, department=str(case["department"]),
                          days=asked.payload.days, reason=asked.payload.reason,
                          extensions_before=int(case.get("extension_count") or 0))


def approve(settings: Settings, user: User, request_id: str, case_id: str, cases: CaseLookup | None = None,
            requests: Requests | None = None) -> tuple[desk_actions.Done, Any]:
    """Approve a pending request: `case.extended` through `desk_actions.act`, then the decision record."""
    require(user, DECIDE)
    req = _still_pending(settings, user, request_id, case_id, requests)
    case = desk_actions.read_case(settings, case_id, cases)
    denial = _stale(req, case)
    if denial is not None:
        desk_actions.refuse(settings, user, denial, event_type=DECIDE, case_id=case_id)
    done = desk_actions.act(settings, user, "case.extended", case_id,
                            {"days": req.days, "reason": req.reason, "approved_by": user.name}, cases=lambda _: case)
    try:
        record = commands.issue(settings, user, DECIDE, case_id=case_id, request_id=request_id, approved=True,
                                event_id=str(done.event.event_id))
    except commands.NotRecorded as exc:  # the extension stands; a second approval is refused as stale (_stale)
        raise commands.NotRecorded(f"延期已生效（事件 {done.event.event_id}），但审批记录未写入 / Extension applied, "
                                   f"decision record not acknowledged: {exc}") from exc
    return done, record


def reject(settings: Settings, user: User, request_id: str, case_id: str, reason: str,
           cases: CaseLookup | None = None, requests: Requests | None = None) -> Any:
    """Reject a pending request with a reason (required): the decision record only."""
    require(user, DECIDE)
    if not reason.strip():
        raise ValueError("输入无效 Invalid input: 驳回延期申请须填写理由 / a rejection needs a reason")
    req = _still_pending(settings, user, request_id, case_id, requests)
    case = desk_actions.read_case(settings, case_id, cases)
    asked = _asked(user, case_id, case, req.days, req.reason)
    denial = desk_actions.denial_of(user, asked, case, action=DECIDE)  # role, known case, region scope
    if denial is not None:
        desk_actions.refuse(settings, user, denial, event_type=DECIDE, case_id=case_id)
    return commands.issue(settings, user, DECIDE, case_id=case_id, request_id=request_id, approved=False,
                          reason=reason.strip())


def _asked(user: User, case_id: str, case: dict[str, Any] | None, days: int, reason: str) -> Any:
    """The `case.extended` a request asks for, as the contract takes it (days 1-30, reason): never sent
    by the department; checked as if it were, so a request is refused exactly where the event would be."""
    return desk_actions.checked_event(user, "case.extended", case_id, case,
                                      {"days": int(days), "reason": reason.strip(), "approved_by": user.name})


def _pending(case_id: str, department: str, requests: list[ExtensionRequest]) -> Denial | None:
    open_ = next((r for r in requests if r.state == "pending" and r.department == department), None)
    if open_ is None:
        return None
    return Denial("pending", f"case {case_id} has an extension request pending since {open_.requested_at:%m-%d %H:%M}",
                  f"案件 {case_id} 已有待审批的延期申请（{open_.requested_at:%m-%d %H:%M} 提交），请等待审批")


def _still_pending(settings: Settings, user: User, request_id: str, case_id: str,
                   requests: Requests | None) -> ExtensionRequest:
    req = next((r for r in (requests or requests_of(settings))(case_id) if r.request_id == request_id), None)
    if req is None or req.state != "pending":
        what = "unknown" if req is None else f"already {req.state}"
        desk_actions.refuse(settings, user, Denial(
            "decided", f"extension request {request_id} of case {case_id} is {what}",
            f"案件 {case_id} 的延期申请{'不存在' if req is None else STATE_ZH.get(req.state, req.state)}，不能再审批"),
            event_type=DECIDE, case_id=case_id)
    return req


def _stale(req: ExtensionRequest, case: dict[str, Any] | None) -> Denial | None:
    """An approval the case has moved past since the request: another department has it, or it was extended."""
    if case is None:
        return None  # act() refuses an unknown case
    if str(case.get("department") or "") != req.department:
        return Denial("stale", f"case {req.case_id} is no longer with {req.department}: reject the request",
                      f"案件 {req.case_id} 已不在 {req.department} 办理，请驳回该申请")
    if int(case.get("extension_count") or 0) != req.extensions_before:
        return Denial("stale", f"case {req.case_id} was extended after the request: reject it or ask again",
                      f"案件 {req.case_id} 在申请后已延期，请驳回或由承办单位重新申请")
    return None
