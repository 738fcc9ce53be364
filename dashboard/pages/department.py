"""承办单位工作台: the department desk (issue 14 items 1 and 5; login, role `department`).

The department's open cases, nearest deadline first, with live countdowns (the server's clock,
refreshed every few seconds: `queries.department_cases`, the domain's phase and pending targets);
sign, reply (result, resolved yes/no), return with a reason: each a contract event through
`dashboard.desk_actions` (the gateway's authorization for the user's departments and region, audited
refusals, acks=all); ask for an extension (days, reason): a request the dispatcher approves or rejects
(`dashboard.extensions`), its state shown on the case. A case's timeline, its masked contact and the
audited reveal (as on the console). The early warnings (hotspot 未诉先办, class case 类案) the
routing rules send to this department (`fengqiao.domain.routing`), to acknowledge.

The console's lessons hold: the list refreshes in one fragment, the actions live in another that
does not refresh (a click is never swallowed by a re-render), the selection is kept by case id,
every click is answered; the login survives F5 (`dashboard.console_session`).
"""

from __future__ import annotations

import time as clock

import streamlit as st

from dashboard import alert_view as av
from dashboard import auth, commands, desk_actions, desk_ui, extensions, queries, ui
from dashboard import console_session as cs
from dashboard import repeat_view
from dashboard.runtime import ensure_schema, ensure_sink, settings
from fengqiao.vocab import TARGET_ZH
from sinks.rows import scrub_text

S = settings()
ensure_sink(S)
ensure_schema(S)
SENT = "fq_dept_sent"  # case id → (event type, when): shown until the store has caught up


def _countdown(r: dict) -> str:
    if not r.get("target"):
        return "—"
    left = int(r["seconds_left"])
    label = TARGET_ZH.get(r["target"], r["target"])
    return f"{label} 已超期 {ui.remaining(-left)}" if left < 0 else f"{label} 剩 {ui.remaining(left)}"


@st.fragment(run_every=3)
def board(user: auth.User) -> None:
    """The department's cases and warnings: refreshes itself; the selection stays by case id."""
    try:
        rows = queries.fetch(S, "department_cases", list(user.departments), _regions(user), 500)
        warnings = queries.fetch(S, "department_warnings", list(user.departments), _regions(user), 200)
    except Exception as exc:
        st.error(f"数据库不可用 ClickHouse unreachable: {type(exc).__name__}")
        return
    st.session_state["dept_rows"] = rows
    st.session_state["dept_warnings"] = warnings
    sent = st.session_state.get(SENT, {})
    selected = av.keep_selection(st.session_state.get("dept_selected"), [r["case_id"] for r in rows])
    overdue = sum(1 for r in rows if r["target"] and r["seconds_left"] < 0)
    st.markdown(f"**在办 {len(rows)} 件** · 已超期 {overdue} 件 · 本单位 {'、'.join(user.departments)}")
    table = [{"选中": "▶" if r["case_id"] == selected else "", "案件": r["case_id"],
              "状态": desk_ui.STATUS_ZH.get(r["status"], r["status"]), "倒计时": _countdown(r),
              "时限": ui.fmt_time(r["due_at"]), "话题": r["topic"], "紧急": ui.URGENCY_ZH.get(r["urgency"], ""),
              "属地": ui.region_name(r["region_code"]), "承办": r["department"],
              "最近操作": _sent_label(sent.get(r["case_id"]))} for r in rows]
    st.dataframe(table, hide_index=True, height=320, key="dept_table")
    case = next((r for r in rows if r["case_id"] == selected), None)
    if case is not None:
        st.markdown(f"**选中 {case['case_id']} · {desk_ui.STATUS_ZH.get(case['status'], case['status'])}** · "
                    f"{_countdown(case)} · 时限 {ui.fmt_time(case['due_at'])} · {case['topic']} · {case['department']}"
                    + (f" · {_sent_label(sent[case['case_id']])}" if case["case_id"] in sent else ""))
        _extension_state(case["case_id"])
    st.subheader(f"预警 Early warnings（{len(warnings)}）")
    if warnings:
        st.dataframe([{"告警": w["alert_id"], "类型": ui.KIND_ZH.get(w["kind"], w["kind"]),
                       "状态": ui.STATE_ZH.get(w["state"], w["state"]), "属地": ui.region_name(w["region_code"]),
                       "话题": "、".join(w["topics"]), "内容": scrub_text(w["message"]),
                       "发起": ui.fmt_time(w["raised_at"]),
                       "确认人": w["acknowledged_by"] or ""} for w in warnings],
                     hide_index=True, key="dept_warn_table")
    else:
        st.caption("暂无分送本单位的预警 No early warning routed to this department")


