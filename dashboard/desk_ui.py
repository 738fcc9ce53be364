"""What every desk page shares (承办单位 / 派单 / 回访): the login gate and the answer to each click.

* `gate(S, title, roles)`: the console's login (`dashboard.console_session`: cookie restore, renew,
  logout in every tab, throttle), so F5 and a second tab keep the login; a user of another role
  sees a bilingual message and no action widget. Returns the user, or None (the page then stops).
* `send(S, event_type, case_id, payload)`: one desk action through `dashboard.desk_actions.act`,
  for the session's user (session checked again now), answered with a message in every outcome;
  the answer is kept in the session until the next action, so a rerun does not eat it (`flash`).
"""

from __future__ import annotations

import time as clock
import json
from typing import Any, Callable

import streamlit as st

from dashboard import auth, commands, desk_actions, ui
from dashboard import console_session as cs
from fengqiao.settings import Settings

FLASH = "fq_desk_flash"
STATUS_ZH = {"received": "已受理", "assigned": "待签收", "signed": "办理中", "returned": "已退回", "replied": "已反馈",
             "evaluated": "已评价", "reopened": "重新办理", "resolved_online": "在线答复", "merged": "已合并",
             "archived": "已归档"}
PHASE_ZH = {"open": "在办", "awaiting_evaluation": "待评价", "closed": "已办结", "merged": "已合并"}


def gate(s: Settings, title: str, roles: tuple[str, ...]) -> auth.User | None:
    """The logged-in user of one of `roles`, or None after rendering the login form / a refusal."""
    st.markdown(ui.CSS, unsafe_allow_html=True)
    users = auth.ensure_users_file(s.data_dir)
    user = cs.current_user(s, touch=True) or cs.from_cookie(s, users)
    if user is None:
        login_form(s, users, f"{title}登录 Log in")
        cs.keep_cookie(s)
        return None
    head, out = st.columns([5, 1])
    head.title(f"{title} · {user.name}")
    if out.button("退出 Log out", key="desk_logout"):
        cs.log_out()
        st.rerun()
    cs.keep_cookie(s)
    if user.role not in roles:
        st.error(f"当前角色（{user.role}）无权使用此工作台 This desk is for role {' / '.join(roles)}, not {user.role}")
        return None
    return user


def login_form(s: Settings, users: Any, heading: str) -> None:
    """The login form of the console and every desk (throttled; a good password starts the session)."""
    st.title(heading)
    ended = st.session_state.pop("fq_ended", None)
    if ended:
        st.info(ended)
    with st.form("desk_login"):
        username = st.text_input("用户名 Username", key="login_user")
        password = st.text_input("密码 Password", type="password", key="login_password")
        if st.form_submit_button("登录 Log in"):
            try:
                user = auth.login(users, username, password, st.context.ip_address,
                                  cs.throttle(s.wall.login_max_failures, s.wall.login_delay_seconds))
            except auth.LoginRefused as exc:
                st.error(str(exc))
            else:
                cs.start(user, clock.time())
                st.rerun()


def answer(kind: str, text: str) -> None:
    """Show `text` now (toast) and in the action panel until the next action."""
    st.session_state[FLASH] = (kind, text)
    st.toast(text)


def flash() -> None:
    """The answer to the last action, where the action panel shows it."""
    got = st.session_state.get(FLASH)
    if got:
        getattr(st, got[0])(got[1])


def send(s: Settings, event_type: str, case_id: str, payload: dict[str, Any]) -> desk_actions.Done | None:
    """One desk action for the session's user; every outcome answered. The event, or None."""
    return attempt(s, lambda user: desk_actions.act(s, user, event_type, case_id, payload), lambda done: done.message)


def attempt(s: Settings, call: Callable[[auth.User], Any], said: Callable[[Any], str]) -> Any:
    """`call` for the session's user (checked again now); every outcome answered (`said`: the success
    message of its result). The result, or None."""
    user = cs.current_user(s, touch=True)
    if user is None:
        answer("error", "会话已结束，请重新登录 Session ended: log in again")
        return None
    try:
        done = call(user)
    except (auth.Forbidden, ValueError, commands.NotRecorded) as exc:
        answer("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - every click is answered
        answer("error", f"操作未提交 Not sent: {type(exc).__name__}")
    else:
        answer("success", said(done))
        return done
    return None


def safe_payload(raw: str) -> str:
    """An event payload for a timeline, without any contact block (only masked forms exist, but keep
    them off the list) and with phone numbers in free text masked."""
    from sinks.rows import scrub_text

    try:
        data = json.loads(raw)
    except ValueError:
        return ""
    if isinstance(data, dict):
        data.pop("citizen", None)
    return scrub_text(json.dumps(data, ensure_ascii=False)[:300])


def unseal_contact(s: Settings, sealed: str) -> dict[str, Any]:
    """The clear contact fields ({} when the case has none); raises if the key does not open it.
    Called only by `commands.reveal_contact`, after the audit record was acknowledged."""
    if not sealed:
        return {}
    from fengqiao.privacy import unseal
    from fengqiao.settings import reveal

    try:
        return dict(unseal(sealed, reveal(s.pii_key)))
    except Exception as exc:
        raise ValueError(f"解密失败 Could not unseal: {type(exc).__name__}") from exc
