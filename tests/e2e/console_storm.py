"""The officer console under load (issue 14 item 9) in headless Chromium, against a real `fengqiao wall`
(run from test_wall.py on its `wall` fixture, so the wall starts once: seeded store, embedded sink on
unique topics of the real broker).

A few hundred firing alerts (two-stage ladders of many cases) are published on the wall's alerts topic;
the officer picks one that is not the first, more alerts arrive and refreshes pass: the selection stays,
the list does not take the new ones in ("N 条新告警") until asked; 确认告警 shows 已确认 with who within
5 s (no streams worker runs: the provisional state the console keeps from the moment Kafka acked the
command); a storm (one case's ladder) is acknowledged at once; F5 keeps the login.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from tests.e2e.test_wall import SH, _button, _login, _wait_text

CASES = 150  # x 2 stages = 300 firing alerts


def _publish(env: dict, topic: str, first: int, n: int, now: datetime) -> None:
    from kafka import KafkaProducer

    from fengqiao.records import AlertRecord

    producer = KafkaProducer(bootstrap_servers=env["FENGQIAO_KAFKA_BOOTSTRAP"], acks="all", linger_ms=20)
    for k in range(first, first + n):
        for j, stage in enumerate(("reminder", "warning")):
            raised = now - timedelta(seconds=10 * k + j)
            rec = AlertRecord(alert_id=f"alert-h3-{k:04d}-{stage}", dedup_key=f"sla:H3-{k:04d}:resolve:{stage}:0",
                              kind="sla", stage=stage, severity="warning", state="firing", case_id=f"H3-{k:04d}",
                              region_code="130102", raised_at=raised, updated_at=raised,
                              message=f"负载告警 {k:04d} {stage}", version=1)
            producer.send(topic, key=rec.dedup_key.encode(), value=rec.to_json())
    producer.flush(timeout=30)
    producer.close()


def _click(driver: Any, element: Any) -> None:
    """Click as a person would, not under Streamlit's fixed header or a toast (both cover the top edge)."""
    from selenium.common.exceptions import ElementClickInterceptedException

    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    try:
        element.click()
    except ElementClickInterceptedException:  # a toast over the top-right corner: the click still goes to it
        driver.execute_script("arguments[0].click()", element)


def _pick(driver: Any, alert_id: str) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    box = WebDriverWait(driver, 40).until(ec.element_to_be_clickable(
        ("xpath", "//div[@data-testid='stSelectbox'][.//*[contains(text(), '选择告警')]]//input")))
    _click(driver, box)
    box.send_keys(alert_id)
    time.sleep(0.5)
    box.send_keys(Keys.ENTER)


def _commands(env: dict, topic: str) -> list[dict]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=env["FENGQIAO_KAFKA_BOOTSTRAP"], auto_offset_reset="earliest",
                             consumer_timeout_ms=2000, group_id=None)
    out = [json.loads(m.value) for m in consumer]
    consumer.close()
    return out


def check_storm(wall: dict, browser: Any, artifacts_dir: Any) -> None:
    """The whole scenario (the storm stays on the wall: run it after the other console tests)."""
    env, topics = wall["env"], wall["topics"]
    now = datetime.now(SH) + timedelta(minutes=1)  # newer than the seeded alerts: the storm leads the list
    _publish(env, topics["alerts"], 0, CASES, now)
    _login(browser, wall["url"], "officer", "officer123")
    _wait_text(browser, "编号 alert-h3-0000-reminder", timeout=60)
    if "条新告警" in browser.find_element("tag name", "body").text:  # the first look came mid-storm
        _click(browser, _button(browser, "显示新告警 Show new"))
        time.sleep(3)
    chosen = "alert-h3-0042-warning"
    _pick(browser, chosen)
    _wait_text(browser, f"编号 {chosen}")
    _publish(env, topics["alerts"], -10, 10, now)  # 20 newer alerts arrive while the officer reads
    text = _wait_text(browser, "20 条新告警", timeout=30)
    time.sleep(4)  # more refreshes (every 3 s)
    text = _wait_text(browser, f"编号 {chosen}", "20 条新告警")
    assert "alert-h3--001" not in text  # not taken in: nothing moved

    _click(browser, _button(browser, "确认告警 Acknowledge"))
    clicked = time.time()
    _wait_text(browser, "已确认 · 负载告警 0042 warning", "确认人 officer", "确认时间", f"编号 {chosen}", timeout=15)
    seconds = time.time() - clicked
    _wait_text(browser, "指令已发送")
    browser.save_screenshot(str(artifacts_dir / "console_storm_acknowledged.png"))

    _click(browser, _button(browser, "确认本组告警 Acknowledge group"))  # the rest of case H3-0042's ladder
    _wait_text(browser, "alert.acknowledge × 1", timeout=10)
    acks = [c["alert_id"] for c in _commands(env, topics["commands"]) if c["type"] == "alert.acknowledge"]
    assert acks.count(chosen) == 1 and acks.count("alert-h3-0042-reminder") == 1, acks

    browser.refresh()  # F5: a new Streamlit session; the signed cookie logs it in again
    _wait_text(browser, "值班台 · 值班员", timeout=30)
    assert "值班台登录" not in browser.find_element("tag name", "body").text
    _click(browser, _button(browser, "退出 Log out"))
    _wait_text(browser, "值班台登录")
    browser.refresh()  # logged out: the cookie is gone (and its nonce revoked)
    _wait_text(browser, "值班台登录", timeout=30)
    print(f"acknowledged shown {seconds:.1f} s after the click")
