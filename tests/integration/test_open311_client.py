"""A GeoReport v2 client from PyPI (`georeport`), unchanged, against the live gateway, in JSON and XML.

`georeport` reads (services, definitions, requests); it does not create, so the
POST is made the way the spec says (form-encoded, `jurisdiction_id` left out on
a single-jurisdiction endpoint, the place given by `lat`/`long` or
`address_string`), and read back through the client. The region is derived
offline from the county shapes; a request outside Hebei gets the spec's 400.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Iterator

import httpx
import pytest
from georeport import GeoReport

from producers.gateway.config import GatewaySettings
from producers.gateway.embedded import GatewayThread
from tests.integration._intake_helpers import CaseViewStub, fresh_settings, read_topic

pytestmark = pytest.mark.integration
KEYS = {"open311": "k-311", "internal": "k-int"}
REQUEST = {"api_key": "k-311", "service_code": "dispute", "description": "楼上装修噪音持续到深夜",
           "attribute[topic]": "邻里纠纷", "first_name": "三", "last_name": "张", "phone": "13800000000"}


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str) -> Iterator[Any]:
    with CaseViewStub() as view:
        s = fresh_settings(kafka_bootstrap)
        g = GatewaySettings(api_keys=KEYS, streams_url=view.url)
        with GatewayThread(s, g) as gt:
            gt.settings, gt.view = s, view
            gt.root = f"{gt.url}/open311/v2"
            yield gt


def _post(live: Any, fmt: str, **fields: str) -> httpx.Response:
    """What a spec-following client sends: `POST requests.{fmt}`, application/x-www-form-urlencoded."""
    return httpx.post(f"{live.root}/requests.{fmt}", data={**REQUEST, **fields}, timeout=30)


def _received(live: Any, case_id: str) -> list[dict[str, Any]]:
    """The petition.received events of one case (a repeat petition adds its case.merged)."""
    return [e for e in read_topic(live.settings, live.settings.topics.events)
            if e["case_id"] == case_id and e["event_type"] == "petition.received"]


def _created_id(r: httpx.Response, fmt: str) -> str:
    assert r.status_code == 202, r.text
    if fmt == "json":
        return r.json()[0]["service_request_id"]
    root = ET.fromstring(r.content)
    assert root.tag == "service_requests"
    return root.find("request/service_request_id").text  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_pypi_georeport_client_works_unchanged(live: Any, fmt: str) -> None:
    for jurisdiction in (None, "130000"):  # optional here; a client that sends Hebei's is served too
        client = GeoReport(live.root, jurisdiction=jurisdiction, output_format=fmt)
        services = client.get_service_list()
        assert {s["service_code"] for s in services} == {"consult", "help", "dispute", "report", "complaint", "suggestion"}
        definition = client.get_service_definition("dispute")
        attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
        assert {a["code"] for a in attributes} == {"topic", "urgency", "region_code"}

    # created with lat/long only (no jurisdiction_id, no region code): a point in 石家庄's 长安区
    rid = _created_id(_post(live, fmt, lat="38.0428", long="114.5149"), fmt)
    mine = _received(live, rid)
    assert len(mine) == 1 and mine[0]["region_code"] == "130102" and mine[0]["payload"]["location"]["lat"] == 38.0428
    # ... or with an address naming a Hebei county
    by_address = _created_id(_post(live, fmt, address_string="河北省保定市竞秀区朝阳北大街"), fmt)
    assert [e["region_code"] for e in _received(live, by_address)] == ["130602"]

    live.view.cases[rid] = {"case_id": rid, "status": "assigned", "category": "dispute", "topic": "邻里纠纷",
                            "region_code": "130102", "department": "长安区司法局",
                            "received_at": "2026-11-23T09:00:00+08:00"}
    client = GeoReport(live.root, output_format=fmt)
    one = client.get_service_request(rid)
    assert one["service_request_id"] == rid and one["status"] == "open" and one["agency_responsible"] == "长安区司法局"
    listed = client.get_service_requests(service_request_id=rid)
    listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one element is not a list
    assert [r["service_request_id"] for r in listed] == [rid]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_request_outside_hebei_gets_the_specs_400(live: Any, fmt: str) -> None:
    before = len(read_topic(live.settings, live.settings.topics.events))
    r = _post(live, fmt, lat="39.9042", long="116.4074", address_string="北京市东城区")  # 北京: not Hebei
    assert r.status_code == 400
    if fmt == "json":
        err = r.json()[0]
    else:
        el = ET.fromstring(r.content).find("error")
        err = {"code": int(el.find("code").text), "description": el.find("description").text}  # type: ignore[union-attr]
    assert err["code"] == 400 and "Hebei" in err["description"] and "河北" in err["description"]
    bad = _post(live, fmt, jurisdiction_id="chicago.il.us", lat="38.0428", long="114.5149")
    assert bad.status_code == 400 and "jurisdiction_id" in bad.text
    assert len(read_topic(live.settings, live.settings.topics.events)) == before
