"""The wall, the console and their guarantees in headless Chromium, against a
real `fengqiao wall` subprocess.

The wall owns its own chDB path (seeded BEFORE it starts, from a separate
process: one process per chDB path) and runs the embedded sink on unique
topics of the real broker. Acknowledging: the test clicks the button, reads
the command the console published on `petitions.commands`, and then publishes
the resulting alert record itself, standing in for the streams worker (which
only acknowledges alerts it raised itself; the seeded alert is not one of
them). The page must then show the alert as acknowledged, read back from
ClickHouse through the embedded sink.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.stack import free_port, running_wall, stack_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
CHROMEDRIVER = "/usr/bin/chromedriver"
SH = ZoneInfo("Asia/Shanghai")
CLEAR_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--window-size=1920,1080", "--lang=zh-CN"]


def _free_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def wall(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A seeded store, then `fengqiao wall` with its embedded sink on unique topics."""
    if not (Path(CHROMEDRIVER).exists() and shutil.which("chromium")):
        pytest.skip("chromium / chromium-driver not installed (apt-get install chromium chromium-driver)")
    data = tmp_path_factory.mktemp("wall-e2e")
    env = stack_env(kafka_bootstrap, data, "w")
    seeded = subprocess.run([PY, "-m", "dashboard.seed", "--cases", "300"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    info = json.loads(seeded.stdout.strip().splitlines()[-1])
    with running_wall(env, data, timeout=60) as url:
        yield {"url": url, "env": env, "info": info, "topics": {n: env[f"FENGQIAO_TOPICS__{n.upper()}"]
                                                                 for n in ("alerts", "commands")}}


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in FLAGS:
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="fq-chrome-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_window_size(1920, 1080)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait_text(driver: Any, *needles: str, timeout: float = 40) -> str:
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        text = driver.find_element("tag name", "body").text
        if all(n in text for n in needles):
            return text
        time.sleep(0.5)
    raise AssertionError(f"missing {[n for n in needles if n not in text]} in page text:\n{text[:3000]}")


def _requested_urls(driver: Any) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            params = msg["params"]
            urls.append(params.get("request", {}).get("url") or params.get("url", ""))
    return urls


def _login(driver: Any, url: str, user: str, password: str) -> None:
    driver.get(url + "/console")
    _wait_text(driver, "值班台登录")
    _element(driver, 'input[aria-label="用户名 Username"]').send_keys(user)
    _element(driver, 'input[aria-label="密码 Password"]').send_keys(password)
    _button(driver, "登录 Log in").click()
    _wait_text(driver, "值班台 ·")


def _element(driver: Any, css: str, timeout: float = 40) -> Any:
    """Streamlit renders widgets after the page text, and a re-run may swap one for a disabled copy:
    wait until the element itself is visible and enabled (every caller types into it)."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.element_to_be_clickable(("css selector", css)))


def _button(driver: Any, label: str, timeout: float = 40) -> Any:
    deadline = time.time() + timeout
    while True:
        for b in driver.find_elements("css selector", "button"):
            try:
                if b.text.strip() == label:
                    return b
            except Exception:  # re-rendered under our feet: look again
                pass
        if time.time() > deadline:
            try:
                text = driver.find_element("tag name", "body").text[:1500]
            except Exception:  # noqa: BLE001 - the page itself is gone: say so
                text = "(no page)"
            raise AssertionError(f"no button {label!r} in page text:\n{text}")
        time.sleep(0.3)


def _no_clear_phone(driver: Any) -> None:
    source = driver.page_source
    assert not CLEAR_PHONE.search(source), CLEAR_PHONE.search(source).group(0)  # type: ignore[union-attr]


def test_wall_renders_map_kpis_and_ticker_offline(wall: dict, browser: Any, artifacts_dir: Path) -> None:
    browser.get(wall["url"] + "/")
    text = _wait_text(browser, "全省案件态势", "今日受理", "在办", "待评价", "24小时内到期", "已超期", "响应率", "按期办结率",
                      "解决率", "满意率", "实时预警", "临期倒计时", "热点与类案预警", "24小时受理趋势")
    deadline = time.time() + 30
    while len(browser.find_elements("css selector", "canvas")) < 3 and time.time() < deadline:
        time.sleep(0.5)
    assert len(browser.find_elements("css selector", "canvas")) >= 3  # pie, trend, map
    assert "超期督办" in text or "逐级督办" in text  # the ticker shows firing SLA alerts
    assert browser.get_window_size()["width"] == 1920
    time.sleep(2)
    browser.save_screenshot(str(artifacts_dir / "wall_1920x1080.png"))
    _no_clear_phone(browser)
    time.sleep(5)  # at least two self-refreshes (every 2 s)
    urls = _requested_urls(browser)
    network = [u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss", "ftp")]
    assert any(u.startswith(wall["url"]) for u in network)  # the log did record the page's own requests
    outside = [u for u in network if urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    assert outside == [], outside  # chrome:// (the browser's own new-tab page), data: and blob: never leave


def test_wall_drills_down_to_a_city(wall: dict, browser: Any, artifacts_dir: Path) -> None:
    browser.get(wall["url"] + "/?city=130900")  # 沧州: its 2018 shapes carry no ids (matched by name)
    _wait_text(browser, "沧州市案件态势", "无边界图形，计入市级：河北沧州经济开发区")  # the 沧州 zones are counted at city level
    deadline = time.time() + 30
    while len(browser.find_elements("css selector", "canvas")) < 3 and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    browser.save_screenshot(str(artifacts_dir / "wall_drilldown_cangzhou.png"))


def test_officer_acknowledges_a_firing_alert(wall: dict, browser: Any, artifacts_dir: Path) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    from fengqiao.records import AlertRecord

    alert_id = wall["info"]["firing_alert"]
    _login(browser, wall["url"], "officer", "officer123")
    _wait_text(browser, alert_id, "告警中")
    from selenium.webdriver.common.keys import Keys

    # Enter commits the text input (a rerun); only then click, or the click can be lost in that rerun
    _element(browser, 'input[aria-label="确认备注 Note"]').send_keys("已电话督促承办单位", Keys.ENTER)
    time.sleep(2)
    _button(browser, "确认告警 Acknowledge").click()
    _wait_text(browser, "指令已发送")

    consumer = KafkaConsumer(wall["topics"]["commands"], bootstrap_servers=wall["env"]["FENGQIAO_KAFKA_BOOTSTRAP"],
                             auto_offset_reset="earliest", consumer_timeout_ms=15000, group_id=None)
    cmds = [json.loads(m.value) for m in consumer]
    consumer.close()
    ack = [c for c in cmds if c["type"] == "alert.acknowledge" and c["alert_id"] == alert_id]
    assert ack and ack[0]["officer_id"] == "officer" and ack[0]["note"] == "已电话督促承办单位"

    # stand-in for the streams worker: the alert's next state
    now = datetime.now(SH)
    record = AlertRecord(alert_id=alert_id, dedup_key=f"sla:{ack[0]['alert_id']}", kind="sla", stage="escalation",
                         level=0, severity="critical", state="acknowledged", region_code="130102", raised_at=now,
                         updated_at=now, acknowledged_by="officer", acknowledged_at=now, note=ack[0]["note"],
                         message="演示告警 已确认", version=2)
    producer = KafkaProducer(bootstrap_servers=wall["env"]["FENGQIAO_KAFKA_BOOTSTRAP"], acks="all")
    producer.send(wall["topics"]["alerts"], key=record.dedup_key.encode(), value=record.to_json()).get(timeout=10)
    producer.close()
    _wait_text(browser, "已确认 · 演示告警 已确认", "确认人 officer", timeout=60)
    # the case panel shows masked contact data only (the free text held a clear number)
    _wait_text(browser, "139****5678")
    _no_clear_phone(browser)
    browser.save_screenshot(str(artifacts_dir / "console_officer_acknowledged.png"))


def test_viewer_sees_no_command_buttons(wall: dict, browser: Any, artifacts_dir: Path) -> None:
    _login(browser, wall["url"], "viewer", "viewer123")
    _wait_text(browser, "当前角色只读")
    labels = {b.text.strip() for b in browser.find_elements("css selector", "button")}
    assert not labels & {"确认告警 Acknowledge", "静默 Silence", "人工提级 Escalate", "查看联系方式 Reveal contact"}
    _no_clear_phone(browser)
    browser.save_screenshot(str(artifacts_dir / "console_viewer.png"))


def test_wrong_password_is_refused(wall: dict, browser: Any) -> None:
    browser.get(wall["url"] + "/console")
    _wait_text(browser, "值班台登录")
    _element(browser, 'input[aria-label="用户名 Username"]').send_keys("officer")
    _element(browser, 'input[aria-label="密码 Password"]').send_keys("wrong")
    _button(browser, "登录 Log in").click()
    _wait_text(browser, "用户名或密码错误")


def test_console_holds_still_under_a_storm_and_keeps_the_login(wall: dict, browser: Any, artifacts_dir: Path) -> None:
    """Issue 14 item 9 (tests/e2e/console_storm.py): selection kept, new alerts held back, 已确认 within 5 s,
    a storm acknowledged at once, F5 keeps the login. Last: its 300 alerts then lead the wall's queue."""
    from tests.e2e.console_storm import check_storm

    check_storm(wall, browser, artifacts_dir)
