"""`fengqiao wall`: run the Streamlit app with the project's settings.

The settings object is handed to the app through `FENGQIAO_*` variables (the
app rebuilds the same frozen `Settings`), then this process *becomes*
`streamlit run dashboard/app.py` (exec, through `dashboard.launch`, which first starts the
embedded sink and the metrics server), so signals from a supervisor or
Ctrl-C reach Streamlit directly and no orphan is left behind.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from fengqiao.process import malloc_env
from fengqiao.settings import ExposureRefused, Settings, exposure_problem, is_loopback

APP = Path(__file__).resolve().parent / "app.py"
THEME = {  # a dark command-centre palette
    "theme.base": "dark",
    "theme.primaryColor": "#2f9bff",
    "theme.backgroundColor": "#050b18",
    "theme.secondaryBackgroundColor": "#0d1a30",
    "theme.textColor": "#dbe7ff",
}


def _plain(value: Any) -> Any:
    """JSON-ready form of a setting, secrets in clear (the child process needs the real values)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, Path) else value


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    """Groups become `__` variables; a dict or list leaf is JSON, as pydantic-settings parses it
    (`str(dict)` is not JSON: issue 11, real API keys broke every page of the wall)."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _flatten(f"{prefix}__{name.upper()}", getattr(value, name), out)
        return
    plain = _plain(value)
    if plain is None:
        return
    if isinstance(plain, (dict, list)):
        out[prefix] = json.dumps(plain, ensure_ascii=False)
    else:
        out[prefix] = str(plain).lower() if isinstance(plain, bool) else str(plain)


def settings_env(settings: Settings) -> dict[str, str]:
    """`FENGQIAO_*` variables that rebuild `settings` in another process."""
    out: dict[str, str] = {}
    for name in type(settings).model_fields:
        _flatten(f"FENGQIAO_{name.upper()}", getattr(settings, name), out)
    if "FENGQIAO_CLICKHOUSE_URL" in out and not out["FENGQIAO_CLICKHOUSE_URL"]:
        del out["FENGQIAO_CLICKHOUSE_URL"]
    return out


def command(settings: Settings, port: int, host: str) -> list[str]:
    args = [sys.executable, "-m", "dashboard.launch", "run", str(APP),  # the sink starts with the server
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.port", str(port), "--server.address", host,
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--client.toolbarMode", "minimal", "--client.showErrorDetails", "none",  # never a traceback
            "--global.developmentMode", "false",
            "--server.enableStaticServing", "true"]  # dashboard/static/kiosk.html: the wall for weeks on a screen
    for key, val in THEME.items():
        args += [f"--{key}", val]
    return args


def exposure(settings: Settings, host: str) -> str | None:
    """Why the wall must not listen on `host`: beyond loopback, the demo users (a missing users file
    becomes the demo file) or a built-in key; else None."""
    from dashboard.auth import demo_users_in_effect, users_path

    if is_loopback(host):
        return None
    path = users_path(settings.data_dir)
    demo = [f"{path} (演示账号 demo users)"] if not path.exists() or demo_users_in_effect(path) else []
    return exposure_problem(host, demo + settings.default_secrets())


def serve(settings: Settings, port: int | None = None, host: str | None = None) -> None:
    """Replace this process with the Streamlit server for the wall, console and leadership pages.
    ExposureRefused (nothing started) beyond loopback while a default secret is in effect."""
    from dashboard.auth import DEMO_USERS, ensure_users_file, users_path

    port = port or settings.wall.port
    host = host or settings.wall.host
    problem = exposure(settings, host)
    if problem:
        raise ExposureRefused(problem)
    settings = settings.model_copy(update={"wall": settings.wall.model_copy(update={"port": port, "host": host})})
    created = not users_path(settings.data_dir).exists()
    ensure_users_file(settings.data_dir)
    if created:
        print(f"demo users created 已创建演示账号: {users_path(settings.data_dir)} "
              f"({', '.join(f'{u}/{pw}' for u, (_, _, pw) in DEMO_USERS.items())})", flush=True)
    env = malloc_env({**os.environ, **settings_env(settings)})  # chDB's and Streamlit's threads
    env.setdefault("PYTHONPATH", str(APP.parent.parent))
    print(f"wall 大屏: http://{host}:{port}/", flush=True)
    argv = command(settings, port, host)
    os.chdir(APP.parent.parent)
    os.execve(argv[0], argv, env)
