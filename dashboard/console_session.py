"""The login of a console page (值班台 and any desk): one Streamlit session, kept across F5 and tabs.

`st.session_state` lives per tab and per page load; the signed, expiring cookie of
`dashboard.session_token` carries the login to a new load (F5, a second tab) while the
session rules hold (idle `wall.session_idle_minutes`, absolute `wall.session_max_hours`).
Logging out deletes the cookie and revokes its nonce in this process, so the other tabs of
that login end too. Failed logins are throttled process-wide (`auth.LoginThrottle`).
"""

from __future__ import annotations

import secrets
import time as clock
from pathlib import Path

import streamlit as st

from dashboard import auth, session_token
from fengqiao.settings import Settings, reveal

KEYS = ("fq_user", "fq_login_at", "fq_seen_at", "fq_nonce", "fq_cookie", "fq_cookie_seen")
RENEW_SECONDS = 60  # the cookie's last-seen time is renewed at most this often


@st.cache_resource(show_spinner=False)
def throttle(max_failures: int, delay_seconds: float) -> auth.LoginThrottle:
    """One failed-login count per process (not per browser session: a new tab must not reset it)."""
    return auth.LoginThrottle(max_failures=max_failures, delay_seconds=delay_seconds)


@st.cache_resource(show_spinner=False)
def _revoked() -> set[str]:
    """Session nonces logged out in this process: their cookie (still in other tabs) is void."""
    return set()


def _limits(s: Settings) -> tuple[float, float]:
    return s.wall.session_idle_minutes * 60, s.wall.session_max_hours * 3600


def log_out(reason: str | None = None) -> None:
    nonce = st.session_state.get("fq_nonce")
    if nonce:
        _revoked().add(nonce)
    for k in KEYS:
        st.session_state.pop(k, None)
    st.session_state["fq_cookie_clear"] = True  # this tab's cookie snapshot must not log it in again
    if reason:
        st.session_state["fq_ended"] = reason


def start(user: auth.User, login_at: float, nonce: str | None = None) -> None:
    """This session is now `user`'s (after the password, or a valid cookie, was checked)."""
    st.session_state.pop("fq_cookie_clear", None)
    st.session_state.update(fq_user=user, fq_login_at=login_at, fq_seen_at=clock.time(),
                            fq_nonce=nonce or secrets.token_hex(8))


def current_user(s: Settings, touch: bool = False) -> auth.User | None:
    """The user this session logged in as (set only server-side), None once the session has
    expired or was logged out in another tab; `touch` counts this run as activity."""
    user = st.session_state.get("fq_user")
    if not isinstance(user, auth.User):
        return None
    now = clock.time()
    ended = auth.session_expired(st.session_state.get("fq_login_at", 0.0), st.session_state.get("fq_seen_at", 0.0),
                                 now, *_limits(s))
    if not ended and st.session_state.get("fq_nonce") in _revoked():
        ended = "已在其他窗口退出，请重新登录 Logged out in another tab: log in again"
    if ended:
        log_out(ended)
        return None
    if touch:
        st.session_state["fq_seen_at"] = now
    return user


def from_cookie(s: Settings, users: Path) -> auth.User | None:
    """The user of a valid session cookie (F5, a second tab), re-read from the users file; else None."""
    if st.session_state.get("fq_cookie_clear"):
        return None
    try:
        token = st.context.cookies.get(session_token.COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (tests, bare mode): no cookie
        return None
    if not token:
        return None
    try:
        sess = session_token.verify(reveal(s.command_key), token, clock.time(), *_limits(s))
    except session_token.BadToken as exc:
        if "重新登录" in str(exc):
            st.session_state["fq_ended"] = str(exc)
        return None
    user = auth.user_of(users, sess.username) if sess.nonce not in _revoked() else None
    if user is not None:
        start(user, sess.login_at, sess.nonce)
    return user


def keep_cookie(s: Settings) -> None:
    """Give the browser the session's signed token (renewed after a minute of activity), or delete it."""
    if "fq_user" not in st.session_state:
        if st.session_state.get("fq_cookie_clear"):
            st.iframe(session_token.cookie_script(None, 0))
        return
    seen = st.session_state["fq_seen_at"]
    if seen - st.session_state.get("fq_cookie_seen", float("-inf")) >= RENEW_SECONDS:
        st.session_state["fq_cookie"] = session_token.issue(reveal(s.command_key), st.session_state["fq_user"].username,
                                                            st.session_state["fq_login_at"], seen,
                                                            st.session_state["fq_nonce"])
        st.session_state["fq_cookie_seen"] = seen
    st.iframe(session_token.cookie_script(st.session_state["fq_cookie"], int(_limits(s)[1])))
