"""The processes a browser test runs against (not a test module): `fengqiao wall` (embedded sink, own
chDB path) and, for the desks, a `fengqiao streams` worker on the same fresh topics, whose case view
the desks' authorization reads (`FENGQIAO_GATEWAY__STREAMS_URL`). Also the desks' login in Chromium."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOPICS = ("events", "alerts", "commands", "stats", "dlq", "cases", "audit", "repeats")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_env(kafka_bootstrap: str, data: Path, prefix: str = "w") -> dict[str, str]:
    """Settings for one stack: its data dir, fresh topics `<prefix><tag>.*`, its own sink group and app id."""
    tag = os.urandom(4).hex()
    env = {**os.environ, "FENGQIAO_DATA_DIR": str(data), "FENGQIAO_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "FENGQIAO_CLICKHOUSE_DATABASE": "fengqiao", "FENGQIAO_WALL__REFRESH_SECONDS": "2",
           "FENGQIAO_WALL__STALE_AFTER_SECONDS": "3600", "FENGQIAO_SINK__BATCH_SECONDS": "0.2",
           "FENGQIAO_SINK__GROUP_ID": f"{prefix}-sink-{tag}", "FENGQIAO_STREAMS__APP_ID": f"{prefix}-worker-{tag}",
           "PYTHONPATH": str(ROOT)}
    env.pop("FENGQIAO_CLICKHOUSE_URL", None)
    for name in TOPICS:
        env[f"FENGQIAO_TOPICS__{name.upper()}"] = f"{prefix}{tag}.{name}"
    return env


@contextmanager
def running_wall(env: dict[str, str], data: Path, timeout: float = 90) -> Iterator[str]:
    """`fengqiao wall` on a free loopback port until the block ends; yields its URL."""
    port = free_port()
    log = open(data / "wall.log", "w")
    proc = subprocess.Popen([str(ROOT / ".venv/bin/fengqiao"), "wall", "--port", str(port), "--host", "127.0.0.1"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the wall did not start: " + (data / "wall.log").read_text()[-2000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def desk_stack(kafka_bootstrap: str, data: Path, prefix: str = "d",
               extra: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """A streams worker and the wall on the same fresh topics (`extra`: more settings for both);
    yields {"url", "env", "worker"}."""
    from tests.integration.streams_harness import Worker

    env = {**stack_env(kafka_bootstrap, data, prefix), **(extra or {})}
    worker = Worker(env, data / "worker", data / "worker.log")
    env["FENGQIAO_GATEWAY__STREAMS_URL"] = f"http://127.0.0.1:{worker.port}"
    try:
        with running_wall(env, data) as url:
            worker.wait_ready(90)
            yield {"url": url, "env": env, "worker": worker}
    finally:
        worker.stop()


def desk_login(driver: Any, url: str, path: str, title: str, user: str, password: str) -> None:
    """Log in on a desk page (`desk_ui.gate`: the form says "<title>登录", the page "<title> · <name>")."""
    from tests.e2e.test_wall import _button, _element, _wait_text

    driver.get(url + path)
    _wait_text(driver, f"{title}登录")
    _element(driver, 'input[aria-label="用户名 Username"]').send_keys(user)
    _element(driver, 'input[aria-label="密码 Password"]').send_keys(password)
    _button(driver, "登录 Log in").click()
    _wait_text(driver, f"{title} ·", timeout=60)
