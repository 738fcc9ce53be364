"""值班台: the officer console (login required).

The alert queue with filters, acknowledge / silence / escalate (commands on
`petitions.commands`), a case's timeline, and the audited contact reveal.
Every action re-checks the session user's role on the server (`auth.require`
inside `commands.issue`); a viewer's page renders no action widgets at all.
Contact data appears only after its audit record was acknowledged by Kafka and
only inside the officer's jurisdiction; failed logins are throttled per user and
per client; a session ends after `wall.session_idle_minutes` idle or
`wall.session_max_hours` in all. The login survives F5 and a second tab as a
signed, expiring cookie (`dashboard.console_session`). Under load the queue holds
still (`dashboard.alert_view`): fixed order, new alerts held back as "N 条新告警",
the selection kept by alert_id, an acknowledgement shown at once (provisional
until the store's record arrives), storms grouped and acknowledged together;
the list refreshes itself in one fragment, the actions live in another so a
click is never swallowed by the list's re-render, and each answers with a message.
"""

from __future__ import annotations

import time as clock
from datetime import datetime, time, timedelta
from typing import Any

import streamlit as st

from dashboard import alert_view as av
from dashboard import auth, commands, desk_ui, queries, ui
from dashboard import console_session as cs
from dashboard import repeat_view
from dashboard.runtime import ensure_schema, ensure_sink, settings
from fengqiao import regions as rg
from fengqiao.vocab import ESCALATION_LADDER, STAGES
from fengqiao.vocab import TZ as SH
from sinks.rows import scrub_text

S = settings()
ensure_sink(S)
ensure_schema(S)
st.markdown(ui.CSS, unsafe_allow_html=True)
USERS = auth.ensure_users_file(S.data_dir)
QUEUE_LIMIT = 2000  # enough for a storm: the list must not lose rows to a LIMIT as others update


def current_user(touch: bool = False) -> auth.User | None:
    """The session's user (`dashboard.console_session`), None once the session has ended."""
    return cs.current_user(S, touch)


def login() -> None:
    desk_ui.login_form(S, USERS, "值班台登录 Officer console")


def send(ctype: str, **fields: object) -> Any:
    """Issue a command for the session's user (role and session checked again here); the command or None.
    Every outcome is answered with a message (kept for the next run as well: a rerun must not eat it)."""
    user = current_user(touch=True)
    if user is None:
        _answer("error", "会话已结束，请重新登录 Session ended: log in again")
        return None
    try:
        cmd = commands.issue(S, user, ctype, **fields)
    except auth.Forbidden as exc:
        _answer("error", str(exc))
    except Exception as exc:
        _answer("error", f"指令发送失败 Command not sent: {exc}")
    else:
        st.session_state["fq_last_command"] = f"{cmd.type} {cmd.command_id}"
        return cmd
    return None


def _answer(kind: str, text: str) -> None:
    """Show `text` now (toast) and in the action panel until the next action."""
    st.session_state["fq_flash"] = (kind, text)
    st.toast(text)


def acknowledge(user: auth.User, alert_ids: list[str], note: str) -> None:
    """Acknowledge each alert; those Kafka acked show 已确认 at once (provisional until the store has them)."""
    done = []
    for alert_id in alert_ids:
        if send("alert.acknowledge", alert_id=alert_id, note=note or None) is None:
            break
        done.append(alert_id)
        pending = dict(st.session_state.get("fq_pending", {}))
        pending[alert_id] = av.Pending(user.username, clock.time(), note)
        st.session_state["fq_pending"] = pending
    if done:
        left = len(alert_ids) - len(done)
        _answer("success" if not left else "error",
                f"指令已发送 Command sent: alert.acknowledge × {len(done)}，已确认 · 确认人 {user.username}"
                + (f"；{left} 条未发送 {left} not sent" if left else ""))
    st.rerun()  # the whole page: the list shows the new state now, not at its next refresh


