"""`fengqiao up`: start the parts as child processes and stop them all together.

It only runs `fengqiao <subcommand>` processes (each in its own process group)
and never imports an adapter, so the core stays free of Kafka/ClickHouse/
Streamlit. A child that exits is restarted with backoff (`fengqiao.backoff`), so a
broker outage or a crash never takes the wall down; only Ctrl-C or SIGTERM stops
every child (SIGTERM, then SIGKILL after a grace period), so no orphan keeps a port bound.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fengqiao.backoff import BackoffPolicy, RestartState
from fengqiao.settings import Settings


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = field(default=0.0)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)


def supervise(children: list[Child], should_stop: Callable[[], bool], policy: BackoffPolicy = BackoffPolicy(),
              poll: float = 0.5, clock: Callable[[], float] = time.monotonic) -> dict[str, RestartState]:
    """Restart each child that exits, after its backoff delay, until `should_stop()`; returns each
    child's restart record. A child's exit is said once, with the wait, not once per poll."""
    states = {c.name: RestartState(policy) for c in children}
    while not should_stop():
        now = clock()
        for c in children:
            st = states[c.name]
            if st.next_start is None and not c.alive():
                wait = st.exited(c.started_at, now)
                code = c.proc.returncode if c.proc else "?"
                print(f"warning: {c.name} exited (code {code}); restart in {wait:g}s "
                      f"重启于 {wait:g} 秒后 (restart #{st.restarts + 1}); see {c.log}", file=sys.stderr, flush=True)
            elif st.due(now) and not should_stop():
                c.start()
                st.restarted()
                print(f"restarted {c.name:<9} pid={c.proc.pid if c.proc else '?'}", flush=True)
        time.sleep(poll)
    return states


def _fengqiao_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "fengqiao.cli", *args]


def _wait_http(url: str, timeout: float, child: Child) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _workers(settings: Settings, env: dict[str, str], logs: Path, count: int) -> list[Child]:
    """`count` streams workers in one consumer group: the first as a lone worker runs (its
    folder, the web port the wall asks), each further one with its own folder and next port."""
    if count == 1:
        return [Child("streams", _fengqiao_argv("streams"), env, logs / "streams.log")]
    s = settings.streams
    return [Child(f"streams-{i}", _fengqiao_argv("streams") if i == 1 else _fengqiao_argv(
        "streams", "--workdir", str(settings.data_dir / "streams" / f"{s.app_id}-{i}"),
        "--web-port", str(s.web_port + i - 1)), env, logs / f"streams-{i}.log") for i in range(1, count + 1)]


def run_up(settings: Settings, *, wall_port: int, rate: float, speed: float, workers: int = 1,
           departments: str = "simulated") -> int:
    """Start streams (`workers` of them), wall (+ embedded sink) and simulator against a running broker
    (`departments`: the simulator's `--departments`, manual = people act at the department desk).

    Returns the exit status for the CLI. The broker is started (and stopped) by
    the caller, the CLI, which owns the adapters.
    """
    logs = settings.data_dir / "logs"
    env = dict(os.environ)
    env["FENGQIAO_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap
    env.setdefault("FENGQIAO_STREAMS__POLICY_PROFILE", "demo")
    env["FENGQIAO_DATA_DIR"] = str(settings.data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    wall = Child("wall", _fengqiao_argv("wall", "--port", str(wall_port)), env, logs / "wall.log")
    children = [
        *_workers(settings, env, logs, workers),
        wall,
        Child("simulate", _fengqiao_argv("simulate", "--rate", str(rate), "--speed", str(speed),
                                         "--departments", departments), env, logs / "simulate.log"),
    ]
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    old_int = signal.signal(signal.SIGINT, _stop)
    old_term = signal.signal(signal.SIGTERM, _stop)
    try:
        for c in children:
            c.start()
            print(f"started {c.name:<9} pid={c.proc.pid if c.proc else '?'} log={c.log}", flush=True)
        url = f"http://{settings.wall.host}:{wall_port}/"
        if _wait_http(url + "_stcore/health", 120, wall):
            print(f"\n  指挥中心大屏 / the wall:  {url}\n  长期上墙 / on a screen for weeks:  {url.rstrip('/')}"
                  f"/app/static/kiosk.html\n  (Ctrl-C 停止全部 / stops everything)\n", flush=True)
        else:
            print(f"error: the wall did not come up; see {wall.log}", file=sys.stderr, flush=True)
            return 1
        supervise(children, lambda: stopping)
        return 0
    finally:
        print("stopping…", flush=True)
        for c in reversed(children):
            c.stop()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
