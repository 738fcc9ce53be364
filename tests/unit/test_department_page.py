"""The department desk page (dashboard/pages/department.py) with Streamlit's AppTest on seeded data.

No broker, no worker: the case view's port is dead, so a click on 签收 must come back with the
bilingual "case state unavailable" answer (every click answered, nothing sent)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import auth, queries
from fengqiao.settings import Settings
from tests.unit.test_dashboard_pages import seeded  # noqa: F401 - the pages' seeded-store fixture

pytestmark = pytest.mark.unit

PAGE = Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "department.py"
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def desk(seeded: tuple[Settings, dict], monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, str]:
    """The pages' seeded store, a dead case-view port, and a department user of one seeded department."""
    monkeypatch.setenv("FENGQIAO_STREAMS__WEB_PORT", "9")
    settings = seeded[0]
    rows = queries.run(settings, "rankings", "department", *_week())
    department = max(rows, key=lambda r: r["cases"])["key"]
    users = auth.ensure_users_file(settings.data_dir)
    with users.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[users.desk]\nname = "测试单位"\nrole = "department"\nscope = "province"\n'
                 f'departments = ["{department}"]\npassword_hash = "{auth.hash_password("pw-desk-1")}"\n')
    return settings, department


def _week() -> tuple:
    from datetime import datetime, timedelta

    from fengqiao.vocab import TZ

    today = datetime.now(TZ).date()
    return today - timedelta(days=8), today


def _login(username: str, password: str) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception, at.exception
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if "登录" in b.label).click()
    return at.run()


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.title] + [m.value for m in at.caption]
    parts += [str(e.value) for e in at.error] + [str(e.value) for e in at.info] + [str(e.value) for e in at.success]
    return "\n".join(parts)


def test_department_sees_its_cases_by_deadline_every_click_answered_other_roles_no_desk(desk: tuple[Settings, str]) -> None:
    settings, department = desk
    at = _login("desk", "pw-desk-1")
    assert not at.exception, at.exception
    text = _text(at)
    assert "承办单位工作台 · 测试单位" in text and "在办" in text
    cases = at.dataframe[0].value
    assert set(cases["承办"]) <= {department} and "倒计时" in cases.columns
    labels = {b.label for b in at.button}
    assert {"签收 Sign", "反馈 Reply", "申请延期 Extend", "退回 Return"} <= labels
    next(b for b in at.button if b.label == "签收 Sign").click()
    at = at.run()
    assert "无法读取案件当前状态" in _text(at)  # the case view is down: refused, and said so
    next(b for b in at.button if b.label == "退回 Return").click()
    at = at.run()
    assert "请填写退回原因" in _text(at)
    page = _text(at) + "".join(d.value.to_string() for d in at.dataframe)
    assert not PHONE.search(page)
    at = _login("officer", "officer123")  # another role gets no desk
    assert "无权使用此工作台" in _text(at)
    assert not {b.label for b in at.button} & {"签收 Sign", "反馈 Reply"}