def _extension_state(case_id: str) -> None:
    """The department's extension requests on this case: 待审批 / 已批准 / 已驳回：理由 (newest first)."""
    try:
        asked = [extensions.ExtensionRequest.of(r) for r in queries.fetch(S, "extension_requests_of", [case_id])]
    except Exception as exc:  # noqa: BLE001 - the list above is shown; say what is missing
        st.caption(f"延期申请状态暂不可用 Extension requests unavailable: {type(exc).__name__}")
        return
    if asked:
        st.markdown("延期申请 Extension requests：" + "；".join(
            f"{r.label}（{ui.fmt_time(r.requested_at)} 申请：{scrub_text(r.reason)}）" for r in asked[:3]))


def _regions(user: auth.User) -> list[str]:
    return [] if auth.PROVINCE in user.scope else list(user.scope)


def _sent_label(sent: tuple[str, float] | None) -> str:
    if not sent or clock.time() - sent[1] > 120:
        return ""
    return f"已提交 {sent[0]} {int(clock.time() - sent[1])} 秒前"


def _send(event_type: str, case: dict, payload: dict) -> None:
    """One action, answered; then the whole page runs again so the answer and 已提交 show now."""
    done = desk_ui.send(S, event_type, case["case_id"], payload)
    if done is not None:
        sent = dict(st.session_state.get(SENT, {}))
        sent[case["case_id"]] = (done.event.event_type, clock.time())
        st.session_state[SENT] = sent
    st.rerun()


def _request_extension(case: dict, days: int, reason: str) -> None:
    """申请延期: a request the dispatcher decides (`extensions.request`: checked again server-side)."""
    done = desk_ui.attempt(S, lambda user: extensions.request(S, user, case["case_id"], days, reason),
                           lambda cmd: f"已提交延期申请 {days} 天，等待派单员审批 / Extension request sent for "
                                       f"{case['case_id']} · {cmd.command_id}")
    if done is not None:
        st.session_state[SENT] = {**st.session_state.get(SENT, {}), case["case_id"]: (done.type, clock.time())}
    st.rerun()


def _refuse(text: str) -> None:
    desk_ui.answer("error", text)
    st.rerun()


@st.fragment
def actions(user: auth.User) -> None:
    """The selection (by case id, kept across refreshes) and the department's actions on it."""
    desk_ui.flash()
    rows = st.session_state.get("dept_rows") or []
    if not rows:
        st.info("本单位暂无在办案件 No open case for this department")
        return
    by_id = {r["case_id"]: r for r in rows}
    ids = list(by_id)
    chosen = av.keep_selection(st.session_state.get("dept_selected"), ids)
    picked = st.selectbox("选择案件 Case", ids, index=ids.index(chosen), key="dept_case",
                          format_func=lambda c: f"{c} · {by_id[c]['topic']} · {_countdown(by_id[c])}" if c in by_id else c)
    before = st.session_state.get("dept_selected")
    st.session_state["dept_selected"] = picked
    if before is not None and before != picked:
        st.session_state.pop(desk_ui.FLASH, None)
        st.rerun()  # the whole page: the list marks it, the case panel opens it
    case = by_id[picked]
    department = case["department"]
    c1, c2 = st.columns(2)
    with c1:
        with st.form("sign"):
            st.markdown(f"**签收** · {desk_ui.STATUS_ZH.get(case['status'], case['status'])}")
            if st.form_submit_button("签收 Sign"):
                _send("case.signed", case, {"department": department})
        with st.form("reply", enter_to_submit=False):
            result = st.text_area("办理结果 Result", key="reply_result", max_chars=2000)
            resolved = st.radio("是否解决 Resolved", ["是 yes", "否 no"], horizontal=True, key="reply_resolved")
            if st.form_submit_button("反馈 Reply"):
                if not result.strip():
                    _refuse("请填写办理结果 A result is required")
                else:
                    _send("case.replied", case, {"department": department, "result": result.strip(),
                                                 "resolved": resolved.startswith("是")})
    with c2:
        with st.form("extend", enter_to_submit=False):
            days = st.number_input("延期天数 Days", min_value=1, max_value=30, value=5, step=1, key="ext_days")
            reason = st.text_input("延期原因 Reason", key="ext_reason")
            if st.form_submit_button("申请延期 Extend"):
                if not reason.strip():
                    _refuse("请填写延期原因 A reason is required")
                else:  # a request: the dispatcher approves it (approved_by) or rejects it with a reason
                    _request_extension(case, int(days), reason.strip())
        with st.form("return", enter_to_submit=False):
            reason = st.text_input("退回原因 Reason", key="ret_reason")
            if st.form_submit_button("退回 Return"):
                if not reason.strip():
                    _refuse("请填写退回原因 A reason is required")
                else:
                    _send("case.returned", case, {"department": department, "reason": reason.strip()})
    warning_actions(user)


