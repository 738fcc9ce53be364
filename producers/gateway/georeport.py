"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) as the spec says: pure mapping.

A spec-following client works unchanged: JSON and XML for every endpoint
(`to_xml`), requests posted form-encoded, `jurisdiction_id` optional (this
endpoint serves one jurisdiction, Hebei: `130000` or any Hebei division code is
accepted), the region taken from `attribute[region_code]`, else a division code
in `jurisdiction_id`, else `lat`/`long` (point in polygon, `fengqiao.geo`,
passed in as `locate`), else `address_string` (county and city names). A
request none of them places in Hebei gets the spec's 400 error.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fengqiao.contract import Category, ContractError, HebeiCode, Urgency, reasons_of
from fengqiao.geo import region_from_address
from fengqiao.regions import PROVINCE_CODE, is_known, name_of
from producers.gateway.adapters import CST, PetitionForm, _citizen, _form

SERVICES: list[dict[str, Any]] = [
    {"service_code": code, "service_name": name, "description": desc, "metadata": True, "type": "realtime",
     "keywords": kw, "group": "网上枫桥"}
    for code, name, desc, kw in (
        ("consult", "咨询 Consultation", "政策、办事咨询 / questions about policies and procedures", "咨询,政策,办事"),
        ("help", "求助 Request for help", "生活困难、紧急求助 / help with a problem", "求助,困难"),
        ("dispute", "解纷 Dispute mediation", "邻里、劳资、婚姻家庭等纠纷调解 / mediation of disputes", "纠纷,调解,劳资,邻里"),
        ("report", "举报 Report", "违法违规行为举报 / report a violation", "举报,违法"),
        ("complaint", "投诉 Complaint", "对服务或管理的投诉 / complaint about a service", "投诉"),
        ("suggestion", "建议 Suggestion", "意见建议 / suggestion", "建议"),
    )
]
SERVICE_CODES = {s["service_code"] for s in SERVICES}


def service_definition(code: str) -> dict[str, Any]:
    """Open311 service definition: the attributes a request of this service carries."""
    from producers.sim_data import TOPICS

    return {"service_code": code, "attributes": [
        {"variable": True, "code": "topic", "datatype": "singlevaluelist", "required": True, "datatype_description": "诉求分类 topic",
         "order": 1, "description": "诉求分类 / topic", "values": [{"key": t, "name": t} for t in [*TOPICS, "其他"]]},
        {"variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False, "datatype_description": "紧急程度",
         "order": 2, "description": "紧急程度 / urgency",
         "values": [{"key": "normal", "name": "一般"}, {"key": "pressing", "name": "加急"}, {"key": "urgent", "name": "特急"}]},
        {"variable": True, "code": "region_code", "datatype": "string", "required": False, "order": 3,
         "datatype_description": "6-digit Hebei division code (or send jurisdiction_id)",
         "description": "行政区划代码 / region code"},
    ]}


_OS_RENAME = {"region_code": "attribute[region_code]", "category": "service_code", "topic": "attribute[topic]",
              "urgency": "attribute[urgency]", "content": "description", "title": "description",
              "location": "lat/long", "citizen": "first_name/last_name/phone"}


