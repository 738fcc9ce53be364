"""Users, roles and passwords for the officer console and the desks.

Users live in a TOML file under the data dir (`<data_dir>/wall_users.toml`),
passwords as bcrypt hashes. At first start a demo file is created with one
user per role (officer / viewer / admin, and one per desk: a department, the
dispatcher, the callback operator); a deployment replaces it. A demo file
written before the desks existed gets the desk users added (only a file that
still says it is the demo file: a deployment's own file is never touched).

    [users.officer]
    name = "值班员"
    role = "officer"
    scope = ["130100", "130102"]   # jurisdiction: prefecture/county codes, or "province"
    password_hash = "$2b$12$..."

    [users.dept_changan]
    name = "长安区劳动保障所"
    role = "department"             # a 承办单位: acts only for its departments, inside its scope
    scope = ["130102"]
    departments = ["长安区乡镇（街道）劳动保障所"]   # department names as the dispatch rules write them
    password_hash = "$2b$12$..."

What each role may do is decided here, on the server, at the moment an
action is executed (`require`): the browser only ever sends widget events, and
a viewer's session never reaches a code path that publishes a command. An
officer reveals contact data only within the user's `scope` (none set: nowhere).
Failed logins are counted per user and per client (`LoginThrottle`: after N
failures each attempt waits, the wait doubling); sessions end after an idle and
an absolute time (`session_expired`).
"""

from __future__ import annotations

import math
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import bcrypt

from fengqiao.regions import PROVINCE_CODE, is_known, prefecture_of

ROLES = ("viewer", "officer", "admin", "department", "dispatcher", "callback")
DESK_ROLES = ("department", "dispatcher", "callback")  # the people on the loop (issue 14)
USERS_FILE = "wall_users.toml"
DEMO_MARK = "Demo file"  # the demo file's first line says so (`ensure_users_file` may add demo users to it)
DEMO_USERS = {  # name, role, password: demo only, printed in the README
    "officer": ("值班员", "officer", "officer123"),
    "viewer": ("观察员", "viewer", "viewer123"),
    "admin": ("管理员", "admin", "admin123"),
    "dept_changan": ("长安区劳动保障所", "department", "dept123"),
    "dispatcher": ("派单员", "dispatcher", "dispatch123"),
    "callback": ("回访员", "callback", "callback123"),
}
PROVINCE = "province"  # a scope that covers every Hebei region
DEMO_SCOPE = {"officer": PROVINCE, "admin": PROVINCE, "dept_changan": "130102",
              "dispatcher": PROVINCE, "callback": PROVINCE}
# The demo department: 长安区's labour desk under both names a case may carry: the dispatch
# rules' (auto-dispatch) and the simulator's (its topic table names the county bureau).
DEMO_DEPARTMENTS = {"dept_changan": ("长安区乡镇（街道）劳动保障所", "长安区人力资源和社会保障局")}
# action → roles allowed to perform it (desk actions: the contract's event type)
PERMISSIONS: dict[str, frozenset[str]] = {
    "alert.acknowledge": frozenset({"officer", "admin", "department"}),
    "alert.silence": frozenset({"officer", "admin"}),
    "case.escalate": frozenset({"officer", "admin"}),
    "case.reveal_contact": frozenset({"officer", "department", "callback"}),  # the callback desk calls the citizen
    # the department desk (承办单位)
    "case.signed": frozenset({"department"}),
    "case.replied": frozenset({"department"}),
    "case.request_extension": frozenset({"department"}),  # 申请延期: a request, decided by a dispatcher
    "case.returned": frozenset({"department"}),
    # the dispatcher desk (派单员): assign by hand; a rejected return is a new assignment
    "case.assigned": frozenset({"dispatcher"}),
    "case.decide_extension": frozenset({"dispatcher"}),  # 延期审批: approve (sends case.extended) or reject
    "case.extended": frozenset({"dispatcher"}),
    # the callback desk (回访员)
    "case.callback": frozenset({"callback"}),
}


class Forbidden(PermissionError):
    """A role tried an action it is not allowed (message in Chinese and English)."""


