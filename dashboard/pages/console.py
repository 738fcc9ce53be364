"""值班台: the officer console (login required).

The alert queue with filters, acknowledge / silence / escalate (commands on
`petitions.commands`), a case's timeline, and the audited contact reveal.
Every action re-checks the session user's role on the server (`auth.require`
inside `commands.issue`); a viewer's page renders no action widgets at all.
Contact data appears only after its audit record was acknowledged by Kafka and
only inside the officer's jurisdiction; failed logins are throttled per user and
per client; a session ends after `wall.session_idle_minutes` idle or
`wall.session_max_hours` in all.
"""

from __future__ import annotations

import json
import time as clock
from datetime import datetime, time, timedelta
from typing import Any

import streamlit as st

from dashboard import auth, commands, queries, ui
from dashboard.runtime import ensure_schema, ensure_sink, settings
from fengqiao import regions as rg
from fengqiao.settings import reveal
from fengqiao.vocab import ESCALATION_LADDER, STAGES
from fengqiao.vocab import TZ as SH
from sinks.rows import scrub_text

S = settings()
ensure_sink(S)
ensure_schema(S)
st.markdown(ui.CSS, unsafe_allow_html=True)
USERS = auth.ensure_users_file(S.data_dir)


@st.cache_resource(show_spinner=False)
def _throttle(max_failures: int, delay_seconds: float) -> auth.LoginThrottle:
    """One failed-login count per process (not per browser session: a new tab must not reset it)."""
    return auth.LoginThrottle(max_failures=max_failures, delay_seconds=delay_seconds)


def _log_out(reason: str | None = None) -> None:
    for k in ("fq_user", "fq_login_at", "fq_seen_at"):
        st.session_state.pop(k, None)
    if reason:
        st.session_state["fq_ended"] = reason


def current_user(touch: bool = False) -> auth.User | None:
    """The user this session logged in as (set only by the login form below, server-side),
    None once the session has expired; `touch` counts this run as activity."""
    user = st.session_state.get("fq_user")
    if not isinstance(user, auth.User):
        return None
    now = clock.time()
    ended = auth.session_expired(st.session_state.get("fq_login_at", 0.0), st.session_state.get("fq_seen_at", 0.0),
                                 now, S.wall.session_idle_minutes * 60, S.wall.session_max_hours * 3600)
    if ended:
        _log_out(ended)
        return None
    if touch:
        st.session_state["fq_seen_at"] = now
    return user


def login() -> None:
    st.title("值班台登录 Officer console")
    ended = st.session_state.pop("fq_ended", None)
    if ended:
        st.info(ended)
    with st.form("login"):
        username = st.text_input("用户名 Username", key="login_user")
        password = st.text_input("密码 Password", type="password", key="login_password")
        if st.form_submit_button("登录 Log in"):
            try:
                user = auth.login(USERS, username, password, st.context.ip_address,
                                  _throttle(S.wall.login_max_failures, S.wall.login_delay_seconds))
            except auth.LoginRefused as exc:
                st.error(str(exc))
            else:
                st.session_state["fq_user"] = user
                st.session_state["fq_login_at"] = st.session_state["fq_seen_at"] = clock.time()
                st.rerun()


def send(ctype: str, **fields: object) -> Any:
    """Issue a command for the session's user (role and session checked again here); the command or None."""
    user = current_user(touch=True)
    if user is None:
        st.error("会话已结束，请重新登录 Session ended: log in again")
        return None
    try:
        cmd = commands.issue(S, user, ctype, **fields)
    except auth.Forbidden as exc:
        st.error(str(exc))
    except Exception as exc:
        st.error(f"指令发送失败 Command not sent: {exc}")
    else:
        st.session_state["fq_last_command"] = f"{cmd.type} {cmd.command_id}"
        st.success(f"指令已发送，等待状态更新 Command sent: {cmd.type}")
        return cmd
    return None


