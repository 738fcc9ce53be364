"""The deployment's secrets file (`fengqiao secrets init`): random keys in an env file.

Pure apart from the random source: the CLI writes the text with mode 0600. The same
file serves `set -a; . ./fengqiao.env; set +a` on a host and compose's `env_file:`
(docker/docker-compose.yml): `KEY=value` lines, JSON values in single quotes.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Callable

from fengqiao.settings import INTAKE_CHANNELS, PLATFORM_KEY

# the users file gets one per role (dashboard/auth.py ROLES): the console's and the desks'; dept_changan
# stands for a department user, an example to copy per department (its departments and scope edited)
WALL_USERS = ("officer", "viewer", "admin", "dispatcher", "callback", "dept_changan")


Token = Callable[[int], str]


def new_env(*, docker: bool = False, token: Token = secrets.token_urlsafe) -> dict[str, str]:
    """Variable → value: the personal-data and command keys, one intake key per channel and the
    platform key; with `docker` also the ClickHouse server's password and the URL with it."""
    keys = {c: token(24) for c in INTAKE_CHANNELS} | {PLATFORM_KEY: token(24)}
    env = {"FENGQIAO_PII_KEY": token(32), "FENGQIAO_COMMAND_KEY": token(32),
           "FENGQIAO_GATEWAY__API_KEYS": json.dumps(keys, separators=(",", ":"))}
    if docker:
        pw = token(24)
        env |= {"CLICKHOUSE_PASSWORD": pw, "FENGQIAO_CLICKHOUSE_URL": f"http://fengqiao:{pw}@clickhouse:8123"}
    return env


def new_passwords(token: Token = secrets.token_urlsafe) -> dict[str, str]:
    return {u: token(12) for u in WALL_USERS}


def render(env: dict[str, str], at: datetime) -> str:
    """The env file's text. token_urlsafe and JSON never contain a single quote."""
    lines = [f"# Fengqiao secrets, written by `fengqiao secrets init` at {at.isoformat(timespec='seconds')}.",
             "# 密钥文件：勿提交到 git，勿外传 / keep out of git. A new FENGQIAO_PII_KEY makes contact data",
             "# sealed with the old one unreadable and duplicate matching restart: keep it for the deployment's life.",
             "# Department keys: add entries like",
             '#   "zoning":{"secret":"...","role":"department","departments":["市住建局"]}',
             "# to FENGQIAO_GATEWAY__API_KEYS (see README, API keys and roles).", ""]
    lines += [f"{k}='{v}'" for k, v in env.items()]
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, str]:
    """Read an env file back (`KEY=value`, optional single or double quotes, # comments)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        out[k.strip()] = v
    return out
