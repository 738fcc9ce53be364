"""Authorization on the running gateway and the real broker: a citizen channel's key cannot close a
case; a department acts only on its own cases; refusals land in the audit trail, never on the events."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import pytest

from fengqiao.vocab import TZ
from producers.gateway.config import GatewaySettings
from producers.gateway.embedded import GatewayThread, free_port
from tests.integration._intake_helpers import fresh_settings, read_topic

pytestmark = pytest.mark.integration
KEYS = {"qrcode": "k-qr", "internal": "k-int",
        "zoning": {"secret": "k-zj", "role": "department", "departments": ["市住建局"]}}
CASES: dict[str, dict[str, Any]] = {}  # what the stand-in case view answers
FORM = {"region_code": "130102", "category": "help", "topic": "供水供暖", "title": "停水", "content": "小区停水"}


class _View(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        case = CASES.get(self.path.rstrip("/").rsplit("/", 1)[-1])
        self.send_response(200 if case else 404)
        self.end_headers()
        self.wfile.write(json.dumps(case or {}).encode())

    def log_message(self, *a: Any) -> None:
        pass


@pytest.fixture(scope="module")
def gw(kafka_bootstrap: str) -> Iterator[Any]:
    srv = ThreadingHTTPServer(("127.0.0.1", free_port()), _View)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    s = fresh_settings(kafka_bootstrap)
    s = s.model_copy(update={"topics": s.topics.model_copy(update={"audit": s.topics.events + ".audit"})})
    g = GatewaySettings(api_keys=KEYS, streams_url=f"http://127.0.0.1:{srv.server_address[1]}", rebuild_index=False)
    with GatewayThread(s, g) as gt, httpx.Client(base_url=gt.url, timeout=30) as client:
        gt.settings, gt.client = s, client
        yield gt
    srv.shutdown()


def _ev(event_type: str, case_id: str, channel: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": str(uuid.uuid4()), "event_type": event_type, "case_id": case_id,
            "occurred_at": (datetime.now(TZ) - timedelta(seconds=5)).isoformat(), "region_code": "130627",
            "channel": channel, "payload": payload}


def _post(gt: Any, key: str, body: Any) -> httpx.Response:
    return gt.client.post("/v1/events", json=body, headers={"X-API-Key": key})


def _audit(gt: Any, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        rows = read_topic(gt.settings, gt.settings.topics.audit)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


def test_citizen_channel_key_cannot_close_or_extend_any_case(gw: Any) -> None:
    cid = "QR-" + uuid.uuid4().hex[:10]
    CASES[cid] = {"case_id": cid, "channel": "qrcode", "department": "市住建局", "status": "replied"}
    tries = [_ev("case.replied", cid, "qrcode", {"department": "市住建局", "result": "已办结", "resolved": True}),
             _ev("case.archived", cid, "qrcode", {}),
             _ev("case.extended", cid, "qrcode", {"days": 30, "reason": "拖", "approved_by": "无"})]
    for body in tries:
        r = _post(gw, "k-qr", body)
        assert r.status_code == 403, (body["event_type"], r.text)
        assert " / " in r.json()["message"]
    other = gw.client.post("/v1/petitions", headers={"X-API-Key": "k-qr"}, json={**FORM, "channel": "web"})
    assert other.status_code == 403, other.text  # a petition of another channel
    rated = _post(gw, "k-qr", _ev("case.evaluated", cid, "qrcode", {"rating": "satisfied"}))
    assert rated.status_code == 202, rated.text  # the citizen's own evaluation through their channel
    landed = [e["event_type"] for e in read_topic(gw.settings, gw.settings.topics.events) if e["case_id"] == cid]
    assert landed == ["case.evaluated"]
    assert any(a.get("channel") == "web" and a["rule"] == "channel" for a in _audit(gw, 4))
    audit = [a for a in _audit(gw, 4) if a.get("case_id") == cid]
    assert sorted(a["event_type"] for a in audit) == ["case.archived", "case.extended", "case.replied"]
    assert all(a["key"] == "qrcode" and a["rule"] == "event_type" and "k-qr" not in json.dumps(a) for a in audit)
    assert read_topic(gw.settings, gw.settings.topics.dlq) == []  # refusals are audited, not dead letters


def test_department_acts_on_its_own_cases_only(gw: Any) -> None:
    mine, theirs = "D-" + uuid.uuid4().hex[:10], "D-" + uuid.uuid4().hex[:10]
    CASES[mine] = {"case_id": mine, "channel": "web", "department": "市住建局", "status": "assigned"}
    CASES[theirs] = {"case_id": theirs, "channel": "web", "department": "区环保局", "status": "assigned"}
    sign = {"department": "市住建局"}
    assert _post(gw, "k-zj", _ev("case.signed", mine, "internal", sign)).status_code == 202
    r = _post(gw, "k-zj", _ev("case.signed", theirs, "internal", sign))
    assert r.status_code == 403 and "区环保局" not in r.json()["message"] and "未分派" in r.json()["message"]
    assert _post(gw, "k-zj", _ev("case.archived", mine, "internal", {})).status_code == 403
    assert gw.client.post("/v1/petitions", headers={"X-API-Key": "k-zj"},
                          json=FORM).status_code == 403
    assert _post(gw, "k-int", _ev("case.archived", theirs, "internal", {})).status_code == 202  # the platform


def test_authorization_fails_closed_without_the_case_view(kafka_bootstrap: str) -> None:
    s = fresh_settings(kafka_bootstrap)
    g = GatewaySettings(api_keys=KEYS, streams_url="http://127.0.0.1:9", rebuild_index=False)
    with GatewayThread(s, g) as gt, httpx.Client(base_url=gt.url, timeout=30) as client:
        r = client.post("/v1/events", json=_ev("case.signed", "X-1", "internal", {"department": "市住建局"}),
                        headers={"X-API-Key": "k-zj"})
        assert r.status_code == 503 and r.json()["error"] == "readback_unavailable"
        assert read_topic(s, s.topics.events) == []
