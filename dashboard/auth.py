"""Users, roles and passwords for the officer console.

Users live in a TOML file under the data dir (`<data_dir>/wall_users.toml`),
passwords as bcrypt hashes. At first start a demo file is created with one
user per role (officer / viewer / admin); a deployment replaces it.

    [users.officer]
    name = "值班员"
    role = "officer"
    password_hash = "$2b$12$..."

What each role may do is decided here, on the server, at the moment an
action is executed (`require`): the browser only ever sends widget events, and
a viewer's session never reaches a code path that publishes a command.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import bcrypt

ROLES = ("viewer", "officer", "admin")
USERS_FILE = "wall_users.toml"
DEMO_USERS = {  # name, role, password: demo only, printed in the README
    "officer": ("值班员", "officer", "officer123"),
    "viewer": ("观察员", "viewer", "viewer123"),
    "admin": ("管理员", "admin", "admin123"),
}
# action → roles allowed to perform it
PERMISSIONS: dict[str, frozenset[str]] = {
    "alert.acknowledge": frozenset({"officer", "admin"}),
    "alert.silence": frozenset({"officer", "admin"}),
    "case.escalate": frozenset({"officer", "admin"}),
    "case.reveal_contact": frozenset({"officer"}),
}


class Forbidden(PermissionError):
    """A role tried an action it is not allowed (message in Chinese and English)."""


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str


def users_path(data_dir: Path) -> Path:
    return Path(data_dir) / USERS_FILE


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def ensure_users_file(data_dir: Path) -> Path:
    """Create the demo users file once (never overwrites a deployment's own file)."""
    path = users_path(data_dir)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# 指挥中心用户 Fengqiao console users (bcrypt). Demo file: replace for production.", ""]
    for username, (name, role, password) in DEMO_USERS.items():
        lines += [f"[users.{username}]", f'name = "{name}"', f'role = "{role}"',
                  f'password_hash = "{hash_password(password)}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def load_users(path: Path) -> dict[str, dict]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    users = data.get("users", {})
    for username, entry in users.items():
        if entry.get("role") not in ROLES:
            raise ValueError(f"用户 {username} 的角色无效 invalid role: {entry.get('role')!r}")
    return users


def authenticate(path: Path, username: str, password: str) -> User | None:
    """The user if the password matches its bcrypt hash, else None (no hint which part was wrong)."""
    entry = load_users(path).get(username.strip())
    if not entry or not password:
        return None
    try:
        ok = bcrypt.checkpw(password.encode(), entry["password_hash"].encode())
    except (ValueError, KeyError):
        return None
    return User(username.strip(), entry.get("name", username), entry["role"]) if ok else None


def can(user: User | None, action: str) -> bool:
    return user is not None and user.role in PERMISSIONS.get(action, frozenset())


def require(user: User | None, action: str) -> User:
    """Raise Forbidden unless `user` may perform `action` (checked server-side, every time)."""
    if not can(user, action):
        role = user.role if user else "anonymous"
        raise Forbidden(f"无权限执行此操作 not permitted: {action} (role {role})")
    assert user is not None
    return user
