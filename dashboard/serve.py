"""`fengqiao wall`: run the Streamlit app with the project's settings.

The settings object is handed to the app through `FENGQIAO_*` variables (the
app rebuilds the same frozen `Settings`), then this process *becomes*
`streamlit run dashboard/app.py` (exec), so signals from a supervisor or
Ctrl-C reach Streamlit directly and no orphan is left behind.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fengqiao.settings import Settings

APP = Path(__file__).resolve().parent / "app.py"
THEME = {  # a dark command-centre palette
    "theme.base": "dark",
    "theme.primaryColor": "#2f9bff",
    "theme.backgroundColor": "#050b18",
    "theme.secondaryBackgroundColor": "#0d1a30",
    "theme.textColor": "#dbe7ff",
}


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _flatten(f"{prefix}__{name.upper()}", getattr(value, name), out)
    elif value is not None:
        out[prefix] = str(value).lower() if isinstance(value, bool) else str(value)


def settings_env(settings: Settings) -> dict[str, str]:
    """`FENGQIAO_*` variables that rebuild `settings` in another process."""
    out: dict[str, str] = {}
    for name in type(settings).model_fields:
        _flatten(f"FENGQIAO_{name.upper()}", getattr(settings, name), out)
    if "FENGQIAO_CLICKHOUSE_URL" in out and not out["FENGQIAO_CLICKHOUSE_URL"]:
        del out["FENGQIAO_CLICKHOUSE_URL"]
    return out


def command(settings: Settings, port: int, host: str) -> list[str]:
    args = [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.port", str(port), "--server.address", host,
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--client.toolbarMode", "minimal", "--global.developmentMode", "false"]
    for key, val in THEME.items():
        args += [f"--{key}", val]
    return args


def serve(settings: Settings, port: int | None = None, host: str | None = None) -> None:
    """Replace this process with the Streamlit server for the wall, console and leadership pages."""
    from dashboard.auth import ensure_users_file, users_path

    port = port or settings.wall.port
    host = host or settings.wall.host
    settings = settings.model_copy(update={"wall": settings.wall.model_copy(update={"port": port, "host": host})})
    created = not users_path(settings.data_dir).exists()
    ensure_users_file(settings.data_dir)
    if created:
        print(f"demo users created 已创建演示账号: {users_path(settings.data_dir)} "
              "(officer/officer123, viewer/viewer123, admin/admin123)", flush=True)
    env = {**os.environ, **settings_env(settings)}
    env.setdefault("PYTHONPATH", str(APP.parent.parent))
    print(f"wall 大屏: http://{host}:{port}/", flush=True)
    argv = command(settings, port, host)
    os.chdir(APP.parent.parent)
    os.execve(argv[0], argv, env)
