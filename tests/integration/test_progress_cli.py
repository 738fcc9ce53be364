"""`fengqiao simulate --max-events N` and `fengqiao dlq --resubmit FILE` show progress on stderr
while stdout keeps only the result (issue 13 item 7), on the real broker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fengqiao.settings import Settings
from producers.simulator import generate_events
from tests.integration._intake_helpers import fresh_settings, read_topic

pytestmark = pytest.mark.integration


def _env(s: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
    env.update({"FENGQIAO_KAFKA_BOOTSTRAP": s.kafka_bootstrap, "FENGQIAO_DATA_DIR": str(tmp_path),
                "FENGQIAO_TOPICS__PARTITIONS": str(s.topics.partitions)})
    for name in ("events", "alerts", "commands", "stats", "dlq", "cases", "audit"):
        env[f"FENGQIAO_TOPICS__{name.upper()}"] = getattr(s.topics, name)
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fengqiao.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_simulate_max_events_prints_progress_to_stderr_only(kafka_bootstrap: str, tmp_path: Path) -> None:
    s = fresh_settings(kafka_bootstrap)
    out = _cli(_env(s, tmp_path), "simulate", "--max-events", "400", "--rate", "200", "--speed", "3600")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["events"] == 400  # stdout: the JSON summary alone, machine-readable
    lines = [ln for ln in out.stderr.splitlines() if "simulate 模拟" in ln]
    assert re.match(r"进度 progress · simulate 模拟: \d+/400 events \(\d+%\)", lines[0]), lines
    assert lines[-1].startswith("完成 done · simulate 模拟: 400/400 events (100%)")


def test_dlq_resubmits_a_file_of_events_with_progress(kafka_bootstrap: str, tmp_path: Path) -> None:
    s = fresh_settings(kafka_bootstrap)
    events = generate_events(31, 30)
    file = tmp_path / "fixed.jsonl"
    file.write_text("".join(e.to_json().decode() + "\n" for e in events), "utf-8")
    out = _cli(_env(s, tmp_path), "dlq", "--resubmit", str(file))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == [f"resubmitted: {e.case_id}" for e in events]
    assert "完成 done · dlq resubmit 重新提交: 30/30 events (100%)" in out.stderr
    assert {e["event_id"] for e in read_topic(s, s.topics.events)} == {str(e.event_id) for e in events}
    # one bad line: nothing is sent, the line is named
    bad = tmp_path / "bad.jsonl"
    bad.write_text(file.read_text("utf-8").splitlines()[0] + "\n{\"event_type\": \"nope\"}\n", "utf-8")
    out = _cli(_env(s, tmp_path), "dlq", "--resubmit", str(bad))
    assert out.returncode == 1 and "line 2" in out.stderr and "第 2 行" in out.stderr
