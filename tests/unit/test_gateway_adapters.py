"""Every channel adapter's mapping to the contract (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from fengqiao.contract import ContractError, parse_event
from producers.gateway import adapters as A
from producers.gateway import georeport as G

pytestmark = pytest.mark.unit
CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=CST)


def _event(form: A.PetitionForm, channel: str) -> dict:
    ev = A.petition_event(form, channel, A.case_id_for(channel, scope="x"), NOW)
    parse_event(ev)  # always a valid contract event
    return ev


HOTLINE_CSV = (
    "\ufeff工单编号,来电时间,来电号码,来电人,区县编码,诉求类型,诉求分类,紧急程度,标题,诉求内容,地址\n"
    "GD20261123001,2026-11-23 09:15:00,13812345678,张三丰,130102,投诉,物业管理,加急,小区停水,小区停水三天,长安区建设大街1号\n"
    "GD20261123002,2026/11/23 09:20:00,13912345678,,130627,咨询,社会保障,一般,,请问养老保险如何转移,\n"
)


def test_hotline_csv_mapping() -> None:
    rows = A.parse_hotline_export(HOTLINE_CSV.encode(), "csv")
    assert len(rows) == 2
    f1, f2 = (A.hotline_row_form(r) for r in rows)
    e1 = _event(f1, "hotline")
    assert e1["channel"] == "hotline" and e1["region_code"] == "130102"
    p = e1["payload"]
    assert (p["category"], p["topic"], p["urgency"], p["title"]) == ("complaint", "物业管理", "pressing", "小区停水")
    assert p["citizen"] == {"name": "张三丰", "phone": "13812345678"}
    assert "长安区建设大街1号" in p["content"]  # address without coordinates goes into the content
    assert e1["occurred_at"] == "2026-11-23T09:15:00+08:00"  # local time of the export
    assert f2.external_id == "GD20261123002" and f2.category == "consult" and f2.title == "请问养老保险如何转移"
    # the ticket number fixes the case id: a re-import is idempotent
    assert A.case_id_for("hotline", scope="hotline:ext:GD1") == A.case_id_for("hotline", scope="hotline:ext:GD1")


def test_hotline_jsonl_and_errors_name_hotline_columns() -> None:
    good = {"工单编号": "GD1", "来电时间": "2026-11-23T09:00:00+08:00", "区县编码": "130102", "诉求类型": "求助",
            "诉求分类": "劳资纠纷", "诉求内容": "欠薪", "经度": 114.5, "纬度": 38.0}
    body = (json.dumps(good, ensure_ascii=False) + "\n\n").encode()
    form = A.hotline_row_form(A.parse_hotline_export(body, "jsonl")[0])
    assert _event(form, "hotline")["payload"]["location"] == {"lat": 38.0, "lon": 114.5}
    with pytest.raises(ContractError) as e:
        A.hotline_row_form({**good, "区县编码": "990000", "诉求类型": "闲聊", "来电号码": "abc"})
    fields = {r["field"].split(".")[0] for r in e.value.reasons}
    assert {"区县编码", "诉求类型", "来电号码/来电人/身份证号"} <= fields
    assert all(r["zh"] and r["en"] for r in e.value.reasons)
    with pytest.raises(ContractError):
        A.parse_hotline_export(b"{not json}\n", "jsonl")
    with pytest.raises(ContractError):
        A.parse_hotline_export("工单编号,奇怪的列\n1,2\n".encode(), "csv")


@pytest.mark.parametrize("line", [
    b'{"x": ' + b"9" * 5000 + b"}",  # beyond Python's integer digit limit
    b"[" * 100_000,
    json.dumps({"工单编号": "A", "来电时间": 1e300}).encode(),  # epoch ms far beyond any calendar
    json.dumps({"工单编号": "A", "诉求内容": 12345}).encode(),  # content not a string
    json.dumps({"工单编号": "A", "来电时间": "9999-12-31 23:59:59"}).encode(),
])
def test_hostile_hotline_rows_are_contract_errors_not_crashes(line: bytes) -> None:
    with pytest.raises(ContractError) as e:
        for row in A.parse_hotline_export(line, "jsonl"):
            A.hotline_row_form(row)
    assert all(r["en"] and r["zh"] for r in e.value.reasons)


def test_wechat_submit_time_is_bounded() -> None:
    body = {"areaCode": "130102", "type": "求助", "subject": "教育", "detail": "x", "submitTime": 10**20}
    with pytest.raises(ContractError) as e:
        A.wechat_form(body, "wechat")
    assert e.value.reasons[0]["field"] == "submitTime"


def test_wechat_form_mapping() -> None:
    body = {"openid": "o-abc", "realName": "李四", "mobile": "13700001111", "areaCode": "130602", "type": "解纷",
            "subject": "邻里纠纷", "detail": "楼上漏水", "urgent": True, "latitude": 38.87, "longitude": 115.46,
            "address": "竞秀区", "submitTime": 1795400000000, "clientRequestId": "wx-1"}
    form = A.wechat_form(body, "wechat")
    ev = _event(form, "wechat")
    assert ev["channel"] == "wechat" and ev["payload"]["category"] == "dispute" and ev["payload"]["urgency"] == "pressing"
    assert ev["payload"]["location"]["address"] == "竞秀区" and ev["payload"]["title"] == "楼上漏水"
    assert ev["occurred_at"].endswith("+08:00")
    with pytest.raises(ContractError) as e:
        A.wechat_form({**body, "areaCode": "110101", "nickname": "x"}, "app")
    assert {r["field"] for r in e.value.reasons} >= {"nickname"}
    with pytest.raises(ContractError) as e:
        A.wechat_form({**body, "areaCode": "110101"}, "app")
    assert e.value.reasons[0]["field"] == "areaCode" and "河北" in e.value.reasons[0]["zh"]


def test_qrcode_region_from_the_sticker() -> None:
    assert A.region_from_qr("https://mqm.example.gov.cn/q/130627/0042") == "130627"
    assert A.region_from_qr("MQM-131182-7") == "131182"
    assert A.region_from_qr("MQM-110101-7") is None
    ev = _event(A.qrcode_form({"qr": "MQM-130627-0042", "content": "村口路灯坏了", "topic": "市容环境",
                               "category": "建议", "phone": "13600000000"}), "qrcode")
    assert ev["region_code"] == "130627" and ev["channel"] == "qrcode" and ev["payload"]["category"] == "suggestion"
    with pytest.raises(ContractError) as e:
        A.qrcode_form({"qr": "nothing here", "content": "x"})
    assert e.value.reasons[0]["field"] == "qr"


def _nowhere(lat: float, lon: float) -> str | None:
    return None


def test_open311_mapping_and_services() -> None:
    codes = {s["service_code"] for s in G.SERVICES}
    assert codes == {"consult", "help", "dispute", "report", "complaint", "suggestion"}
    assert G.service_definition("dispute")["attributes"][0]["code"] == "topic"
    form = G.open311_form({"api_key": "k", "service_code": "complaint", "jurisdiction_id": "130102",
                           "description": "路灯不亮", "attribute[topic]": "市容环境", "lat": "38.04", "long": "114.5",
                           "first_name": "三", "last_name": "张", "phone": "13800000000"}, _nowhere)
    ev = _event(form, "open311")
    assert ev["channel"] == "open311" and ev["payload"]["location"]["lat"] == 38.04
    assert ev["payload"]["citizen"]["name"] == "张三" and ev["region_code"] == "130102"
    with pytest.raises(ContractError) as e:
        G.open311_form({"service_code": "nope", "foo": "1"}, _nowhere)
    assert {"service_code", "foo"} <= {r["field"] for r in e.value.reasons}
    with pytest.raises(ContractError) as e:
        G.open311_form({"service_code": "help", "description": "x"}, _nowhere)
    assert {r["field"] for r in e.value.reasons} == {"attribute[topic]"}  # jurisdiction_id is optional
    errs = G.open311_error(e.value.reasons, 400)
    assert errs[0]["code"] == 400 and " / " in errs[0]["description"]


BASE = {"service_code": "dispute", "description": "楼上噪音", "attribute[topic]": "邻里纠纷"}


def test_open311_region_from_lat_long_address_or_a_clear_error() -> None:
    at = G.open311_form({**BASE, "lat": "38.04", "long": "114.51"}, lambda lat, lon: "130104")
    assert at.region_code == "130104" and at.location is not None
    by_address = G.open311_form({**BASE, "address_string": "河北省保定市竞秀区"}, _nowhere)
    assert by_address.region_code == "130602"
    assert G.open311_form({**BASE, "jurisdiction_id": "130000", "address_string": "正定县"}, _nowhere).region_code == "130123"
    with pytest.raises(ContractError) as e:  # Beijing: outside every Hebei shape, an address naming no Hebei place
        G.open311_form({**BASE, "lat": "39.90", "long": "116.40", "address_string": "北京市朝阳区"}, _nowhere)
    assert e.value.reasons[0]["type"] == "not_in_hebei" and "河北" in e.value.reasons[0]["zh"]
    with pytest.raises(ContractError) as e:
        G.open311_form({**BASE, "jurisdiction_id": "chicago.gov"}, _nowhere)
    assert e.value.reasons[0]["field"] == "jurisdiction_id"


def test_open311_xml_is_the_specs_shape() -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(G.to_xml("services", G.SERVICES))
    assert root.tag == "services" and [c.tag for c in root][:1] == ["service"]
    assert root[0].find("service_code").text == "consult" and root[0].find("metadata").text == "true"
    d = ET.fromstring(G.to_xml("service_definition", G.service_definition("help")))
    assert d.find("attributes/attribute/values/value/key") is not None
    e = ET.fromstring(G.to_xml("errors", [{"code": 400, "description": "x / 无"}]))
    assert e.find("error/code").text == "400"


def test_case_to_open311() -> None:
    case = {"case_id": "WX-1", "status": "assigned", "category": "dispute", "topic": "邻里纠纷", "region_code": "130102",
            "department": "长安区司法局", "received_at": "2026-11-23T09:00:00+08:00",
            "resolve_due_at": "2026-12-14T00:00:00+08:00", "updated_at": "2026-11-23T09:05:00+08:00"}
    r = G.case_to_open311(case)
    assert r["status"] == "open" and r["agency_responsible"] == "长安区司法局"
    assert r["expected_datetime"] == "2026-12-14T00:00:00+08:00" and r["service_code"] == "dispute"
    assert G.case_to_open311({**case, "status": "archived", "closed_at": "x"})["status"] == "closed"
