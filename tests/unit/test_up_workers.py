"""`fengqiao up --workers N`: the streams workers it starts (argv only, nothing is run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengqiao.settings import Settings
from fengqiao.supervisor import _workers

pytestmark = pytest.mark.unit


def test_one_worker_runs_as_before(tmp_path: Path) -> None:
    [only] = _workers(Settings(data_dir=tmp_path), {}, tmp_path / "logs", 1)
    assert only.name == "streams" and only.argv[-1] == "streams" and only.log == tmp_path / "logs" / "streams.log"


def test_further_workers_get_their_own_folder_and_web_port(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    first, second, third = _workers(s, {}, tmp_path / "logs", 3)
    assert first.argv[-1] == "streams"  # the port the wall asks by default
    assert second.argv[-5:] == ["streams", "--workdir", str(tmp_path / "streams" / f"{s.streams.app_id}-2"),
                                "--web-port", str(s.streams.web_port + 1)]
    assert third.argv[-1] == str(s.streams.web_port + 2)
    assert [c.name for c in (first, second, third)] == ["streams-1", "streams-2", "streams-3"]
