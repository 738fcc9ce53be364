"""Reveal fails closed (issue 11): with the audit record not acknowledged (the broker address is a
dead port) the console shows a bilingual error and no contact data; the wall says stale when the
sink reports a store outage. Streamlit's AppTest on seeded chDB data, as in test_dashboard_pages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.seed import CLEAR_PHONE
from fengqiao.settings import Settings
from sinks.health import SinkHealth, state_path, write_state
from tests.unit.test_dashboard_pages import PAGES, PHONE, _login, _text, seeded  # noqa: F401 - fixture

pytestmark = pytest.mark.unit


def reveal(at: AppTest, case_id: str) -> AppTest:
    at.text_input(key="case_id").input(case_id)
    at = at.run()
    at.text_input(key="reveal_reason").input("回访核实")
    next(b for b in at.button if "查看联系方式" in b.label).click()
    return at.run()


def test_no_contact_is_shown_when_the_audit_record_is_not_acknowledged(
        seeded: tuple[Settings, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_WALL__COMMAND_TIMEOUT_SECONDS", "2")
    settings, info = seeded
    at = reveal(_login(settings, "officer", "officer123"), info["case_ids"][0])  # the case with sealed contact data
    assert not at.exception, at.exception
    text = _text(at) + "\n".join(str(w.value) for w in at.warning)
    assert "审计记录未能写入，联系方式不予显示" in text and "Audit record not acknowledged" in text
    assert CLEAR_PHONE not in text and not PHONE.search(text) and "张三丰" not in text


def test_a_session_ends_after_its_idle_time(seeded: tuple[Settings, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_WALL__SESSION_IDLE_MINUTES", "0.02")  # 1.2 s
    at = _login(seeded[0], "officer", "officer123")
    assert "值班台 · 值班员" in _text(at)
    time.sleep(1.5)
    at = at.run()
    assert "fq_user" not in at.session_state and "已自动退出" in _text(at) and "值班台登录" in _text(at)


def test_the_wall_says_stale_while_the_sink_cannot_reach_the_store(seeded: tuple[Settings, dict]) -> None:
    settings, _ = seeded
    now = time.time()
    health = SinkHealth(updated_at=now, last_insert_at=now - 60)
    health.failed("insert into events", "OperationalError: connection refused", now - 30)
    health.failed("insert into events", "OperationalError: connection refused", now)
    write_state(state_path(Path(settings.data_dir)), health)
    at = AppTest.from_file(str(PAGES / "wall.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    text = _text(at)
    assert "数据库写入失败" in text and "Store unavailable" in text and "数据滞后" in text