def warning_actions(user: auth.User) -> None:
    """Acknowledge an early warning routed to this department (the console's command, checked again)."""
    warnings = st.session_state.get("dept_warnings") or []
    firing = [w for w in warnings if w["state"] == "firing"]
    if not firing:
        return
    by_id = {w["alert_id"]: w for w in firing}
    with st.form("warn_ack", enter_to_submit=False):
        alert_id = st.selectbox("预警 Warning", list(by_id), key="warn_pick",
                                format_func=lambda a: f"{a} · {scrub_text(by_id[a]['message'])[:60]}" if a in by_id else a)
        note = st.text_input("确认备注 Note", key="warn_note")
        if st.form_submit_button("确认预警 Acknowledge"):
            current = cs.current_user(S, touch=True)
            if current is None:
                _refuse("会话已结束，请重新登录 Session ended: log in again")
            try:
                desk_actions.acknowledge_warning(S, current, alert_id, note or None)
            except (auth.Forbidden, commands.NotRecorded, ValueError) as exc:
                desk_ui.answer("error", str(exc))
            else:
                desk_ui.answer("success", f"已确认预警 {alert_id}（确认人 {current.username}），等待状态更新 Acknowledged")
            st.rerun()


def case_panel(user: auth.User) -> None:
    """The selected case: summary, timeline, masked contact, audited reveal."""
    case_id = st.session_state.get("dept_selected")
    if not case_id:
        return
    st.subheader(f"案件 {case_id} 时间线 Timeline")
    summary = queries.run(S, "case_summary", case_id)
    if not summary or summary[0]["department"] not in user.departments:
        st.caption("该案件已不在本单位 The case is no longer with this department")
        return
    c = summary[0]
    st.markdown(f"{ui.region_name(c['region_code'])} · {c['topic']} · {ui.CATEGORY_ZH.get(c['category'], c['category'])}"
                f" · {ui.URGENCY_ZH.get(c['urgency'], '')} · 状态 {desk_ui.STATUS_ZH.get(c['status'], c['status'])}"
                f" · 签收时限 {ui.fmt_time(c['sign_due_at'])} · 办结时限 {ui.fmt_time(c['resolve_due_at'])}"
                f" · 退回 {c['return_count']} 次")
    if link := repeat_view.label(S, case_id):  # 假性整改: the petition repeats a case concluded as resolved
        st.warning(link)
    events = queries.run(S, "case_timeline", case_id)
    st.dataframe([{"时间": ui.fmt_time(e["occurred_at"]), "事件": e["event_type"], "角色": e["actor_role"],
                   "部门": e["department"], "内容": desk_ui.safe_payload(e["payload"])} for e in events],
                 hide_index=True, key="dept_timeline")
    contact = queries.run(S, "contact", case_id)
    if not contact:
        return
    st.markdown(f"联系人 {contact[0]['name_masked']} · 电话 {contact[0]['phone_masked']}")
    with st.form("reveal"):
        reason = st.text_input("查看原因（将被记录） Reason (audited)", key="reveal_reason")
        if st.form_submit_button("查看联系方式 Reveal contact"):
            current = cs.current_user(S, touch=True)
            if current is None or not reason.strip():
                st.error("请填写原因 A reason is required" if current else "会话已结束 Session ended")
                return
            try:
                clear = desk_actions.reveal_for_department(S, current, {**c, "sealed": contact[0]["sealed"]},
                                                           reason.strip(), lambda x: desk_ui.unseal_contact(S, x))
            except (auth.Forbidden, commands.NotRecorded, ValueError) as exc:
                st.error(str(exc))
                return
            st.warning("联系方式 Contact: " + "，".join(f"{k}: {v}" for k, v in clear.items()) if clear
                       else "该案件无加密联系方式 No sealed contact data for this case")


user = desk_ui.gate(S, "承办单位工作台", ("department",))
if user is not None:
    board(user)
    actions(user)
    case_panel(user)
