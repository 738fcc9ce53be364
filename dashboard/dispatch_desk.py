"""派单工作台's rules in one place, without Streamlit (the page `dashboard/pages/dispatch.py` draws them).

What the dispatcher sees: the queue `queries.dispatch_queue` returns (returned cases for 派单异议审核,
re-opened ones, and received ones the dispatch rules did not place in time), oldest first. What the
dispatcher does is always a `case.assigned` through the one desk path (`dashboard.desk_actions.act`):

* 人工派单 / 同意退回并改派: to the department and level the dispatcher names (the rules' choice is
  offered first: `suggestion`);
* 驳回退回 (a return rejected): back to the department that returned it, at the case's level, the
  reason in the event's `note` so the department reads why (`reject_payload`).

延期审批: the departments' pending extension requests (`queries.pending_extensions`, oldest first), approved
or rejected through `dashboard.extensions` (`extension_table` is how the desk lists them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard import ui
from fengqiao.domain import triage
from fengqiao.vocab import LEVEL_ZH, LEVELS

KIND_ZH = {"returned": "退回待审核", "reopened": "再转办", "received": "规则未能分派"}
REJECTED = "驳回退回："
APPROVED = "同意退回，改派："


def _bad(en: str, zh: str) -> ValueError:
    return ValueError(f"输入无效 Invalid input: {zh} / {en}")


def suggestion(row: dict[str, Any]) -> triage.Dispatch:
    """What the dispatch rules would choose for this case (offered as the default)."""
    return triage.decide(str(row.get("category") or ""), str(row.get("topic") or ""), None,
                         str(row.get("region_code") or ""))


def assign_payload(department: str, level: str, note: str = "") -> dict[str, Any]:
    """The `case.assigned` payload of a hand assignment (the contract validates it again)."""
    department, note = department.strip(), note.strip()
    if not department:
        raise _bad("name the department", "请填写承办单位")
    if level not in LEVELS:
        raise _bad(f"unknown level {level!r}", f"层级无效：{level}")
    return {"department": department, "level": level} | ({"note": note} if note else {})


def approve_payload(row: dict[str, Any], department: str, level: str, reason: str = "") -> dict[str, Any]:
    """A return approved: the case goes to another department (the one that returned it is refused)."""
    if department.strip() == str(row.get("returned_by") or ""):
        raise _bad("an approved return goes to another department (reject it to send it back)",
                   "同意退回须改派其他单位（如需退回原单位请选择驳回）")
    return assign_payload(department, level, APPROVED + (reason.strip() or department.strip()))


def reject_payload(row: dict[str, Any], reason: str) -> dict[str, Any]:
    """A return rejected (派单异议审核 不予支持): back to the same department, with the reason."""
    dept, reason = str(row.get("returned_by") or ""), reason.strip()
    if row.get("status") != "returned" or not dept:
        raise _bad(f"case {row.get('case_id')} is not a returned case", f"案件 {row.get('case_id')} 不是退回件")
    if not reason:
        raise _bad("give the reason for rejecting the return", "请填写驳回理由")
    level = str(row.get("level") or "township")
    return assign_payload(dept, level if level in LEVELS else "township", REJECTED + reason)


def _waited(since: Any, now: datetime) -> str:
    if not isinstance(since, datetime):
        return "—"
    minutes = max(0, int((now - since).total_seconds() // 60))
    return f"{minutes // 1440}天{minutes % 1440 // 60}小时" if minutes >= 1440 else f"{minutes // 60}小时{minutes % 60}分"


def table(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The queue as the desk shows it (zh-CN columns; identifiers and labels only)."""
    return [{
        "案件编号": r["case_id"], "类型": KIND_ZH.get(r["status"], r["status"]),
        "属地": ui.region_name(r["region_code"]), "类别": ui.CATEGORY_ZH.get(r["category"], r["category"]),
        "事项": r["topic"], "紧急": ui.URGENCY_ZH.get(r["urgency"], r["urgency"]),
        "层级": LEVEL_ZH.get(r.get("level") or "", "—"), "等待": _waited(r.get("waiting_since"), now),
        "退回次数": int(r.get("returns") or 0), "退回单位": r.get("returned_by") or "",
        "退回理由": r.get("return_reason") or "",
    } for r in rows]


def shirking(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """推诿: returns per department (most first) as the desk shows them."""
    return [{"承办单位": r["department"], "退回次数": int(r["returns"]), "涉及案件": int(r["cases"]),
             "最近退回": ui.fmt_time(r["last_at"])} for r in rows]


def extension_table(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The pending extension requests as the desk shows them (identifiers, labels, the request's reason)."""
    return [{
        "案件编号": r["case_id"], "承办单位": r["department"], "延期天数": int(r["days"]), "延期理由": r["reason"],
        "申请人": r["requested_by"], "申请时间": ui.fmt_time(r["requested_at"]), "等待": _waited(r.get("requested_at"), now),
        "当前办结时限": ui.fmt_time(r.get("resolve_due_at")),
    } for r in rows]
