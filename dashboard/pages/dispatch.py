"""派单工作台 (role dispatcher): the cases the rules did not place and the returned ones, oldest
first; assign by hand, approve or reject a return (派单异议审核); returns per case and per
department (推诿) in view. Every action is a `case.assigned` through `dashboard.desk_actions`
(the rules in `dashboard.dispatch_desk`). The list refreshes in one fragment; the action forms
live in another that does not, so a refresh never eats a click."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard import desk_ui, dispatch_desk, queries, repeat_view
from dashboard.runtime import ensure_schema, ensure_sink, settings
from fengqiao.vocab import LEVEL_ZH, LEVELS
from fengqiao.vocab import TZ as SH

S = settings()
ensure_sink(S)
ensure_schema(S)
ROWS, PICK, SENT = "fq_dq_rows", "fq_dq_pick", "fq_dq_sent"


def _load() -> list[dict]:
    rows = queries.fetch(S, "dispatch_queue", S.streams.auto_dispatch_after_seconds)
    sent = st.session_state.get(SENT, {})  # sent and acked, not yet through the worker: shown as such
    return [r for r in rows if sent.get(r["case_id"]) != r["waiting_since"]]


@st.fragment(run_every=3)
def queue() -> None:
    try:
        rows = _load()
        shirk = queries.fetch(S, "returns_by_department")
    except Exception as exc:  # noqa: BLE001 - the store is down: say so, keep the page
        st.error(f"读模型暂不可用 Read model unavailable: {type(exc).__name__}")
        return
    shown = st.session_state.get(ROWS)
    if shown is None:
        st.session_state[ROWS] = shown = rows
    new = {r["case_id"] for r in rows} - {r["case_id"] for r in shown}
    st.markdown(f'<div class="fq-h">待派单 · {len(rows)} 件（退回 {sum(r["status"] == "returned" for r in rows)} 件）</div>',
                unsafe_allow_html=True)
    if new and st.button(f"{len(new)} 件新案件，点击载入 Load new cases", key="dq_take"):
        st.session_state[ROWS] = rows
        st.rerun()
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


@st.fragment
def actions() -> None:
    desk_ui.flash()
    rows = st.session_state.get(ROWS) or []
    if not rows:
        st.info("暂无待派单案件 Nothing to dispatch")
        return
    by_id = {r["case_id"]: r for r in rows}
    ids = list(by_id)
    chosen = st.session_state.get(PICK)
    picked = st.selectbox("选择案件 Case", ids, index=ids.index(chosen) if chosen in by_id else 0, key="dq_case",
                          format_func=lambda c: f"{c} · {dispatch_desk.KIND_ZH.get(by_id[c]['status'], '')}")
    if picked != chosen:
        st.session_state[PICK] = picked
    row = by_id[picked]
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


user = desk_ui.gate(S, "派单工作台", ("dispatcher",))
if user is not None:
    queue()
    actions()
