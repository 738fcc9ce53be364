"""Console authentication rules (dashboard.auth): jurisdiction, login throttling, session expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import auth

pytestmark = pytest.mark.unit


def users_file(tmp_path: Path, scope: str) -> Path:
    path = tmp_path / "wall_users.toml"
    path.write_text(f'[users.duty]\nname = "值班员"\nrole = "officer"\n{scope}\n'
                    f'password_hash = "{auth.hash_password("pw-duty-1")}"\n', "utf-8")
    return path


def test_scope_covers_a_prefecture_its_counties_or_the_province(tmp_path: Path) -> None:
    duty = auth.authenticate(users_file(tmp_path, 'scope = ["130100", "130602"]'), "duty", "pw-duty-1")
    assert duty is not None and duty.scope == ("130100", "130602")
    assert duty.covers("130100") and duty.covers("130102")  # 石家庄 and its 长安区
    assert duty.covers("130602") and not duty.covers("130606")  # one county of 保定, not its neighbour
    assert not duty.covers("130200") and not duty.covers("110101") and not duty.covers("")
    province = auth.User("p", "省", "officer", auth.parse_scope("p", "province"))
    assert province.covers("130702") and not province.covers("999999")
    assert auth.parse_scope("p", "130000") == ("province",)
    assert not auth.User("n", "无", "officer").covers("130102")  # no scope: nowhere (fails closed)


def test_an_unknown_scope_code_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="辖区代码无效"):
        auth.load_users(users_file(tmp_path, 'scope = ["990000"]'))


def test_repeated_failures_are_delayed_exponentially_per_user_and_per_client(tmp_path: Path) -> None:
    path = users_file(tmp_path, 'scope = "province"')
    now = [1000.0]
    throttle = auth.LoginThrottle(max_failures=3, delay_seconds=10, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(auth.LoginRefused, match="用户名或密码错误"):
            auth.login(path, "duty", "guess", "10.0.0.9", throttle)
    with pytest.raises(auth.LoginRefused, match="10 秒后再试"):  # even the right password waits now
        auth.login(path, "duty", "pw-duty-1", "10.0.0.1", throttle)
    with pytest.raises(auth.LoginRefused, match="登录失败次数过多"):  # same client, another user
        auth.login(path, "someone", "x", "10.0.0.9", throttle)
    now[0] += 10
    with pytest.raises(auth.LoginRefused, match="用户名或密码错误"):  # 4th failure: the delay doubles
        auth.login(path, "duty", "guess", "10.0.0.2", throttle)
    assert throttle.wait_seconds("user:duty") == pytest.approx(20)
    now[0] += 20
    assert auth.login(path, "duty", "pw-duty-1", "10.0.0.3", throttle).username == "duty"
    assert throttle.wait_seconds("user:duty") == 0  # success resets the user's count ...
    with pytest.raises(auth.LoginRefused):  # ... not a guessing client's: its next failure waits at once
        auth.login(path, "other", "guess", "10.0.0.9", throttle)
    assert throttle.wait_seconds("client:10.0.0.9") == pytest.approx(20)


def test_sessions_expire_after_idle_time_and_absolute_time() -> None:
    idle, total = 30 * 60.0, 12 * 3600.0
    assert auth.session_expired(0, 0, 60, idle, total) is None
    assert "未操作" in (auth.session_expired(0, 0, idle, idle, total) or "")
    assert auth.session_expired(0, 11 * 3600, 11.4 * 3600, idle, total) is None
    reason = auth.session_expired(0, 12 * 3600 - 1, 12 * 3600, idle, total)
    assert reason and "重新登录" in reason and "expired" in reason


def test_demo_users_in_effect(tmp_path: Path) -> None:
    demo = auth.ensure_users_file(tmp_path / "demo")
    assert auth.demo_users_in_effect(demo)
    assert not auth.demo_users_in_effect(users_file(tmp_path, 'scope = "province"'))
    assert not auth.demo_users_in_effect(tmp_path / "missing.toml")
