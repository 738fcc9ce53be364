"""派单工作台 (role dispatcher): the cases the rules did not place and the returned ones, oldest
first; assign by hand, approve or reject a return (派单异议审核); returns per case and per
department (推诿) in view. Every action is a `case.assigned` through `dashboard.desk_actions`
(the rules in `dashboard.dispatch_desk`). 延期审批: the departments' pending extension requests,
oldest first; 批准 sends `case.extended` (approved_by: the dispatcher), 驳回 needs a reason
(`dashboard.extensions`). Each list refreshes in one fragment; the action forms live in another
that does not, so a refresh never eats a click."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import streamlit as st

from dashboard import auth, desk_ui, dispatch_desk, extensions, queries, repeat_view, ui
from dashboard.runtime import ensure_schema, ensure_sink, settings
from fengqiao.vocab import LEVEL_ZH, LEVELS
from fengqiao.vocab import TZ as SH

S = settings()
ensure_sink(S)
ensure_schema(S)
ROWS, PICK, SENT = "fq_dq_rows", "fq_dq_pick", "fq_dq_sent"
EXT_ROWS, EXT_PICK, EXT_SENT = "fq_ext_rows", "fq_ext_pick", "fq_ext_sent"


def _load() -> list[dict]:
    rows = queries.fetch(S, "dispatch_queue", S.streams.auto_dispatch_after_seconds)
    sent = st.session_state.get(SENT, {})  # sent and acked, not yet through the worker: shown as such
    return [r for r in rows if sent.get(r["case_id"]) != r["waiting_since"]]


def _take_new(rows: list[dict], held: str, id_col: str, label: str, key: str) -> None:
    """The forms act on the rows held in `held`; rows that arrived since wait for a click (nothing moves
    under the dispatcher's mouse), which takes them in and runs the whole page again."""
    shown = st.session_state.get(held)
    if shown is None:
        st.session_state[held] = shown = rows
    new = {r[id_col] for r in rows} - {r[id_col] for r in shown}
    if new and st.button(f"{len(new)} {label}", key=key):
        st.session_state[held] = rows
        st.rerun()


@st.fragment(run_every=3)
def queue() -> None:
    try:
        rows = _load()
        shirk = queries.fetch(S, "returns_by_department")
    except Exception as exc:  # noqa: BLE001 - the store is down: say so, keep the page
        st.error(f"读模型暂不可用 Read model unavailable: {type(exc).__name__}")
        return
    st.markdown(f'<div class="fq-h">待派单 · {len(rows)} 件（退回 {sum(r["status"] == "returned" for r in rows)} 件）</div>',
                unsafe_allow_html=True)
    _take_new(rows, ROWS, "case_id", "件新案件，点击载入 Load new cases", "dq_take")
    now = datetime.now(SH)
    st.dataframe(dispatch_desk.table(rows, now), hide_index=True, key="dq_table", height=320)
    st.markdown('<div class="fq-h">推诿 · 近30日各单位退回次数</div>', unsafe_allow_html=True)
    st.dataframe(dispatch_desk.shirking(shirk), hide_index=True, key="dq_shirk", height=220)


def _sent(row: dict, done: object) -> None:
    if done is not None:
        st.session_state.setdefault(SENT, {})[row["case_id"]] = row["waiting_since"]
        st.session_state[ROWS] = [r for r in st.session_state.get(ROWS, []) if r["case_id"] != row["case_id"]]
        st.rerun()  # the whole page: the case leaves the list now


def _send(row: dict, build: object) -> None:
    try:
        payload = build()  # type: ignore[operator]
    except ValueError as exc:
        desk_ui.answer("error", str(exc))
        return
    _sent(row, desk_ui.send(S, "case.assigned", row["case_id"], payload))


def _pick(held: str, id_col: str, pick: str, label: str, key: str, name: Callable[[dict], str]) -> dict | None:
    """The row chosen among those held (kept by id across reruns), or None when none is held."""
    rows = st.session_state.get(held) or []
    if not rows:
        return None
    by_id = {r[id_col]: r for r in rows}
    ids = list(by_id)
    chosen = st.session_state.get(pick)
    picked = st.selectbox(label, ids, index=ids.index(chosen) if chosen in by_id else 0, key=key,
                          format_func=lambda i: name(by_id[i]) if i in by_id else i)
    st.session_state[pick] = picked
    return by_id[picked]


@st.fragment
def actions() -> None:
    desk_ui.flash()
    row = _pick(ROWS, "case_id", PICK, "选择案件 Case", "dq_case",
                lambda r: f"{r['case_id']} · {dispatch_desk.KIND_ZH.get(r['status'], '')}")
    if row is None:
        st.info("暂无待派单案件 Nothing to dispatch")
        return
    picked = row["case_id"]
    hint = dispatch_desk.suggestion(row)
    st.caption(f"选中 {picked} · {dispatch_desk.KIND_ZH.get(row['status'], '')} · 退回 {row['returns']} 次"
               + (f" · 最近由 {row['returned_by']} 退回：{row['return_reason']}" if row["status"] == "returned" else "")
               + f" · 规则建议：{hint.department}")
    if link := repeat_view.label(S, picked):  # 假性整改: the petition repeats a case concluded as resolved
        st.warning(link)
    left, right = st.columns(2)
    with left.form(f"assign-{picked}"):
        title = "同意退回并改派 Approve and reassign" if row["status"] == "returned" else "人工派单 Assign"
        st.markdown(f"**{title}**")
        dept = st.text_input("承办单位 Department", value=hint.department, key=f"dq_dept_{picked}")
        level = st.selectbox("层级 Level", LEVELS, index=LEVELS.index(hint.level), format_func=LEVEL_ZH.get,
                             key=f"dq_level_{picked}")
        note = st.text_input("派单说明 Note", key=f"dq_note_{picked}")
        if st.form_submit_button("派单 Assign"):
            if row["status"] == "returned":
                _send(row, lambda: dispatch_desk.approve_payload(row, dept, level, note))
            else:
                _send(row, lambda: dispatch_desk.assign_payload(dept, level, note))
    if row["status"] == "returned":
        with right.form(f"reject-{picked}"):
            st.markdown(f"**驳回退回 Reject the return** · 退回 {row['returned_by']}")
            reason = st.text_input("驳回理由 Reason", key=f"dq_reason_{picked}")
            if st.form_submit_button("驳回退回 Reject"):
                _send(row, lambda: dispatch_desk.reject_payload(row, reason))


def _ext_load(user: auth.User) -> list[dict]:
    regions = [] if auth.PROVINCE in user.scope else list(user.scope)
    decided = st.session_state.get(EXT_SENT, set())  # decided here, not yet in the store: left out
    return [r for r in queries.fetch(S, "pending_extensions", regions) if r["request_id"] not in decided]


@st.fragment(run_every=3)
def extension_queue(user: auth.User) -> None:
    """延期审批: the pending requests, oldest first; new ones wait for a click so the form's choice holds."""
    try:
        rows = _ext_load(user)
    except Exception as exc:  # noqa: BLE001 - the store is down: say so, keep the page
        st.error(f"读模型暂不可用 Read model unavailable: {type(exc).__name__}")
        return
    st.markdown(f'<div class="fq-h">延期审批 · {len(rows)} 件待审批</div>', unsafe_allow_html=True)
    _take_new(rows, EXT_ROWS, "request_id", "条新延期申请，点击载入 Load new requests", "ext_take")
    if rows:
        st.dataframe(dispatch_desk.extension_table(rows, datetime.now(SH)), hide_index=True, key="ext_table")


def _decided(row: dict, done: object) -> None:
    if done is not None:
        st.session_state[EXT_SENT] = st.session_state.get(EXT_SENT, set()) | {row["request_id"]}
        st.session_state[EXT_ROWS] = [r for r in st.session_state.get(EXT_ROWS, []) if r["request_id"] != row["request_id"]]
    st.rerun()  # the whole page: the answer shows, the request leaves the list


@st.fragment
def extension_actions() -> None:
    row = _pick(EXT_ROWS, "request_id", EXT_PICK, "延期申请 Extension request", "ext_pick",
                lambda r: f"{r['case_id']} · {r['department']} · {r['days']} 天")
    if row is None:
        st.caption("暂无待审批的延期申请 No extension request pending")
        return
    picked = row["request_id"]
    st.caption(f"选中延期申请 {row['case_id']} · {row['department']} 申请延期 {row['days']} 天：{row['reason']}"
               f" · 当前办结时限 {ui.fmt_time(row.get('resolve_due_at'))}")
    left, right = st.columns(2)
    with left.form(f"ext-approve-{picked}"):
        if st.form_submit_button("批准延期 Approve"):
            _decided(row, desk_ui.attempt(
                S, lambda u: extensions.approve(S, u, row["request_id"], row["case_id"]),
                lambda out: f"已批准延期 {row['days']} 天（案件 {row['case_id']}）/ Extension approved · {out[0].event.event_id}"))
    with right.form(f"ext-reject-{picked}", enter_to_submit=False):
        reason = st.text_input("驳回理由 Reason", key=f"ext_reason_{picked}")
        if st.form_submit_button("驳回延期 Reject"):
            _decided(row, desk_ui.attempt(
                S, lambda u: extensions.reject(S, u, row["request_id"], row["case_id"], reason),
                lambda _: f"已驳回延期申请（案件 {row['case_id']}）/ Extension request rejected"))


user = desk_ui.gate(S, "派单工作台", ("dispatcher",))
if user is not None:
    queue()
    actions()
    extension_queue(user)
    extension_actions()
