"""Progress of long CLI work on stderr (issue 13 item 7): throttled plain lines off a terminal,
a final line, and the jar fetch's heartbeat while mvn says nothing."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from broker import local
from fengqiao.progress import Progress

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_are_throttled_and_end_with_done() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress("simulate 模拟", total=1000, stream=out, every=2.0, clock=clock) as bar:
        for i in range(1, 1001):
            clock.t += 0.01  # 10 s in all: a line every 2 s, not one per event
            bar.update(i)
    lines = out.getvalue().splitlines()
    assert 5 <= len(lines) <= 8, lines
    assert lines[0].startswith("进度 progress · simulate 模拟: 0/1,000 events (0%)")
    assert lines[-1] == "完成 done · simulate 模拟: 1,000/1,000 events (100%) · 100/s"
    assert any("剩余约 ~" in ln and "s left" in ln for ln in lines[1:-1])


def test_unknown_total_shows_the_time_elapsed() -> None:
    out, clock = io.StringIO(), Clock()
    bar = Progress("fetching jars", stream=out, every=10.0, clock=clock, unit="jars")
    clock.t += 25
    bar.update()
    assert out.getvalue().strip() == "进度 progress · fetching jars: 已用 25 s elapsed"


def test_a_terminal_gets_a_rich_bar() -> None:
    out = io.StringIO()
    with Progress("dlq", total=3, stream=out, bar=True) as bar:
        bar.update(3)
    assert "dlq" in out.getvalue() and "3/3" in out.getvalue()


def test_the_jar_fetch_reports_while_mvn_is_silent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "kafka_2.13-x.jar").write_text("")
    cmd = [sys.executable, "-c", "import time; print('quiet'); time.sleep(1.6)"]
    done = local._run_with_progress(cmd, tmp_path, "fetching the Kafka jars", every=0.5)
    assert done is not None and done.returncode == 0 and done.stdout.strip() == "quiet"
    err = capsys.readouterr().err.splitlines()
    assert len([ln for ln in err if ln.startswith("进度 progress · fetching the Kafka jars")]) >= 3
    assert err[-1].startswith("完成 done · fetching the Kafka jars: 1 jars")
