"""Property-based fuzz of the running gateway: no 5xx, no crash (4 x 250 = 1,000 requests)."""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.gateway.config import GatewaySettings
from producers.gateway.embedded import GatewayThread
from producers.simulator import generate_events
from tests.integration._intake_helpers import fresh_settings

pytestmark = pytest.mark.integration
KEYS = {"internal": "k-int", "web": "k-web", "hotline": "k-hot", "wechat": "k-wx", "qrcode": "k-qr", "open311": "k-311"}
ALLOWED = {202, 401, 403, 404, 405, 409, 413, 415, 422, 501}
SEED_EVENTS = [json.loads(e.to_json()) for e in generate_events(41, 40, speed=3600)]
N = {"count": 0}

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                      st.text(max_size=40), st.sampled_from(["130102", "2026-11-23T09:00:00+08:00", "dispute",
                                                              "petition.received", "13812345678", "x" * 5000]))
json_value = st.recursive(json_leaf, lambda c: st.one_of(st.lists(c, max_size=4),
                                                         st.dictionaries(st.text(max_size=12), c, max_size=5)),
                          max_leaves=12)


@st.composite
def mutated_event(draw: Any) -> Any:
    ev = json.loads(json.dumps(draw(st.sampled_from(SEED_EVENTS))))
    for _ in range(draw(st.integers(0, 3))):
        target = ev if draw(st.booleans()) or not isinstance(ev.get("payload"), dict) else ev["payload"]
        keys = list(target) or ["x"]
        k = draw(st.one_of(st.sampled_from(keys), st.text(max_size=8)))
        if draw(st.booleans()):
            target.pop(k, None)
        else:
            target[k] = draw(json_value)
    return ev


@pytest.fixture(scope="module")
def gw(kafka_bootstrap: str) -> Iterator[httpx.Client]:
    s = fresh_settings(kafka_bootstrap)
    g = GatewaySettings(api_keys=KEYS, max_body_bytes=32 * 1024, max_batch_events=50, streams_url="http://127.0.0.1:9")
    with GatewayThread(s, g) as gt:
        with httpx.Client(base_url=gt.url, timeout=30) as c:
            yield c
    print(f"fuzz: {N['count']} requests")


def _check(r: httpx.Response) -> None:
    N["count"] += 1
    assert r.status_code in ALLOWED, (r.status_code, r.text[:500])
    if r.status_code == 422:
        body = r.json()
        errs = body["errors"] if isinstance(body, dict) else body
        assert errs


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@FUZZ
@given(body=st.one_of(mutated_event(), st.lists(mutated_event(), max_size=5), json_value),
       key=st.sampled_from(["k-int", "k-web", "", "nope"]), idem=st.one_of(st.none(), st.text(min_size=1, max_size=8)))
def test_events_endpoint(gw: httpx.Client, body: Any, key: str, idem: str | None) -> None:
    h = {"content-type": "application/json", "X-API-Key": key}
    if idem and idem.isascii() and idem.isprintable():
        h["Idempotency-Key"] = idem
    _check(gw.post("/v1/events", content=json.dumps(body).encode(), headers=h))


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["region_code", "category", "topic", "urgency", "title", "content",
                                             "citizen", "location", "channel", "occurred_at", "external_id", "junk"]),
                            json_value, max_size=9),
       path=st.sampled_from(["/v1/petitions", "/v1/channels/wechat", "/v1/channels/qrcode"]),
       key=st.sampled_from(["k-web", "k-wx", "k-qr", "k-int"]))
def test_form_endpoints(gw: httpx.Client, form: dict, path: str, key: str) -> None:
    _check(gw.post(path, content=json.dumps(form).encode(), headers={"X-API-Key": key, "content-type": "application/json"}))


@FUZZ
@given(raw=st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(str.encode)),
       path=st.sampled_from(["/v1/channels/hotline/batch", "/v1/channels/hotline/batch?format=jsonl",
                             "/open311/v2/requests.json", "/v1/events"]),
       ctype=st.sampled_from(["text/csv", "application/x-ndjson", "application/x-www-form-urlencoded", "application/json"]))
def test_raw_bodies(gw: httpx.Client, raw: bytes, path: str, ctype: str) -> None:
    _check(gw.post(path, content=raw, headers={"X-API-Key": "k-hot" if "hotline" in path else "k-int",
                                               "content-type": ctype}))


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["api_key", "service_code", "jurisdiction_id", "description", "lat", "long",
                                               "attribute[topic]", "attribute[urgency]", "phone", "first_name", "x"]),
                              st.text(max_size=30), max_size=8))
def test_open311_forms(gw: httpx.Client, fields: dict) -> None:
    fields.setdefault("api_key", "k-311")
    _check(gw.post("/open311/v2/requests.json", data=fields))