def alert_actions(user: auth.User, alert: dict, group: list[dict]) -> None:
    if not auth.can(user, "alert.acknowledge"):
        st.info("当前角色只读 Read-only role: 无操作权限")
        return
    c1, c2 = st.columns(2)
    with c1, st.form("ack", enter_to_submit=False):  # Enter in the note must not send a command
        note = st.text_input("确认备注 Note", key="ack_note")
        if st.form_submit_button("确认告警 Acknowledge"):
            if alert["state"] == "firing":
                acknowledge(user, [alert["alert_id"]], note)
            else:
                _answer("info", f"该告警当前为「{ui.STATE_ZH.get(alert['state'], alert['state'])}」，无需确认 "
                                f"Not firing ({alert['state']}): nothing to acknowledge")
        if len(group) > 1:
            firing = av.firing_ids(group)
            st.caption(f"同一风暴 {len(group)} 条告警，其中告警中 {len(firing)} 条 "
                       f"Storm of {len(group)} alerts, {len(firing)} firing")
            if st.form_submit_button("确认本组告警 Acknowledge group"):
                if firing:
                    acknowledge(user, firing, note)
                else:
                    _answer("info", "本组没有告警中的告警 No firing alert left in this group")
    with c2, st.form("silence"):
        d = st.date_input("静默至 Until (date)", value=datetime.now(SH).date(), key="sil_date")
        t = st.time_input("时间 Time", value=(datetime.now(SH) + timedelta(hours=2)).time().replace(second=0, microsecond=0),
                          key="sil_time")
        reason = st.text_input("静默原因 Reason", key="sil_reason")
        if st.form_submit_button("静默 Silence"):
            until = datetime.combine(d, t if isinstance(t, time) else time(0), tzinfo=SH)
            if not reason.strip():
                _answer("error", "请填写原因 A reason is required")
            elif until <= datetime.now(SH):
                _answer("error", "静默截止时间须晚于现在 Until must be in the future")
            elif send("alert.silence", alert_id=alert["alert_id"], until=until, reason=reason.strip()):
                _answer("success", "指令已发送，等待状态更新 Command sent: alert.silence")


def _detail(alert: dict) -> str:
    when = f" · 确认时间 {ui.fmt_time(alert['acknowledged_at'])}" if alert.get("acknowledged_by") else ""
    return (f"**{ui.STATE_ZH.get(alert['state'], alert['state'])}** · {alert['message']}"
            + (f" · 确认人 {alert['acknowledged_by']}" if alert["acknowledged_by"] else "") + when
            + (" · 待入库 pending store" if alert.get("provisional") else "")
            + (f" · 备注 {scrub_text(alert['note'])}" if alert["note"] else "")
            + f" · 编号 {alert['alert_id']}")


@st.fragment(run_every=3)
def queue(user: auth.User) -> None:
    """The list: refreshes itself, never moves (order fixed, new alerts held back)."""
    if current_user() is None:  # the session ended while the queue refreshed itself
        st.rerun()
    names = {"": "全部地区"} | {p.code: p.name for p in rg.prefectures()}
    f1, f2, f3 = st.columns(3)
    region = f1.selectbox("地区 Region", list(names), format_func=names.get, key="q_region")
    stage = f2.selectbox("阶段 Stage", ["", *STAGES],
                         format_func=lambda s: ui.STAGE_ZH.get(s, s) if s else "全部阶段", key="q_stage")
    state = f3.selectbox("状态 State", ["", "firing", "acknowledged", "silenced", "resolved"],
                         format_func=lambda s: ui.STATE_ZH.get(s, s) if s else "全部状态", key="q_state")
    try:
        rows = queries.fetch(S, "alert_queue", region, stage, state, QUEUE_LIMIT)
    except Exception as exc:
        st.error(f"数据库不可用 ClickHouse unreachable: {type(exc).__name__}")
        return
    before = st.session_state.get("fq_filter")
    if before != (region, stage, state):  # another filter: a new first look
        st.session_state["fq_filter"] = (region, stage, state)
        st.session_state.pop("fq_taken", None)
        if before is not None:
            st.rerun()  # the whole page: the selection below follows the new list
    held = av.hold_back(rows, st.session_state.get("fq_taken"))
    st.session_state.setdefault("fq_taken", {r["alert_id"] for r in held.shown})
    if held.new_ids:
        n1, n2 = st.columns([4, 1])
        n1.warning(f"{len(held.new_ids)} 条新告警 new alerts (列表暂不变动 held back until you take them in)")
        if n2.button("显示新告警 Show new", key="q_take_in"):
            st.session_state["fq_taken"] = st.session_state["fq_taken"] | set(held.new_ids)
            st.rerun()
    shown, pending = av.with_pending(held.shown, st.session_state.get("fq_pending", {}), clock.time())
    st.session_state["fq_pending"] = pending
    st.session_state["fq_rows"] = shown
    storms = av.groups(shown)
    size = {r["alert_id"]: len(g) for g in storms.values() for r in g}
    selected = av.keep_selection(st.session_state.get("fq_selected"), [r["alert_id"] for r in shown])
    table = [{"选中": "▶" if r["alert_id"] == selected else "", "告警": r["alert_id"],
              "状态": ui.STATE_ZH.get(r["state"], r["state"]) + ("*" if r.get("provisional") else ""),
              "级别": ui.SEVERITY_ZH.get(r["severity"], r["severity"]), "类型": ui.KIND_ZH.get(r["kind"], r["kind"]),
              "阶段": ui.STAGE_ZH.get(r["stage"], r["stage"] or "—"), "属地": ui.region_name(r["region_code"]),
              "案件": r["case_id"], "同组": size[r["alert_id"]], "内容": scrub_text(r["message"]),
              "发起": ui.fmt_time(r["raised_at"]), "确认人": r["acknowledged_by"]} for r in shown]
    st.dataframe(table, hide_index=True, height=320, key="q_table")
    alert = next((r for r in shown if r["alert_id"] == selected), None)
    if alert is not None:
        st.markdown(_detail(alert))


