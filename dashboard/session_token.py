"""A signed, expiring console login that survives F5 and a second tab.

Streamlit keeps `st.session_state` per browser tab and per page load, so the login
lived only until the next refresh. The console now also gives the browser a token
(a cookie): `v1.<payload>.<mac>`, the payload naming the user, when they logged in
and when they were last active, signed with HMAC-SHA256 (`fengqiao.signing`) under a
key derived from the command key, so the browser cannot forge or extend it. A new
page load accepts the token only while the session rules of `auth.session_expired`
(idle time, absolute time) still hold, and only for a user the users file still
has (role and scope are read again from there). Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from dashboard.auth import session_expired
from fengqiao import signing

COOKIE = "fq_session"
PREFIX = "v1"


class BadToken(ValueError):
    """The token is malformed, forged or expired (message in Chinese and English)."""


@dataclass(frozen=True)
class Session:
    username: str
    login_at: float
    seen_at: float
    nonce: str


def _key(secret: str) -> str:
    """A key for sessions only: a session token is never a valid command signature and vice versa."""
    if not secret:
        raise ValueError("会话密钥为空 the session signing key is empty (set FENGQIAO_COMMAND_KEY)")
    return hmac.new(secret.encode(), b"fengqiao-console-session", hashlib.sha256).hexdigest()


def issue(secret: str, username: str, login_at: float, seen_at: float, nonce: str | None = None) -> str:
    """The token for this session (a new nonce unless the session's own is passed)."""
    body = json.dumps({"u": username, "l": login_at, "s": seen_at, "n": nonce or secrets.token_hex(8)},
                      separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
    mac = signing.signature(_key(secret), payload.encode()).decode().split("=", 1)[1]
    return f"{PREFIX}.{payload}.{mac}"


def verify(secret: str, token: str, now: float, idle_seconds: float, max_seconds: float) -> Session:
    """The session a token stands for, or `BadToken` (forged, altered, malformed, expired)."""
    parts = (token or "").split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise BadToken("登录凭据格式无效 malformed session token")
    reason = signing.verify(_key(secret), parts[1].encode(), f"{signing.SCHEME}={parts[2]}")
    if reason:
        raise BadToken("登录凭据无效 session token signature does not match")
    try:
        data = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        s = Session(str(data["u"]), float(data["l"]), float(data["s"]), str(data["n"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadToken("登录凭据格式无效 malformed session token") from exc
    if s.seen_at < s.login_at or s.seen_at > now + 60:
        raise BadToken("登录凭据时间无效 session token times are inconsistent")
    ended = session_expired(s.login_at, s.seen_at, now, idle_seconds, max_seconds)
    if ended:
        raise BadToken(ended)
    return s


def cookie_script(token: str | None, max_age_seconds: int) -> str:
    """The JS that sets (or, for None, deletes) the console cookie on the page's own origin."""
    value = json.dumps(f"{COOKIE}={token or ''}; path=/; SameSite=Strict; max-age={max_age_seconds if token else 0}")
    return ("<script>try{window.parent.document.cookie=" + value + "}catch(e){document.cookie=" + value
            + "}</script>")