class LoginRefused(PermissionError):
    """Wrong credentials or too many failures (message in Chinese and English, no hint which part)."""


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str
    scope: tuple[str, ...] = ()  # region codes (prefecture or county) or (PROVINCE,); empty: no jurisdiction
    departments: tuple[str, ...] = ()  # a department user's departments (names as the dispatch rules write them)

    def covers(self, region_code: str) -> bool:
        """Whether `region_code` is inside this user's jurisdiction (unknown codes never are)."""
        if not is_known(region_code):
            return False
        if PROVINCE in self.scope:
            return True
        return region_code in self.scope or prefecture_of(region_code) in self.scope


def parse_scope(username: str, value: Any) -> tuple[str, ...]:
    """A users-file `scope`: "province", or a list of known prefecture/county codes."""
    items = [value] if isinstance(value, str) else list(value or [])
    out = []
    for item in items:
        code = str(item).strip()
        if code in (PROVINCE, PROVINCE_CODE):
            out.append(PROVINCE)
        elif is_known(code):
            out.append(code)
        else:
            raise ValueError(f"用户 {username} 的辖区代码无效 invalid scope code: {code!r}")
    return tuple(out)


def parse_departments(username: str, role: str, value: Any) -> tuple[str, ...]:
    """A users-file `departments`: a list of department names (1–100 characters); a department user needs one."""
    items = [value] if isinstance(value, str) else list(value or [])
    out = tuple(str(v).strip() for v in items)
    if any(not d or len(d) > 100 for d in out):
        raise ValueError(f"用户 {username} 的部门名称无效 invalid department name in {out!r}")
    if role == "department" and not out:
        raise ValueError(f"承办单位用户 {username} 须列出所属部门 a department user needs its departments")
    return out


def users_path(data_dir: Path) -> Path:
    return Path(data_dir) / USERS_FILE


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def ensure_users_file(data_dir: Path) -> Path:
    """Create the demo users file once (never overwrites a deployment's own file); a demo file of an
    earlier version gets the demo users it lacks (the desks'), nothing else changes."""
    path = users_path(data_dir)
    if not path.exists():
        return write_users_file(path, {u: pw for u, (_, _, pw) in DEMO_USERS.items()},
                                f"{DEMO_MARK}: replace for production (`fengqiao secrets init`).")
    text = path.read_text(encoding="utf-8")
    if DEMO_MARK in text.split("\n", 1)[0]:
        missing = {u: pw for u, (_, _, pw) in DEMO_USERS.items() if f"[users.{u}]" not in text}
        if missing:
            path.write_text(text.rstrip("\n") + "\n\n" + "\n".join(_user_lines(missing)), encoding="utf-8")
    return path