def alert_actions(user: auth.User, alert: dict) -> None:
    if not auth.can(user, "alert.acknowledge"):
        st.info("当前角色只读 Read-only role: 无操作权限")
        return
    c1, c2 = st.columns(2)
    with c1, st.form(f"ack-{alert['alert_id']}"):
        note = st.text_input("确认备注 Note", key="ack_note")
        if st.form_submit_button("确认告警 Acknowledge", disabled=alert["state"] != "firing"):
            send("alert.acknowledge", alert_id=alert["alert_id"], note=note or None)
    with c2, st.form(f"silence-{alert['alert_id']}"):
        d = st.date_input("静默至 Until (date)", value=datetime.now(SH).date(), key="sil_date")
        t = st.time_input("时间 Time", value=(datetime.now(SH) + timedelta(hours=2)).time().replace(second=0, microsecond=0),
                          key="sil_time")
        reason = st.text_input("静默原因 Reason", key="sil_reason")
        if st.form_submit_button("静默 Silence"):
            until = datetime.combine(d, t if isinstance(t, time) else time(0), tzinfo=SH)
            if not reason.strip():
                st.error("请填写原因 A reason is required")
            elif until <= datetime.now(SH):
                st.error("静默截止时间须晚于现在 Until must be in the future")
            else:
                send("alert.silence", alert_id=alert["alert_id"], until=until, reason=reason.strip())


@st.fragment(run_every=3)
def queue(user: auth.User) -> None:
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
        rows = queries.fetch(S, "alert_queue", region, stage, state)
    except Exception as exc:
        st.error(f"数据库不可用 ClickHouse unreachable: {type(exc).__name__}")
        return
    table = [{"告警": r["alert_id"], "状态": ui.STATE_ZH.get(r["state"], r["state"]),
              "级别": ui.SEVERITY_ZH.get(r["severity"], r["severity"]), "类型": ui.KIND_ZH.get(r["kind"], r["kind"]),
              "阶段": ui.STAGE_ZH.get(r["stage"], r["stage"] or "—"), "属地": ui.region_name(r["region_code"]),
              "案件": r["case_id"], "内容": scrub_text(r["message"]), "更新": ui.fmt_time(r["updated_at"]),
              "确认人": r["acknowledged_by"]} for r in rows]
    st.dataframe(table, hide_index=True, height=320, key="q_table")
    if not rows:
        return
    ids = [r["alert_id"] for r in rows]
    picked = st.selectbox("选择告警 Alert", ids, key="q_alert",
                          format_func=lambda a: f"{a} · {next(r['message'] for r in rows if r['alert_id'] == a)}")
    alert = next(r for r in rows if r["alert_id"] == picked)
    st.markdown(f"**{ui.STATE_ZH.get(alert['state'], alert['state'])}** · {alert['message']}"
                + (f" · 确认人 {alert['acknowledged_by']}" if alert["acknowledged_by"] else "")
                + (f" · 备注 {scrub_text(alert['note'])}" if alert["note"] else "")
                + f" · 编号 {alert['alert_id']}")
    st.session_state["fq_case_hint"] = alert["case_id"]
    alert_actions(user, alert)


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
    """The event payload without any contact block (only masked forms exist, but keep them off the list)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return ""
    if isinstance(data, dict):
        data.pop("citizen", None)
    return scrub_text(json.dumps(data, ensure_ascii=False)[:300])


def _unseal(sealed: str) -> dict[str, Any]:
    """The clear contact fields ({} when the case has none); raises if the key does not open it."""
    if not sealed:
        return {}
    from fengqiao.privacy import unseal

    try:
        return dict(unseal(sealed, reveal(S.pii_key)))
    except Exception as exc:
        raise ValueError(f"解密失败 Could not unseal: {type(exc).__name__}") from exc


user = current_user(touch=True)
if user is None:
    login()
else:
    head, out = st.columns([5, 1])
    head.title(f"值班台 · {user.name}（{user.role}）")
    if out.button("退出 Log out"):
        _log_out()
        st.rerun()
    queue(user)
    case_panel(user)