@st.fragment
def actions(user: auth.User) -> None:
    """The selection (by alert_id, kept across refreshes) and the commands on it."""
    rows = st.session_state.get("fq_rows") or []
    flash = st.session_state.get("fq_flash")
    if flash:
        getattr(st, flash[0])(flash[1])
    if not rows:
        return
    by_id = {r["alert_id"]: r for r in rows}
    ids = list(by_id)
    chosen = av.keep_selection(st.session_state.get("fq_selected"), ids)
    picked = st.selectbox("选择告警 Alert", ids, index=ids.index(chosen), key="q_alert",
                          format_func=lambda a: f"{a} · {by_id[a]['message']}" if a in by_id else a)
    before = st.session_state.get("fq_selected")
    st.session_state["fq_selected"] = picked
    st.session_state["fq_case_hint"] = by_id[picked]["case_id"]
    if before is not None and before != picked:
        st.session_state.pop("fq_flash", None)
        st.rerun()  # the whole page: the list marks it, the case panel opens its case
    alert = by_id[picked]
    group = av.groups(rows)[av.storm_key(alert)]
    alert_actions(user, alert, group)


def case_panel(user: auth.User) -> None:
    st.subheader("案件时间线 Case timeline")
    case_id = st.text_input("案件编号 Case id", value=st.session_state.get("fq_case_hint", ""), key="case_id").strip()
    if not case_id:
        return
    summary = queries.run(S, "case_summary", case_id)
    if not summary:
        st.warning("未找到案件 Case not found")
        return
    c = summary[0]
    st.markdown(f"**{c['case_id']}** · {ui.region_name(c['region_code'])} · {c['topic']} · "
                f"{ui.CATEGORY_ZH.get(c['category'], c['category'])} · {ui.URGENCY_ZH.get(c['urgency'], '')} · "
                f"承办 {c['department'] or '—'} · 状态 {c['status']} · 办结时限 {ui.fmt_time(c['resolve_due_at'])}")
    if link := repeat_view.label(S, case_id):  # 假性整改: this petition repeats a case concluded as resolved
        st.warning(link)
    events = queries.run(S, "case_timeline", case_id)
    st.dataframe([{"时间": ui.fmt_time(e["occurred_at"]), "事件": e["event_type"], "渠道": e["channel"],
                   "角色": e["actor_role"], "部门": e["department"], "内容": _safe_payload(e["payload"])}
                  for e in events], hide_index=True, key="timeline")
    contact = queries.run(S, "contact", case_id)
    if contact:
        st.markdown(f"联系人 {contact[0]['name_masked']} · 电话 {contact[0]['phone_masked']}")
    if auth.can(user, "case.escalate"):
        with st.form("escalate"):
            level = st.selectbox("提级至 To level", [str(lv) for lv in ESCALATION_LADDER],
                                 format_func=ui.LEVEL_ZH.get, key="esc_level")
            reason = st.text_input("提级原因 Reason", key="esc_reason")
            if st.form_submit_button("人工提级 Escalate"):
                if reason.strip():
                    send("case.escalate", case_id=case_id, to_level=level, reason=reason.strip())
                else:
                    st.error("请填写原因 A reason is required")
    if auth.can(user, "case.reveal_contact") and contact:
        with st.form("reveal"):
            reason = st.text_input("查看原因（将被记录） Reason (audited)", key="reveal_reason")
            if st.form_submit_button("查看联系方式 Reveal contact"):
                if reason.strip():
                    reveal_contact(c, contact[0]["sealed"], reason.strip())
                else:
                    st.error("请填写原因 A reason is required")


def reveal_contact(case: dict, sealed: str, reason: str) -> None:
    """Show the clear contact only once the audit record is acknowledged, in the officer's jurisdiction."""
    user = current_user(touch=True)
    if user is None:
        st.error("会话已结束，请重新登录 Session ended: log in again")
        return
    try:
        clear = commands.reveal_contact(S, user, {**case, "sealed": sealed}, reason, _unseal)
    except (auth.Forbidden, commands.NotRecorded, ValueError) as exc:
        st.error(str(exc))
        return
    st.warning("联系方式 Contact: " + "，".join(f"{k}: {v}" for k, v in clear.items()) if clear
               else "该案件无加密联系方式 No sealed contact data for this case")


def _safe_payload(raw: str) -> str:
    return desk_ui.safe_payload(raw)


def _unseal(sealed: str) -> dict[str, Any]:
    return desk_ui.unseal_contact(S, sealed)


user = current_user(touch=True) or cs.from_cookie(S, USERS)
if user is None:
    login()
else:
    head, out = st.columns([5, 1])
    head.title(f"值班台 · {user.name}（{user.role}）")
    if out.button("退出 Log out"):
        cs.log_out()
        st.rerun()
    queue(user)
    actions(user)
    case_panel(user)
cs.keep_cookie(S)