def write_users_file(path: Path, passwords: dict[str, str], note: str = "") -> Path:
    """The users file with the demo users' names, roles and scopes and these passwords (bcrypt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# 指挥中心用户 Fengqiao console users (bcrypt). {note}", ""] + _user_lines(passwords)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _user_lines(passwords: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for username, password in passwords.items():
        name, role, _ = DEMO_USERS[username]
        lines += [f"[users.{username}]", f'name = "{name}"', f'role = "{role}"']
        lines += [f'scope = "{DEMO_SCOPE[username]}"'] if username in DEMO_SCOPE else []
        if username in DEMO_DEPARTMENTS:
            lines += ["departments = [" + ", ".join(f'"{d}"' for d in DEMO_DEPARTMENTS[username]) + "]"]
        lines += [f'password_hash = "{hash_password(password)}"', ""]
    return lines


def load_users(path: Path) -> dict[str, dict]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    users = data.get("users", {})
    for username, entry in users.items():
        if entry.get("role") not in ROLES:
            raise ValueError(f"用户 {username} 的角色无效 invalid role: {entry.get('role')!r}")
        parse_scope(username, entry.get("scope"))
        parse_departments(username, entry["role"], entry.get("departments"))
    return users


def demo_users_in_effect(path: Path) -> bool:
    """Whether any user still has its demo password (then the wall must not serve beyond loopback)."""
    return bool(demo_logins(path, first_only=True))


def demo_logins(path: Path, first_only: bool = False) -> list[tuple[str, str, str, str]]:
    """(username, name, role, password) of every user that still has its demo password: what
    `fengqiao up` shows on the laptop (the wall refuses any other host while one remains)."""
    try:
        users = load_users(path)
    except (OSError, ValueError):
        return []
    found = []
    for username, (name, role, password) in DEMO_USERS.items():
        entry = users.get(username)
        try:
            if entry and bcrypt.checkpw(password.encode(), entry["password_hash"].encode()):
                found.append((username, str(entry.get("name", name)), str(entry.get("role", role)), password))
        except (ValueError, KeyError):
            continue
        if found and first_only:
            break
    return found


def authenticate(path: Path, username: str, password: str) -> User | None:
    """The user if the password matches its bcrypt hash, else None (no hint which part was wrong)."""
    entry = load_users(path).get(username.strip())
    if not entry or not password:
        bcrypt.checkpw(b"x", _DUMMY_HASH)  # as slow as a real check: timing does not tell who exists
        return None
    try:
        ok = bcrypt.checkpw(password.encode(), entry["password_hash"].encode())
    except (ValueError, KeyError):
        return None
    if not ok:
        return None
    return user_of(path, username)


def user_of(path: Path, username: str) -> User | None:
    """The user as the users file has it now (role and scope read again), None if it is gone.
    Used after the password (or a signed session token) has been checked."""
    entry = load_users(path).get(username.strip())
    if not entry or entry.get("role") not in ROLES:
        return None
    return User(username.strip(), entry.get("name", username), entry["role"],
                parse_scope(username, entry.get("scope")),
                parse_departments(username, entry["role"], entry.get("departments")))


_DUMMY_HASH = bcrypt.hashpw(b"fengqiao-no-such-user", bcrypt.gensalt(rounds=10))
THROTTLE_KEYS = 100_000  # remembered keys at most (random user names must not grow memory for ever)


@dataclass
class LoginThrottle:
    """Failed logins per key (a user, a client): after `max_failures` each further attempt must
    wait `delay_seconds`, doubled per further failure, up to `cap_seconds`. Process-wide."""

    max_failures: int = 5
    delay_seconds: float = 30.0
    cap_seconds: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, int] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_seconds(self, *keys: str) -> float:
        now = self.clock()
        with self._lock:
            return max([self._until.get(k, 0.0) - now for k in keys] + [0.0])

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            while len(self._failures) >= THROTTLE_KEYS:  # forget the oldest
                oldest = next(iter(self._failures))
                self._failures.pop(oldest)
                self._until.pop(oldest, None)
            for k in keys:
                n = self._failures[k] = self._failures.get(k, 0) + 1
                if n >= self.max_failures:
                    self._until[k] = now + min(self.cap_seconds, self.delay_seconds * 2 ** (n - self.max_failures))

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)
                self._until.pop(k, None)


def login(path: Path, username: str, password: str, client: str | None, throttle: LoginThrottle) -> User:
    """The user, or `LoginRefused`: while a key is throttled the password is not even checked."""
    user_key, client_key = f"user:{username.strip()}", f"client:{client or '-'}"
    wait = throttle.wait_seconds(user_key, client_key)
    if wait > 0:
        s = math.ceil(wait)
        raise LoginRefused(f"登录失败次数过多，请 {s} 秒后再试 Too many failed logins: try again in {s} s")
    user = authenticate(path, username, password)
    if user is None:
        throttle.failed(user_key, client_key)
        raise LoginRefused("用户名或密码错误 Wrong username or password")
    throttle.succeeded(user_key)  # not the client's count: one good account must not reset guessing others
    return user


def session_expired(login_at: float, seen_at: float, now: float, idle_seconds: float, max_seconds: float) -> str | None:
    """Why a console session has ended (bilingual), or None while it is valid."""
    if now - login_at >= max_seconds:
        return f"登录已超过 {max_seconds / 3600:g} 小时，请重新登录 Session expired: log in again"
    if now - seen_at >= idle_seconds:
        return f"超过 {idle_seconds / 60:g} 分钟未操作，已自动退出 Logged out after inactivity: log in again"
    return None


def can(user: User | None, action: str) -> bool:
    return user is not None and user.role in PERMISSIONS.get(action, frozenset())


def require(user: User | None, action: str) -> User:
    """Raise Forbidden unless `user` may perform `action` (checked server-side, every time)."""
    if not can(user, action):
        role = user.role if user else "anonymous"
        raise Forbidden(f"无权限执行此操作 not permitted: {action} (role {role})")
    assert user is not None
    return user
