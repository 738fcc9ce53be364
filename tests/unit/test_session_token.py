"""The console login survives F5 / a second tab as a signed, expiring token (issue 14 item 9)."""

from __future__ import annotations

import pytest

from dashboard import session_token as tok
from fengqiao import signing

pytestmark = pytest.mark.unit
IDLE, TOTAL = 30 * 60.0, 12 * 3600.0


def test_a_token_names_the_session_it_was_issued_for() -> None:
    t = tok.issue("key-1", "officer", 1000.0, 1500.0, "n1")
    s = tok.verify("key-1", t, 1600.0, IDLE, TOTAL)
    assert (s.username, s.login_at, s.seen_at, s.nonce) == ("officer", 1000.0, 1500.0, "n1")
    assert tok.issue("key-1", "officer", 1.0, 1.0) != tok.issue("key-1", "officer", 1.0, 1.0)  # fresh nonce


def test_forged_altered_or_foreign_tokens_are_refused() -> None:
    t = tok.issue("key-1", "officer", 1000.0, 1500.0)
    with pytest.raises(tok.BadToken, match="signature"):
        tok.verify("other-key", t, 1600.0, IDLE, TOTAL)
    head, payload, mac = t.split(".")
    forged = tok.issue("key-1", "admin", 1000.0, 1500.0).split(".")[1]
    with pytest.raises(tok.BadToken, match="签名|signature"):
        tok.verify("key-1", f"{head}.{forged}.{mac}", 1600.0, IDLE, TOTAL)  # another user under this mac
    for bad in ("", "v1.x", "v2." + payload + "." + mac, f"{head}.{payload}.{mac[:-1]}{'1' if mac[-1] == '0' else '0'}"):
        with pytest.raises(tok.BadToken):
            tok.verify("key-1", bad, 1600.0, IDLE, TOTAL)
    cmd_sig = signing.signature("key-1", payload.encode()).decode().split("=", 1)[1]
    with pytest.raises(tok.BadToken):  # a command signature under the same key is no session token
        tok.verify("key-1", f"{head}.{payload}.{cmd_sig}", 1600.0, IDLE, TOTAL)


def test_tokens_expire_as_sessions_do() -> None:
    t = tok.issue("key-1", "officer", 0.0, 100.0)
    assert tok.verify("key-1", t, 100.0 + IDLE - 1, IDLE, TOTAL)
    with pytest.raises(tok.BadToken, match="未操作"):
        tok.verify("key-1", t, 100.0 + IDLE, IDLE, TOTAL)
    late = tok.issue("key-1", "officer", 0.0, TOTAL - 10)
    with pytest.raises(tok.BadToken, match="重新登录"):
        tok.verify("key-1", late, TOTAL, IDLE, TOTAL)
    with pytest.raises(tok.BadToken, match="时间"):  # seen before login: not issued by us
        tok.verify("key-1", tok.issue("key-1", "officer", 500.0, 100.0), 600.0, IDLE, TOTAL)


def test_the_cookie_script_sets_or_deletes_the_cookie() -> None:
    assert "fq_session=v1.abc; path=/; SameSite=Strict; max-age=60" in tok.cookie_script("v1.abc", 60)
    assert "max-age=0" in tok.cookie_script(None, 0)
