"""Page tests with Streamlit's AppTest, on seeded data in this test's own database.

chDB allows one data path per process: the pages run inside the pytest
process, so they use the session's chDB path (`session_chdb_url`) and this
test's own database name. No broker is needed: the embedded sink is off and
the commands these tests try must be refused before anything is sent.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import auth, commands, queries
from dashboard.seed import CLEAR_PHONE, MASKED_PHONE, seed
from fengqiao.domain.early_warning import RULES_ZH
from fengqiao.settings import Settings
from sinks.store import get_client

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "dashboard" / "pages"
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def seeded(session_chdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, dict]:
    db = "t_dash_" + uuid.uuid4().hex[:8]
    env = {"FENGQIAO_CLICKHOUSE_URL": session_chdb_url, "FENGQIAO_CLICKHOUSE_DATABASE": db,
           "FENGQIAO_DATA_DIR": str(tmp_path / "data"), "FENGQIAO_WALL__EMBEDDED_SINK": "false",
           "FENGQIAO_WALL__STALE_AFTER_SECONDS": "3600", "FENGQIAO_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = Settings()
    return settings, seed(get_client(settings), db, cases=120)


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.title] + [m.value for m in at.caption]
    parts += [str(e.value) for e in at.error] + [str(e.value) for e in at.info]
    return "\n".join(parts)


def _login(settings: Settings, username: str, password: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / "console.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if "登录" in b.label).click()
    return at.run()


def test_wall_shows_kpis_from_the_store_and_nothing_personal(seeded: tuple[Settings, dict]) -> None:
    settings, _ = seeded
    at = AppTest.from_file(str(PAGES / "wall.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    text = _text(at)
    for label in ("今日受理", "在办", "待评价", "24小时内到期", "已超期", "响应率", "按期办结率", "解决率", "满意率",
                  "实时预警", "临期倒计时", "热点与类案预警"):
        assert label in text, label
    intake = sum(r["n"] for r in queries.run(settings, "intake_today"))
    assert intake > 0 and f'<div class="v">{intake:,}</div>' in text
    board = queries.run(settings, "case_board")
    for tile, key in (("在办", "open"), ("待评价", "awaiting"), ("已超期", "overdue")):  # phases apart
        assert f'<div class="l">{tile}</div><div class="v">{sum(r[key] for r in board):,}</div>' in text, tile
    assert sum(r["awaiting"] for r in board) > 0
    today = next(r for r in queries.run(settings, "rates") if r["period"] == "today")
    sat = queries.rates_of(today)["satisfaction"]  # each rate with its counts
    assert f'<div class="s">{sat.num}/{sat.den} · 本周 ' in text
    assert "逐级督办" in text  # the ticker lists the firing SLA alerts
    assert not PHONE.search(text) and MASKED_PHONE not in text  # no phone at all on the wall
    assert "数据库连接中断" not in text and "数据已停止更新" not in text
    assert any(m.proto.help == RULES_ZH for m in at.markdown)  # the early-warning rule, baseline included


def test_wall_says_so_when_the_store_is_unreachable(seeded: tuple[Settings, dict],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_CLICKHOUSE_URL", "http://127.0.0.1:9")
    at = AppTest.from_file(str(PAGES / "wall.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    text = _text(at)
    assert "数据库连接中断" in text and "今日受理" not in text  # no old numbers shown as live


def test_wall_flags_stale_data(seeded: tuple[Settings, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_WALL__STALE_AFTER_SECONDS", "0.001")
    at = AppTest.from_file(str(PAGES / "wall.py"), default_timeout=60).run()
    assert "数据已停止更新" in _text(at)


def test_viewer_gets_no_command_widgets(seeded: tuple[Settings, dict]) -> None:
    settings, _ = seeded
    at = _login(settings, "viewer", "viewer123")
    assert not at.exception, at.exception
    text = _text(at)
    assert "值班台 · 观察员（viewer）" in text and "当前角色只读" in text
    labels = {b.label for b in at.button}
    assert not labels & {"确认告警 Acknowledge", "静默 Silence", "人工提级 Escalate", "查看联系方式 Reveal contact"}


def test_officer_gets_command_widgets_and_masked_contact_only(seeded: tuple[Settings, dict]) -> None:
    settings, info = seeded
    at = _login(settings, "officer", "officer123")
    assert not at.exception, at.exception
    labels = {b.label for b in at.button}
    assert {"确认告警 Acknowledge", "静默 Silence", "人工提级 Escalate", "查看联系方式 Reveal contact"} <= labels
    text = _text(at)
    assert MASKED_PHONE in text  # the case panel: masked contact data
    timeline = at.dataframe[-1].value.to_string()  # the case timeline (queue first)
    assert "联系电话139****5678" in timeline  # the free text's number is masked too
    assert CLEAR_PHONE not in text + timeline and not PHONE.search(text + timeline)


def test_wrong_password_is_refused(seeded: tuple[Settings, dict]) -> None:
    at = _login(seeded[0], "officer", "nope")
    assert "用户名或密码错误" in _text(at)
    assert "fq_user" not in at.session_state


def test_commands_are_refused_for_roles_that_may_not_send_them(seeded: tuple[Settings, dict]) -> None:
    """A crafted request from a viewer session ends here, before anything reaches Kafka
    (the broker address is a dead port, so a send attempt would fail differently)."""
    settings, info = seeded
    viewer = auth.User("viewer", "观察员", "viewer")
    admin = auth.User("admin", "管理员", "admin")
    for ctype, fields in (("alert.acknowledge", {"alert_id": info["firing_alert"]}),
                          ("alert.silence", {"alert_id": info["firing_alert"], "until": "2030-01-01T00:00:00+08:00",
                                             "reason": "x"}),
                          ("case.escalate", {"case_id": info["case_ids"][0], "to_level": "city", "reason": "x"}),
                          ("case.reveal_contact", {"case_id": info["case_ids"][0], "reason": "x"})):
        with pytest.raises(auth.Forbidden):
            commands.issue(settings, viewer, ctype, **fields)
        with pytest.raises(auth.Forbidden):
            commands.issue(settings, None, ctype, **fields)  # type: ignore[arg-type]
    with pytest.raises(auth.Forbidden):  # revealing contact data is for officers only
        commands.issue(settings, admin, "case.reveal_contact", case_id=info["case_ids"][0], reason="x")
    cmd = commands.build(auth.User("officer", "值班员", "officer"), "alert.acknowledge",
                         alert_id=info["firing_alert"], note="ok")
    assert cmd.officer_id == "officer" and cmd.type == "alert.acknowledge"


def test_leadership_rankings_and_reports(seeded: tuple[Settings, dict]) -> None:
    settings, _ = seeded
    at = AppTest.from_file(str(PAGES / "leadership.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    ranking = at.dataframe[0].value  # the prefecture ranking tab
    assert len(ranking) >= 1 and "按期办结率" in ranking.columns
    # 120 cases over 11 cities: no city has 30 decided cases, none is ranked on two of two
    assert set(ranking["名次"]) == {"样本不足"} and all("/" in v for v in ranking["按期办结率"])
    from dashboard import reports
    from datetime import datetime
    from zoneinfo import ZoneInfo

    name, doc = reports.build(settings, "weekly", datetime.now(ZoneInfo("Asia/Shanghai")).date())
    assert name.startswith("fengqiao-weekly-") and "<svg" in doc and "各市排名" in doc
    assert "http://" not in doc and "https://" not in doc and not PHONE.search(doc)
