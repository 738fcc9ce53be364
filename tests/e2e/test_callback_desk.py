"""The callback desk (回访工作台) in headless Chromium, against a real `fengqiao wall` (embedded sink,
own chDB) and a real `fengqiao streams` worker on unique topics of the real broker (`stack.desk_stack`),
300 SLA alerts firing meanwhile.

A case concluded yesterday (a resolved reply) is in the day's sample (share 100 % here); the
operator logs in, records a dissatisfied callback; the worker re-opens the case (再转办) and the
wall shows it: 待评价 1 → 0, 在办 0 → 1."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fengqiao import privacy
from fengqiao.settings import DEV_PII_KEY
from tests.e2e.console_storm import _click, _publish
from tests.e2e.stack import desk_login, desk_stack
from tests.e2e.test_wall import CHROMEDRIVER, SH, _button, _no_clear_phone, _wait_text
from tests.e2e.test_wall import browser  # noqa: F401 - the fixture
from tests.integration.streams_harness import event

pytestmark = pytest.mark.e2e


def _tiles(driver: Any) -> dict[str, str]:
    got = driver.execute_script(
        "return Array.from(document.querySelectorAll('.fq-kpi')).map(e => e.innerText)")
    return {t.split("\n")[0].strip(): t.split("\n")[1].strip() for t in got if "\n" in t}


def _wait_tiles(driver: Any, want: dict[str, str], timeout: float = 40) -> None:
    deadline = time.time() + timeout
    got: dict[str, str] = {}
    while time.time() < deadline:
        got = _tiles(driver)
        if all(got.get(k) == v for k, v in want.items()):
            return
        time.sleep(0.5)
    raise AssertionError(f"wall tiles {got}, wanted {want}")


def _wait_source(driver: Any, needle: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while needle not in driver.page_source:
        if time.time() > deadline:
            raise AssertionError(f"{needle!r} not on the page")
        time.sleep(0.5)


def _choose(driver: Any, label: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    box = WebDriverWait(driver, 40).until(ec.element_to_be_clickable(
        ("xpath", f"//div[@data-testid='stSelectbox'][.//*[contains(text(), '{label}')]]//input")))
    _click(driver, box)
    box.send_keys(text)
    time.sleep(0.5)
    box.send_keys(Keys.ENTER)


def _produce(env: dict, events: list[dict]) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=env["FENGQIAO_KAFKA_BOOTSTRAP"], acks="all")
    for e in events:
        p.send(env["FENGQIAO_TOPICS__EVENTS"], key=e["case_id"].encode(), value=json.dumps(e, ensure_ascii=False).encode())
    p.flush(30)
    p.close()


def test_a_dissatisfied_callback_re_opens_the_case_and_the_wall_shows_it(
        kafka_bootstrap: str, tmp_path: Path, browser: Any) -> None:  # noqa: F811
    if not Path(CHROMEDRIVER).exists():
        pytest.skip("chromium-driver not installed")
    tag = os.urandom(4).hex()
    case_id = f"HL-CB-{tag}"
    now = datetime.now(SH)
    yesterday = (now - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    received = yesterday - timedelta(days=2)
    citizen = privacy.protect_citizen({"name": "李四", "phone": "13912345678"}, DEV_PII_KEY, case_id=case_id)
    dept = "长安区人力资源和社会保障局"
    with desk_stack(kafka_bootstrap, tmp_path, "cb", {"FENGQIAO_CALLBACK__SHARE": "1.0"}) as stack:
        env, url = stack["env"], stack["url"]
        _produce(env, [
            event(case_id, "petition.received", received, {"category": "help", "topic": "劳资纠纷", "urgency": "normal",
                                                           "title": "讨薪", "content": "拖欠工资", "citizen": citizen}),
            event(case_id, "case.assigned", received + timedelta(hours=1), {"department": dept, "level": "county"}),
            event(case_id, "case.signed", received + timedelta(hours=2), {"department": dept}),
            event(case_id, "case.replied", yesterday, {"department": dept, "result": "已支付", "resolved": True}),
        ])
        _publish(env, env["FENGQIAO_TOPICS__ALERTS"], 0, 150, now)  # 300 firing alerts while the operator works
        browser.get(url + "/")
        _wait_tiles(browser, {"待评价": "1", "在办": "0"}, timeout=60)

        desk_login(browser, url, "/callback", "回访工作台", "callback", "callback123")
        _wait_text(browser, "回访工作台 ·", "抽取 1 件", "已回访 0 件", timeout=60)
        _wait_source(browser, f"{case_id} · 随机抽样")  # the selected case (the selectbox's value)
        _no_clear_phone(browser)
        _choose(browser, "群众评价", "不满意")
        _click(browser, _button(browser, "记录回访 Record callback"))
        _wait_text(browser, f"已提交 case.callback（案件 {case_id}）", timeout=60)
        _wait_text(browser, "已回访 1 件", timeout=45)  # the callback reached the store: the list says so

        browser.get(url + "/")
        _wait_tiles(browser, {"待评价": "0", "在办": "1"}, timeout=60)  # re-opened: open again, a new resolve round
