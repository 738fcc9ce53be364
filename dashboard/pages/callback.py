"""回访工作台: the callback desk (issue 14 item 3; login, role `callback`).

The day's sample (随机回访) of the cases concluded the day before: the share configured in
`settings.callback`, plus every dissatisfied case and every formal petition, drawn by
`fengqiao.domain.callback.draw` (deterministic for a day and the seed, which is not shown here:
whoever knows it could predict tomorrow's calls). The operator reveals the contact (audited, as
on the console), calls, and records reached / not reached and the rating: a contract
`case.callback` through `dashboard.desk_actions` (authorization, audit of refusals, acks=all).
A dissatisfied callback re-opens the case (再转办) in the lifecycle; the list shows it within
seconds (its status, and the callback recorded). A repeat petition shows its link
(重复投诉 · 关联 <earlier case>).

As on every desk: the list refreshes in one fragment, the form lives in another that does not
(no click swallowed), the selection is kept by case id, every click is answered, F5 keeps the login.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import streamlit as st

from dashboard import alert_view as av
from dashboard import auth, commands, desk_ui, queries, repeat_view, ui
from dashboard.runtime import ensure_schema, ensure_sink, settings
from fengqiao.domain import callback as cb
from fengqiao.vocab import TZ

S = settings()
ensure_sink(S)
ensure_schema(S)
RATINGS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}


def sample(day: date) -> tuple[list[dict], int]:
    """The drawn rows of `day` (in the draw's order) and how many cases concluded that day."""
    rows = queries.fetch(S, "callback_candidates", day)
    by_id = {r["case_id"]: r for r in rows}
    picks = cb.draw((cb.Concluded(r["case_id"], bool(r["formal_petition"]), r["first_rating"], r["last_rating"])
                     for r in rows), day, S.callback.rule())
    return [{**by_id[p.case_id], "reason": p.reason_zh} for p in picks], len(rows)


def _last_callback(calls: list[dict]) -> str:
    if not calls:
        return "未回访"
    c = calls[-1]
    if not c["reached"]:
        return f"未联系上 {ui.fmt_time(c['occurred_at'])}"
    return f"已回访 · {RATINGS.get(c['rating'], c['rating'] or '未评价')} {ui.fmt_time(c['occurred_at'])}"


@st.fragment(run_every=3)
def board(day: date) -> None:
    try:
        rows, concluded = sample(day)
        ids = [r["case_id"] for r in rows]
        calls = queries.fetch(S, "callbacks_of", tuple(ids))
        links = repeat_view.labels(S, ids)
    except Exception as exc:  # noqa: BLE001 - the desk says so instead of a traceback
        st.error(f"数据库不可用 ClickHouse unreachable: {type(exc).__name__}")
        return
    by_case: dict[str, list[dict]] = {}
    for c in calls:
        by_case.setdefault(c["case_id"], []).append(c)
    st.session_state["cb_rows"] = rows
    selected = av.keep_selection(st.session_state.get("cb_selected"), ids)
    done = sum(1 for i in ids if by_case.get(i))
    st.markdown(f"**{day.isoformat()} 办结 {concluded} 件 · 抽取 {len(rows)} 件**（随机 {S.callback.share:.0%}，"
                f"另含全部不满意件与信访事项）· 已回访 {done} 件")
    st.dataframe([{"选中": "▶" if r["case_id"] == selected else "", "案件": r["case_id"], "抽样原因": r["reason"],
                   "状态": desk_ui.STATUS_ZH.get(r["status"], r["status"]), "话题": r["topic"],
                   "属地": ui.region_name(r["region_code"]), "承办": r["department"] or "—",
                   "回访": _last_callback(by_case.get(r["case_id"], [])), "关联": links.get(r["case_id"], "")}
                  for r in rows], hide_index=True, height=360, key="cb_table")


@st.fragment
def actions(user: auth.User) -> None:
    """Record one callback on the selected case (reached or not, and the rating)."""
    desk_ui.flash()
    rows = st.session_state.get("cb_rows") or []
    if not rows:
        st.info("当日无抽样案件 No case drawn for this day")
        return
    by_id = {r["case_id"]: r for r in rows}
    ids = list(by_id)
    chosen = av.keep_selection(st.session_state.get("cb_selected"), ids)
    picked = st.selectbox("选择案件 Case", ids, index=ids.index(chosen), key="cb_case",
                          format_func=lambda c: f"{c} · {by_id[c]['reason']} · {by_id[c]['topic']}" if c in by_id else c)
    before = st.session_state.get("cb_selected")
    st.session_state["cb_selected"] = picked
    if before is not None and before != picked:
        st.session_state.pop(desk_ui.FLASH, None)
        st.rerun()
    with st.form("callback", enter_to_submit=False):
        reached = st.radio("是否联系上 Reached", ["已联系上 reached", "未联系上 not reached"], horizontal=True,
                           key="cb_reached")
        rating = st.selectbox("群众评价 Rating", list(RATINGS), format_func=RATINGS.get, key="cb_rating")
        st.caption("“不满意”将重新交办该案件（再转办） A dissatisfied callback re-opens the case")
        if st.form_submit_button("记录回访 Record callback"):
            ok = reached.startswith("已")
            payload = {"reached": ok, **({"rating": rating} if ok else {})}
            desk_ui.send(S, "case.callback", picked, payload)
            st.rerun()
    contact(user, by_id[picked])


def contact(user: auth.User, case: dict) -> None:
    """The masked contact, and the audited reveal the call needs."""
    got = queries.run(S, "contact", case["case_id"])
    if not got:
        st.caption("无联系方式 No contact data")
        return
    st.markdown(f"联系人 {got[0]['name_masked']} · 电话 {got[0]['phone_masked']}")
    if not auth.can(user, "case.reveal_contact"):
        return
    with st.form("cb_reveal", enter_to_submit=False):
        reason = st.text_input("查看原因（将被记录） Reason (audited)", value="回访", key="cb_reveal_reason")
        if st.form_submit_button("查看联系方式 Reveal contact"):
            try:
                clear = commands.reveal_contact(S, user, {**case, "sealed": got[0]["sealed"]}, reason.strip() or "回访",
                                                lambda sealed: desk_ui.unseal_contact(S, sealed))
            except (auth.Forbidden, commands.NotRecorded, ValueError) as exc:
                st.error(str(exc))
            else:
                st.success(f"联系人 {clear.get('name', '')} · 电话 {clear.get('phone', '')}（已记录查看）")


user = desk_ui.gate(S, "回访工作台", ("callback",))
if user is not None:
    yesterday = (datetime.now(TZ) - timedelta(days=1)).date()
    day = st.date_input("办结日期 Concluded on", value=yesterday, max_value=yesterday + timedelta(days=1), key="cb_day")
    board(day)
    actions(user)
