"""Citizen tracking on the real broker and the real streams worker: a petition through the
gateway, the worker's case view, `GET /v1/track/...` and the `/track` page."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Iterator

import httpx
import pytest

from fengqiao.settings import Settings
from producers.gateway.config import GatewaySettings
from producers.gateway.embedded import GatewayThread
from fengqiao.privacy import track_token as token_of
from tests.integration._intake_helpers import fresh_settings, read_topic
from tests.integration.streams_harness import TZ, Worker, event, producer, send, worker_env
from tests.integration.test_sink import wait_until

pytestmark = pytest.mark.integration
DEPT = "长安区住建局"
FORM = {"region_code": "130102", "category": "complaint", "topic": "物业管理", "title": "小区停水",
        "content": "小区停水三天，物业不予答复", "citizen": {"name": "李四光", "phone": "+86 139 8765 4321"}}


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("track")
    settings: Settings = fresh_settings(kafka_bootstrap, data_dir=tmp / "data")
    w = Worker(worker_env(settings), tmp / "w", tmp / "worker.log")
    gw = GatewaySettings(api_keys={"web": "k-web"}, streams_url=f"http://127.0.0.1:{w.port}",
                         track_per_minute=1, track_burst=9, track_case_per_hour=0)
    try:
        w.wait_ready()
        with GatewayThread(settings, gw) as gt, httpx.Client(base_url=gt.url, timeout=30) as client:
            gt.settings, gt.client = settings, client
            yield gt
    finally:
        w.stop()


def _status(gt: Any, cid: str) -> str | None:
    r = gt.client.get(f"/v1/cases/{cid}")  # not the tracking route: its tight limit is for citizens
    return r.json()["status"] if r.status_code == 200 else None


def test_a_citizen_tracks_their_petition_and_a_wrong_phone_looks_like_no_case(live: Any) -> None:
    r = live.client.post("/v1/petitions", json=FORM, headers={"X-API-Key": "k-web"})
    assert r.status_code == 202, r.text
    cid = r.json()["case_id"]
    landed = [e for e in read_topic(live.settings, live.settings.topics.events) if e["case_id"] == cid]
    citizen = landed[0]["payload"]["citizen"]
    assert citizen["track_token"] == token_of(cid, "4321", live.settings.pii_key) and "98765" not in json.dumps(citizen)
    wait_until(lambda: _status(live, cid) == "received", 60, "the worker to see the petition")

    first = live.client.get(f"/v1/track/{cid}", params={"phone_last4": "4321"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status_zh"] == "已受理" and [s["stage"] for s in body["stages"]] == ["received"]
    assert body["deadline"] and datetime.fromisoformat(body["deadline"]) > datetime.fromisoformat(body["stages"][0]["at"])
    assert first.headers["cache-control"] == "no-store"

    now = datetime.now(TZ)
    p = producer(live.settings)
    send(p, live.settings.topics.events, [
        event(cid, "case.assigned", now + timedelta(seconds=1), {"department": DEPT, "level": "county"}, channel="web"),
        event(cid, "case.signed", now + timedelta(seconds=2), {"department": DEPT}, channel="web")])
    p.close()
    wait_until(lambda: _status(live, cid) == "signed", 60, "the case to be signed")
    signed = live.client.get(f"/v1/track/{cid}", params={"phone_last4": "4321"}).json()
    assert signed["status_zh"] == "办理中"
    assert [(s["stage"], s["name_zh"]) for s in signed["stages"]] == [("received", "已受理"), ("assigned", "已转办"),
                                                                        ("signed", "已签收")]
    assert all(s["at"] for s in signed["stages"]) and signed["deadline"]
    text = json.dumps(signed, ensure_ascii=False)
    for secret in ("李", "*", DEPT, "住建局", "department", "phone", "track_token", "\"name\""):
        assert secret not in text, secret

    wrong = live.client.get(f"/v1/track/{cid}", params={"phone_last4": "1234"})
    unknown = live.client.get("/v1/track/WEB-NO-SUCH-CASE", params={"phone_last4": "4321"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.content == unknown.content
    assert {k: v for k, v in wrong.headers.items() if k != "date"} == {k: v for k, v in unknown.headers.items() if k != "date"}

    page = live.client.post("/track", data={"case_id": cid, "phone_last4": "4321"})
    assert page.status_code == 200 and "办理中" in page.text and "已签收" in page.text and "承诺办结时间" in page.text
    assert DEPT not in page.text and "李" not in page.text and "<script" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    missed = live.client.post("/track", data={"case_id": cid, "phone_last4": "0000"})
    assert missed.status_code == 404 and "未找到" in missed.text and "办理中" not in missed.text
    assert live.client.get("/track").status_code == 200

    # 6 tracking requests so far out of a burst of 9 per client address: the 10th is refused
    answers = [live.client.get(f"/v1/track/{cid}", params={"phone_last4": "4321"}) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    limited = answers[-1]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "频繁" in limited.json()["message"]
    assert live.client.post("/track", data={"case_id": cid, "phone_last4": "4321"}).status_code == 429


def test_the_spec_documents_tracking(live: Any) -> None:
    doc = live.client.get("/openapi.json").json()
    op = doc["paths"]["/v1/track/{case_id}"]["get"]
    assert {"200", "404", "422", "429", "503"} <= set(op["responses"])
    assert any(p["name"] == "phone_last4" and p["schema"]["pattern"] == r"^\d{4}$" for p in op["parameters"])
    assert "text/html" in doc["paths"]["/track"]["post"]["responses"]["404"]["content"]
