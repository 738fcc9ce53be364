"""The real gateway (uvicorn in a thread) on the real broker: what lands, what doesn't."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import httpx
import pytest

from fengqiao.records import DeadLetter
from producers.dlq import list_dead_letters, resubmit_event
from producers.gateway.config import GatewaySettings
from producers.gateway.embedded import GatewayThread
from producers.simulator import generate_events
from tests.integration._intake_helpers import CaseViewStub, fresh_settings, read_topic

pytestmark = pytest.mark.integration
CST = timezone(timedelta(hours=8))
KEYS = {"web": "k-web", "hotline": "k-hot", "wechat": "k-wx", "app": "k-app", "qrcode": "k-qr",
        "open311": "k-311", "internal": "k-int", "window": "k-win"}
FORM = {"region_code": "130102", "category": "dispute", "topic": "劳资纠纷", "title": "欠薪",
        "content": "老板拖欠工资三个月", "citizen": {"name": "张三丰", "phone": "13812345678"}}


@pytest.fixture(scope="module")
def view() -> Iterator[CaseViewStub]:
    with CaseViewStub() as v:
        yield v


@pytest.fixture(scope="module")
def gw(kafka_bootstrap: str, view: CaseViewStub) -> Iterator[Any]:
    s = fresh_settings(kafka_bootstrap)
    g = GatewaySettings(api_keys=KEYS, max_body_bytes=64 * 1024, max_batch_events=200, streams_url=view.url)
    with GatewayThread(s, g) as gt:
        gt.settings, gt.gw = s, g
        gt.client = httpx.Client(base_url=gt.url, timeout=30)
        yield gt
        gt.client.close()


def _events(gt: Any) -> list[dict]:
    return read_topic(gt.settings, gt.settings.topics.events)


def test_accepted_petition_lands_once_with_pii_protected(gw: Any) -> None:
    r = gw.client.post("/v1/petitions", json={**FORM, "citizen": {"name": "王五", "phone": "13500001234"}},
                       headers={"X-API-Key": "k-web"})
    assert r.status_code == 202, r.text
    cid = r.json()["case_id"]
    mine = [e for e in _events(gw) if e["case_id"] == cid]
    assert len(mine) == 1 and mine[0]["event_type"] == "petition.received" and mine[0]["channel"] == "web"
    raw = json.dumps(mine[0], ensure_ascii=False)
    assert "13500001234" not in raw and "王五" not in raw
    c = mine[0]["payload"]["citizen"]
    assert c["phone"] == "135****1234" and c["name"] == "王*" and len(c["phone_hash"]) == 64 and c["sealed"]


def test_batch_of_contract_events_all_land(gw: Any) -> None:
    evs = generate_events(21, 30, speed=600)
    body = "[" + ",".join(e.to_json().decode() for e in evs) + "]"
    r = gw.client.post("/v1/events", content=body, headers={"X-API-Key": "k-int", "content-type": "application/json"})
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 30
    ids = Counter(e["event_id"] for e in _events(gw))
    assert all(ids[str(e.event_id)] == 1 for e in evs)


def test_bad_inputs_get_their_status_and_land_nowhere(gw: Any) -> None:
    before = len(_events(gw))
    good = generate_events(22, 3)
    bad = json.loads(good[1].to_json())
    bad["occurred_at"] = "2026-11-23T09:00:00"  # naive
    bad["payload"]["extra"] = 1
    batch = json.dumps([json.loads(good[0].to_json()), bad, json.loads(good[2].to_json())])
    h = {"X-API-Key": "k-int", "content-type": "application/json"}
    r = gw.client.post("/v1/events", content=batch, headers=h)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"[1].occurred_at", "[1].payload.extra"} <= fields
    assert all(e["zh"] and e["en"] for e in r.json()["errors"])
    assert gw.client.post("/v1/events", content=b"{nope", headers=h).status_code == 400  # unreadable, not invalid
    assert gw.client.post("/v1/events", content=b"[" + b"1," * 40000 + b"1]", headers=h).status_code == 413
    assert gw.client.post("/v1/events", content=batch, headers={"content-type": "application/json"}).status_code == 401
    assert gw.client.post("/v1/events", content=batch, headers={**h, "X-API-Key": "wrong"}).status_code == 401
    # a web key may not submit hotline events
    ev = json.loads(good[0].to_json())
    ev["channel"] = "hotline"
    assert gw.client.post("/v1/events", json=ev, headers={"X-API-Key": "k-web"}).status_code == 403
    r = gw.client.post("/v1/petitions", json={**FORM, "region_code": "110101", "urgency": "asap"}, headers={"X-API-Key": "k-web"})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"region_code", "urgency"}
    assert gw.client.post("/v1/petitions", json=FORM).status_code == 401
    assert len(_events(gw)) == before
    assert read_topic(gw.settings, gw.settings.topics.dlq) == []


def test_idempotency_key_gives_one_case(gw: Any) -> None:
    h = {"X-API-Key": "k-wx", "Idempotency-Key": "retry-123"}
    body = {"mobile": "13600002222", "areaCode": "130602", "type": "求助", "subject": "社会保障", "detail": "低保进度"}
    answers = [gw.client.post("/v1/channels/wechat", json=body, headers=h) for _ in range(3)]
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["case_id"] for a in answers}) == 1
    cid = answers[0].json()["case_id"]
    assert len([e for e in _events(gw) if e["case_id"] == cid]) == 1
    other = gw.client.post("/v1/channels/wechat", json={**body, "detail": "别的"}, headers=h)
    assert other.status_code == 409


def test_duplicate_via_another_channel_is_merged(gw: Any) -> None:
    first = gw.client.post("/v1/channels/qrcode", headers={"X-API-Key": "k-qr"},
                           json={"qr": "MQM-130627-0042", "content": "小区停水", "topic": "供水供暖", "phone": "13911112222"})
    assert first.status_code == 202
    hot = ("工单编号,来电时间,来电号码,区县编码,诉求类型,诉求分类,诉求内容\n"
           "GD-DUP-1,2099-01-01 00:00:00,139-1111-2222,130627,投诉,供水供暖,又停水了\n")
    hot = hot.replace("2099-01-01 00:00:00", datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S"))
    second = gw.client.post("/v1/channels/hotline/batch", content=hot.encode(),
                            headers={"X-API-Key": "k-hot", "content-type": "text/csv"})
    assert second.status_code == 202, second.text
    ev = second.json()["events"][0]
    assert ev["merged_into"] == first.json()["case_id"]
    merged = [e for e in _events(gw) if e["case_id"] == ev["case_id"] and e["event_type"] == "case.merged"]
    assert len(merged) == 1 and merged[0]["payload"]["into_case_id"] == first.json()["case_id"]
    # re-importing the same export is idempotent: same case id, no second merge
    again = gw.client.post("/v1/channels/hotline/batch", content=hot.encode(),
                           headers={"X-API-Key": "k-hot", "content-type": "text/csv"})
    assert again.json()["events"][0]["case_id"] == ev["case_id"]


def test_duplicate_index_rebuilt_by_a_new_gateway(gw: Any) -> None:
    r = gw.client.post("/v1/petitions", json={**FORM, "topic": "物业管理", "citizen": {"phone": "13377778888"}},
                       headers={"X-API-Key": "k-web"})
    assert r.status_code == 202
    with GatewayThread(gw.settings, gw.gw) as g2:
        r2 = httpx.post(g2.url + "/v1/petitions", json={**FORM, "topic": "物业管理", "channel": "app",
                                                        "citizen": {"phone": "13377778888"}},
                        headers={"X-API-Key": "k-app"}, timeout=30)
        assert r2.status_code == 202 and r2.json()["merged_into"] == r.json()["case_id"]


def test_hotline_partial_import_dead_letters_bad_rows(gw: Any) -> None:
    hot = ("工单编号,区县编码,诉求类型,诉求分类,诉求内容\n"
           "GD-P-1,130102,咨询,教育,入学咨询\n"
           "GD-P-2,999999,咨询,教育,坏的区划\n")
    h = {"X-API-Key": "k-hot", "content-type": "text/csv"}
    assert gw.client.post("/v1/channels/hotline/batch", content=hot.encode(), headers=h).status_code == 422
    r = gw.client.post("/v1/channels/hotline/batch?partial=true", content=hot.encode(), headers=h)
    assert r.status_code == 202 and r.json()["accepted"] == 1 and r.json()["dead_lettered"] == 1
    letters = list_dead_letters(gw.settings, limit=10)
    assert len(letters) == 1 and letters[0]["source"] == "gateway.hotline"
    # the row may hold a clear phone number: it is kept, but sealed (encrypted with the PII key)
    assert letters[0]["raw_encoding"] == "sealed" and "999999" not in letters[0]["raw"]
    letter = DeadLetter(**{k: v for k, v in letters[0].items() if k != "dlq"})
    assert "999999" in letter.raw_bytes(gw.settings.pii_key).decode()
    # re-submit a corrected version
    fixed = json.loads(generate_events(23, 1)[0].to_json())
    with pytest.raises(ValueError, match="仍不合规"):
        resubmit_event(gw.settings, json.dumps({**fixed, "region_code": "999999"}))
    assert resubmit_event(gw.settings, json.dumps(fixed)) == fixed["case_id"]
    assert any(e["event_id"] == fixed["event_id"] for e in _events(gw))


def test_open311_create_and_read_back(gw: Any, view: CaseViewStub) -> None:
    s = gw.client.get("/open311/v2/services.json")
    assert s.status_code == 200 and len(s.json()) == 6
    assert gw.client.get("/open311/v2/services/dispute.json").json()["service_code"] == "dispute"
    assert gw.client.get("/open311/v2/services/nope.json").status_code == 404
    form = {"api_key": "k-311", "service_code": "complaint", "jurisdiction_id": "130102", "description": "路灯不亮",
            "attribute[topic]": "市容环境"}
    r = gw.client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 202, r.text
    rid = r.json()[0]["service_request_id"]
    assert gw.client.post("/open311/v2/requests.json", data={**form, "api_key": "bad"}).status_code == 401
    bad = gw.client.post("/open311/v2/requests.json", data={**form, "service_code": "x"})
    assert bad.status_code == 400 and bad.json()[0]["code"] == 400  # GeoReport v2 answers errors with 400
    view.cases[rid] = {"case_id": rid, "status": "assigned", "category": "complaint", "topic": "市容环境",
                            "region_code": "130102", "department": "长安区城市管理综合执法局",
                            "received_at": "2026-11-23T09:00:00+08:00", "resolve_due_at": "2026-12-14T00:00:00+08:00"}
    one = gw.client.get(f"/open311/v2/requests/{rid}.json")
    assert one.status_code == 200
    assert one.json()[0]["agency_responsible"] == "长安区城市管理综合执法局"
    assert one.json()[0]["expected_datetime"] == "2026-12-14T00:00:00+08:00" and one.json()[0]["status"] == "open"
    assert gw.client.get("/open311/v2/requests/unknown.json").status_code == 404
    lst = gw.client.get("/open311/v2/requests.json", params={"service_request_id": rid})
    assert lst.status_code == 200 and lst.json()[0]["service_request_id"] == rid
    assert gw.client.get("/open311/v2/requests.json", params={"service_code": "complaint"}).status_code == 501


def _metrics(gt: Any) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    r = gt.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {s.name: s.value for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def test_metrics_count_accepted_events_and_dead_letters(gw: Any) -> None:
    before = _metrics(gw)
    evs = generate_events(29, 12, speed=600)
    body = "[" + ",".join(e.to_json().decode() for e in evs) + "]"
    assert gw.client.post("/v1/events", content=body, headers={"X-API-Key": "k-int",
                                                              "content-type": "application/json"}).status_code == 202
    hot = "工单编号,区县编码,诉求类型,诉求分类,诉求内容\nGD-M-1,130102,咨询,教育,入学咨询\nGD-M-2,999999,咨询,教育,坏的区划\n"
    r = gw.client.post("/v1/channels/hotline/batch?partial=true", content=hot.encode(),
                       headers={"X-API-Key": "k-hot", "content-type": "text/csv"})
    assert r.status_code == 202
    after = _metrics(gw)
    assert after["fengqiao_gateway_events_accepted_total"] - before["fengqiao_gateway_events_accepted_total"] == 13
    assert after["fengqiao_gateway_dead_letters_total"] - before.get("fengqiao_gateway_dead_letters_total", 0) == 1
    assert after["fengqiao_gateway_broker_up"] == 1
