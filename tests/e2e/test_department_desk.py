"""The department desk in headless Chromium (issue 14 item 1): a real `fengqiao wall` (embedded sink)
and a real streams worker on unique topics of the real broker, 300 SLA alerts firing meanwhile.

The demo department user (dept_changan, created by the wall in its demo users file) logs in; while
300 alerts arrive it signs the case with the nearest deadline and replies to it; the worker applies
both (the desk's events went through the gateway's authorization with the worker's case view), and
the desk shows 办理中 and then the case gone from the open list, each within seconds; F5 keeps the login.
It asks for an extension of the other case (申请延期: shown 待审批); the dispatcher approves it on its desk
and the worker applies the extension.
A department of another region (same department name, scope 正定县) sees none of these cases (the
server-side refusal of its actions: tests/integration/test_department_desk.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.console_storm import _click, _publish
from tests.e2e.stack import desk_login, desk_stack
from tests.e2e.test_wall import CHROMEDRIVER, SH, _button, _element, _no_clear_phone, _wait_text
from tests.e2e.test_wall import browser  # noqa: F401 - the headless Chromium fixture

pytestmark = pytest.mark.e2e

LABOUR = "长安区乡镇（街道）劳动保障所"


def _events(now: datetime) -> list[dict]:
    from tests.integration.streams_harness import event, received

    out = []
    for i in range(2):
        at = now - timedelta(minutes=10 - i)
        assign = event(f"D{i}", "case.assigned", at + timedelta(seconds=5), {"department": LABOUR, "level": "township"},
                       "130102", "internal")
        out += [received(f"D{i}", at), {**assign, "actor": {"role": "platform", "id": "e2e"}}]
    return out


@pytest.fixture(scope="module")
def desk(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`fengqiao wall` and `fengqiao streams` on the same fresh topics; the desk reads the worker's case view."""
    import shutil

    if not (Path(CHROMEDRIVER).exists() and shutil.which("chromium")):
        pytest.skip("chromium / chromium-driver not installed (apt-get install chromium chromium-driver)")
    with desk_stack(kafka_bootstrap, tmp_path_factory.mktemp("desk-e2e")) as stack:
        yield stack


def test_department_signs_and_replies_and_sees_it_within_seconds(desk: dict, browser: Any, artifacts_dir: Path) -> None:
    import json

    from kafka import KafkaProducer

    from dashboard.desk_actions import case_view
    from fengqiao.settings import Settings
    from producers.gateway.readback import ReadbackUnavailable

    env, url = desk["env"], desk["url"]
    t0 = time.time()
    marks: dict[str, float] = {}
    now = datetime.now(SH)
    p = KafkaProducer(bootstrap_servers=env["FENGQIAO_KAFKA_BOOTSTRAP"], acks="all")
    for ev in _events(now):
        p.send(env["FENGQIAO_TOPICS__EVENTS"], key=ev["case_id"].encode(), value=json.dumps(ev, ensure_ascii=False).encode())
    p.flush()
    p.close()
    view = case_view(Settings(gateway={"streams_url": env["FENGQIAO_GATEWAY__STREAMS_URL"]}))
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if all((view(c) or {}).get("status") == "assigned" for c in ("D0", "D1")):
                break
        except ReadbackUnavailable:
            pass
        time.sleep(0.5)
    marks["case view"] = time.time() - t0

    desk_login(browser, url, "/department", "承办单位工作台", "dept_changan", "dept123")
    _wait_text(browser, "承办单位工作台 · 长安区劳动保障所", "在办 2 件", "选中 D0 · 待签收", timeout=60)
    marks["login, cases listed"] = time.time() - t0
    _publish(env, env["FENGQIAO_TOPICS__ALERTS"], 0, 150, now)  # 300 firing alerts while the department works

    _click(browser, _button(browser, "签收 Sign", timeout=90))  # the sink takes in the storm meanwhile
    clicked = time.time()
    _wait_text(browser, "已提交 case.signed", timeout=45)  # a loaded CI box: the case view + acks=all
    _wait_text(browser, "选中 D0 · 办理中", timeout=60)
    signed_seconds = time.time() - clicked

    _element(browser, 'textarea[aria-label="办理结果 Result"]').send_keys("已协调企业支付欠薪")
    time.sleep(1)
    _click(browser, _button(browser, "反馈 Reply"))
    clicked = time.time()
    _wait_text(browser, "已提交 case.replied", timeout=45)
    _wait_text(browser, "在办 1 件", "选中 D1", timeout=60)  # D0 awaits the citizen's rating: no longer open
    replied_seconds = time.time() - clicked
    browser.save_screenshot(str(artifacts_dir / "department_desk.png"))
    _no_clear_phone(browser)

    browser.refresh()  # F5 keeps the login
    _wait_text(browser, "承办单位工作台 · 长安区劳动保障所", timeout=30)
    assert "承办单位工作台登录" not in browser.find_element("tag name", "body").text
    marks["F5"] = time.time() - t0

    # 申请延期 → 延期审批: the department asks for 5 more days on D1, the dispatcher approves it
    _element(browser, 'input[aria-label="延期原因 Reason"]').send_keys("需调取用工台账")
    time.sleep(1)
    _click(browser, _button(browser, "申请延期 Extend"))
    _wait_text(browser, "已提交延期申请 5 天", timeout=45)
    _wait_text(browser, "延期 5 天 · 待审批", timeout=30)  # the request, as the store has it, on the case
    _click(browser, _button(browser, "退出 Log out"))
    desk_login(browser, url, "/dispatch", "派单工作台", "dispatcher", "dispatch123")
    _wait_text(browser, "延期审批 · 1 件待审批", "选中延期申请 D1", timeout=60)
    _click(browser, _button(browser, "批准延期 Approve"))
    _wait_text(browser, "已批准延期 5 天（案件 D1）", timeout=45)
    deadline = time.time() + 30
    while time.time() < deadline and (view("D1") or {}).get("extension_count") != 1:
        time.sleep(0.5)
    assert (view("D1") or {}).get("extension_count") == 1  # the worker applied the dispatcher's case.extended
    marks["extension requested and approved"] = time.time() - t0

    # a department of another region (正定县) claiming the same department name sees none of it
    from dashboard import auth

    with auth.users_path(Path(env["FENGQIAO_DATA_DIR"])).open("a", encoding="utf-8") as fh:
        fh.write(f'\n[users.dept_zd]\nname = "正定县劳动保障所"\nrole = "department"\nscope = "130123"\n'
                 f'departments = ["{LABOUR}"]\npassword_hash = "{auth.hash_password("pw-zd-1")}"\n')
    _click(browser, _button(browser, "退出 Log out"))
    desk_login(browser, url, "/department", "承办单位工作台", "dept_zd", "pw-zd-1")
    _wait_text(browser, "承办单位工作台 · 正定县劳动保障所", "在办 0 件", "本单位暂无在办案件", timeout=60)
    marks["other region"] = time.time() - t0
    print(f"signed shown {signed_seconds:.1f} s, replied shown {replied_seconds:.1f} s after the click; "
          + ", ".join(f"{k} at {v:.1f} s" for k, v in marks.items()))
    assert signed_seconds < 60 and replied_seconds < 60
