"""`fengqiao up` on a fresh data folder: everything starts, data flows, `kill -9` of the broker
takes nothing down (issue 13: the simulator used to exit after 30 s with KafkaTimeoutError and
`up` then stopped every process, the wall included), Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.netutil import free_port, port_free

pytestmark = pytest.mark.e2e


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of a finished child is not alive
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except FileNotFoundError:
        return False


def wait_for(pred, timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def test_up_starts_everything_and_ctrl_c_leaves_nothing(tmp_path: Path, artifacts_dir: Path) -> None:
    kafka_port, wall_port, web_port = free_port(), free_port(), free_port()
    env = dict(os.environ)
    env.update({
        "FENGQIAO_DATA_DIR": str(tmp_path / "data"),
        "FENGQIAO_STREAMS__WEB_PORT": str(web_port),
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("FENGQIAO_KAFKA_BOOTSTRAP", None)
    log = artifacts_dir / "up.log"
    out = open(log, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fengqiao.cli", "up", "--kafka-port", str(kafka_port),
         "--wall-port", str(wall_port), "--rate", "5", "--speed", "60"],
        env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        assert wait_for(lambda: "the wall:" in log.read_text("utf-8", "replace") or proc.poll() is not None, 240), \
            "the wall's URL was never printed"
        text = log.read_text("utf-8", "replace")
        assert proc.poll() is None, text
        assert f"http://127.0.0.1:{wall_port}/" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{wall_port}/_stcore/health", timeout=5) as r:
            assert r.status == 200

        # live data: the streams worker publishes case snapshots for the simulated traffic
        from kafka import KafkaConsumer

        consumer = KafkaConsumer("petitions.cases", bootstrap_servers=f"127.0.0.1:{kafka_port}",
                                 auto_offset_reset="earliest", consumer_timeout_ms=2000)
        seen = 0
        deadline = time.monotonic() + 90
        while seen == 0 and time.monotonic() < deadline:
            seen += sum(len(v) for v in consumer.poll(timeout_ms=1000).values())
        consumer.close()
        assert seen > 0, "no case snapshot within 90 s of the wall coming up"
        children = [int(p) for p in re.findall(r"pid=(\d+)", log.read_text("utf-8", "replace"))]
        assert len(children) >= 4  # kafka + streams + wall + simulate

        # kill -9 the broker: past the producers' 30 s timeout every part is still up, the worker says why
        broker = int(re.search(r"kafka: \S+ pid=(\d+)", log.read_text("utf-8", "replace")).group(1))  # type: ignore[union-attr]
        os.kill(broker, signal.SIGKILL)
        time.sleep(35)
        assert proc.poll() is None, log.read_text("utf-8", "replace")[-3000:]
        assert all(pid_alive(p) for p in children if p != broker), log.read_text("utf-8", "replace")[-3000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{wall_port}/_stcore/health", timeout=5) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/health/", timeout=5) as r:
            assert json.loads(r.read())["kafka"]["reachable"] is False
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends to `fengqiao up`
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        out.close()
    assert code == 0, log.read_text("utf-8", "replace")[-3000:]
    assert wait_for(lambda: not any(pid_alive(p) for p in children), 10), "a child outlived `fengqiao up`"
    for port in (kafka_port, wall_port, web_port):
        assert wait_for(lambda: port_free(port), 10), f"port {port} still bound after Ctrl-C"
