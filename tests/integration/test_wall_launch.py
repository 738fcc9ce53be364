"""`fengqiao wall` starts its embedded sink with the server: traffic already in the topics is in
the store before anyone opens a page (issue 13: a wall opened after traffic showed 0 cases)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from fengqiao.settings import PROJECT_ROOT, Settings
from sinks.health import state_path
from tests.factories import event_messages
from tests.integration.test_sink import produce
from tests.netutil import free_port, prom_samples

pytestmark = pytest.mark.integration


def _rows(port: int) -> float:
    return prom_samples(f"http://127.0.0.1:{port}/metrics").get(("fengqiao_sink_rows_total", (("table", "events"),)), 0)


def test_the_sink_starts_with_the_wall_server_before_any_page(kafka_bootstrap: str, tmp_path: Path) -> None:
    tag = os.urandom(4).hex()
    topics = {f"FENGQIAO_TOPICS__{n.upper()}": f"wl{tag}.{n}" for n in ("events", "alerts", "commands", "stats",
                                                                       "dlq", "cases")}
    env = {**os.environ, "FENGQIAO_DATA_DIR": str(tmp_path), "FENGQIAO_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "FENGQIAO_SINK__BATCH_SECONDS": "0.2", "FENGQIAO_SINK__GROUP_ID": f"wl-{tag}", **topics}
    env.pop("FENGQIAO_CLICKHOUSE_URL", None)  # the wall's own chDB under its data folder
    settings = Settings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path,
                        topics={k.split("__")[1].lower(): v for k, v in topics.items()})  # type: ignore[arg-type]
    from sinks.runner import ensure_topics

    ensure_topics(settings)
    msgs = event_messages(seed=31, count=300)
    produce(settings, settings.topics.events, msgs)  # traffic first, then the wall
    port, metrics_port = free_port(), free_port()
    env["FENGQIAO_WALL__METRICS_PORT"] = str(metrics_port)
    log = tmp_path / "wall.log"
    proc = subprocess.Popen([str(PROJECT_ROOT / ".venv/bin/fengqiao"), "wall", "--port", str(port)], env=env,
                            cwd=PROJECT_ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, rows = time.monotonic() + 60, 0.0
        while time.monotonic() < deadline and rows < 300:  # no page is opened: no session runs a script
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                rows = _rows(metrics_port)
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert rows == 300, log.read_text()[-3000:]
        deadline = time.monotonic() + 15  # the sink's state file: rewritten at least every 5 s
        while not json.loads(state_path(tmp_path).read_text()).get("last_insert_at") and time.monotonic() < deadline:
            time.sleep(0.5)
        state = json.loads(state_path(tmp_path).read_text())
        assert state["running"] and state["last_insert_at"]
        assert httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).status_code == 200
        assert prom_samples(f"http://127.0.0.1:{metrics_port}/metrics")[("fengqiao_wall_data_stale", ())] == 0
        out = subprocess.run([str(PROJECT_ROOT / ".venv/bin/fengqiao"), "status", "--json",
                              "--gateway-port", str(free_port())], env={**env, "FENGQIAO_WALL__PORT": str(port),
                             "FENGQIAO_STREAMS__WEB_PORT": str(free_port())}, capture_output=True, text=True, timeout=60)
        parts = {p["name"]: p for p in json.loads(out.stdout)["parts"]}
        assert {n: p["state"] for n, p in parts.items()} == {"kafka": "up", "streams": "down", "wall": "up",
                                                            "sink (in wall)": "up", "gateway": "absent"}, out.stdout
        rows_all = parts["sink (in wall)"]["detail"].split()
        assert rows_all[1:] == ["rows", "since", "start"] and int(rows_all[0]) >= 300  # events and the tables fed
        assert out.returncode == 2  # a part (the worker) is down
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=40)
    assert code == 0, log.read_text()[-3000:]
    assert not json.loads(state_path(tmp_path).read_text())["running"]  # the sink stopped cleanly with the server