class RequestFields(BaseModel):
    """`POST requests.{json,xml}`, form-encoded: the spec's fields and this endpoint's attributes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)
    api_key: str | None = Field(default=None, max_length=200, description="or the X-API-Key header")
    jurisdiction_id: str | None = Field(default=None, max_length=64,
                                        description="optional: this endpoint serves Hebei only (130000 or a division code)")
    service_code: Category
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, description="WGS84")
    long: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, description="WGS84")
    address_string: str | None = Field(default=None, max_length=200)
    address_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=200)
    device_id: str | None = Field(default=None, max_length=64)
    account_id: str | None = Field(default=None, max_length=64)
    first_name: str | None = Field(default=None, max_length=25)
    last_name: str | None = Field(default=None, max_length=25)
    phone: str | None = Field(default=None, max_length=32)
    description: str = Field(min_length=1, max_length=4000)
    media_url: str | None = Field(default=None, max_length=500)
    topic: str = Field(alias="attribute[topic]", min_length=1, max_length=32, description="诉求分类, e.g. 物业管理")
    urgency: Urgency = Field(default=Urgency.normal, alias="attribute[urgency]")
    region_code: HebeiCode | None = Field(default=None, alias="attribute[region_code]")


NOT_IN_HEBEI = {"field": "lat/long/address_string", "type": "not_in_hebei",
                "en": "the request is not placed in Hebei: give lat/long inside Hebei, an address naming a Hebei "
                      "county or city, or attribute[region_code]",
                "zh": "无法确定诉求所在地：请提供河北省内的经纬度、含河北县区或城市名称的地址，或 attribute[region_code]"}


def check_jurisdiction(jurisdiction_id: str | None) -> str:
    """The jurisdiction asked for: empty, Hebei (130000) or a Hebei division code; else ContractError."""
    j = (jurisdiction_id or "").strip()
    if j and j != PROVINCE_CODE and not is_known(j):
        raise ContractError([{"field": "jurisdiction_id", "type": "jurisdiction",
                              "en": f"unknown jurisdiction {j[:64]!r}: this endpoint serves Hebei ({PROVINCE_CODE})",
                              "zh": f"未知的 jurisdiction_id：本接口只受理河北省（{PROVINCE_CODE}）"}])
    return j


def open311_form(fields: dict[str, str], locate: Callable[[float, float], str | None]) -> PetitionForm:
    """Open311 request fields → PetitionForm; `locate(lat, lon)` is the point-in-polygon lookup."""
    try:
        f = RequestFields.model_validate({k: v for k, v in fields.items() if v != ""})
    except ValidationError as exc:
        raise ContractError(reasons_of(exc)) from None
    j = check_jurisdiction(f.jurisdiction_id)
    region = f.region_code or (j if is_known(j) else None)
    if region is None and f.lat is not None and f.long is not None:
        region = locate(f.lat, f.long)
    if region is None and f.address_string:
        region = region_from_address(f.address_string)
    if region is None:
        raise ContractError([dict(NOT_IN_HEBEI)])
    desc = f.description.strip() or f.description
    location = None
    if f.lat is not None and f.long is not None:
        location = {"lat": f.lat, "lon": f.long, **({"address": f.address_string} if f.address_string else {})}
    data: dict[str, Any] = {
        "region_code": region, "category": str(f.service_code), "topic": f.topic, "urgency": str(f.urgency),
        "title": desc[:30], "content": desc, "channel": "open311", "location": location,
        "citizen": _citizen(((f.last_name or "") + (f.first_name or "")).strip() or None, f.phone, None),
    }
    return _form({k: v for k, v in data.items() if v is not None}, _OS_RENAME)


def open311_error(reasons: list[dict[str, str]], code: int) -> list[dict[str, Any]]:
    """Open311's error shape: a list of {code, description}; bilingual descriptions."""
    return [{"code": code, "description": f"{r['field']}: {r['en']} / {r['zh']}"} for r in reasons]


OPEN_STATUSES = {"received", "assigned", "signed", "returned", "replied", "reopened", "escalated", "extended",
                 "evaluated", "open"}


def case_to_open311(case: dict[str, Any]) -> dict[str, Any]:
    """A case snapshot (streams view or ClickHouse row) → an Open311 service request."""
    closed = bool(case.get("closed_at")) or case.get("status") in ("archived", "merged", "resolved_online", "closed")
    notes = {"merged": f"已合并至 {case.get('merged_into', '')} / merged into {case.get('merged_into', '')}"}.get(
        str(case.get("status")), str(case.get("status", "")))
    return {
        "service_request_id": case.get("case_id"),
        "status": "closed" if closed else "open",
        "status_notes": notes,
        "service_name": case.get("topic") or None,
        "service_code": case.get("category") or None,
        "agency_responsible": case.get("department") or None,
        "service_notice": None,
        "requested_datetime": _iso(case.get("received_at")),
        "updated_datetime": _iso(case.get("updated_at")),
        "expected_datetime": _iso(case.get("resolve_due_at")),
        "address": name_of(case["region_code"]) if case.get("region_code") else None,
        "zipcode": None,
    }


def _iso(v: Any) -> str | None:
    if v in (None, ""):
        return None
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=CST)).isoformat()
    return str(v)


# ---------------------------------------------------------------- XML
_ITEM = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
         "values": "value"}


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    return "" if v is None else str(v)


def _fill(el: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(ET.SubElement(el, k), v)
    elif isinstance(value, list):
        for v in value:
            _fill(ET.SubElement(el, _ITEM.get(el.tag, "item")), v)
    else:
        el.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    """The spec's XML form of a JSON answer: `<services><service>…`, `<service_requests><request>…`."""
    el = ET.Element(root)
    _fill(el, value)
    return ET.tostring(el, encoding="utf-8", xml_declaration=True)
