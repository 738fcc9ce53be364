"""`fengqiao up`'s supervision with real processes: a child that keeps dying is restarted with
backoff, its neighbour (the wall) keeps running, and only the stop request ends it."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from fengqiao.backoff import BackoffPolicy
from fengqiao.supervisor import Child, supervise

pytestmark = pytest.mark.integration

DIES = "import sys, time; print(time.time(), flush=True); time.sleep(0.1); sys.exit(3)"


def test_a_dying_child_is_restarted_with_backoff_and_the_others_stay_up(tmp_path: Path) -> None:
    dying = Child("simulate", [sys.executable, "-c", DIES], {}, tmp_path / "simulate.log")
    steady = Child("wall", [sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / "wall.log")
    stop = threading.Event()
    policy = BackoffPolicy(base=0.3, factor=2.0, cap=1.2, reset_after=30.0)
    for c in (dying, steady):
        c.start()
    wall_pid = steady.proc.pid if steady.proc else None
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(supervise([dying, steady], stop.is_set, policy, poll=0.05)))
    t.start()
    try:
        log = tmp_path / "simulate.log"
        t0, deadline = time.monotonic(), time.monotonic() + 30  # a loaded machine starts Python slowly
        while time.monotonic() < deadline and len(log.read_text().split()) < 5:
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        stop.set()
        t.join(timeout=10)
        assert not t.is_alive(), "supervise returns once asked to stop"
        starts = [float(x) for x in log.read_text().split()]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert len(starts) >= 5 and elapsed >= 0.3 + 0.6 + 1.2 + 1.2, (starts, elapsed)  # backoff, not a spin
        assert gaps[0] >= 0.3 and gaps[1] >= 0.6 and all(g >= 1.2 for g in gaps[2:]), gaps
        assert result["simulate"].restarts in (len(starts) - 1, len(starts))  # the last one may not have printed
        assert result["wall"].restarts == 0 and steady.alive() and steady.proc and steady.proc.pid == wall_pid
    finally:
        stop.set()
        for c in (dying, steady):
            c.stop(grace=2)


def test_the_simulator_waits_for_a_broker_that_is_down_instead_of_dying(tmp_path: Path) -> None:
    from fengqiao.settings import Settings
    from producers.simulator import run_simulator
    from tests.netutil import free_port

    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", data_dir=tmp_path)  # nobody listens there
    stop = threading.Event()
    out: dict = {}
    t = threading.Thread(target=lambda: out.update(run_simulator(settings, rate=50, stop=stop)))
    t0 = time.monotonic()
    t.start()
    time.sleep(8)
    assert t.is_alive(), "the simulator gave up while the broker was down"
    stop.set()
    t.join(timeout=30)
    assert not t.is_alive() and out["events"] == 0 and time.monotonic() - t0 >= 8
