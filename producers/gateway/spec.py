"""The gateway's OpenAPI document, derived from the models that validate requests.

Routes read their bodies themselves (so that no body can reach a parser
that answers 500), which means FastAPI cannot see what they take: each route
names its request models here (`body(...)`), and `install` puts their JSON
schemas, taken from the pydantic models of the contract and the channel
forms, into the document. Bounds added to those models appear in the spec
without anyone editing it. Every status a route can answer is declared with
its body schema (`answers(...)`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from fengqiao.regions import regions
from fengqiao.vocab import SCHEMA_VERSION


# ---------------------------------------------------------------- response bodies
class FieldError(BaseModel):
    field: str = Field(description="the field at fault, in the submitter's own names")
    en: str
    zh: str


class ErrorBody(BaseModel):
    """Every native error: a code, one bilingual line, and the fields at fault."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "error": "invalid_input", "message": "1 invalid field(s) / 1 处输入有误",
        "errors": [{"field": "region_code", "en": "region code 999999 is not in the Hebei division table",
                    "zh": "行政区划代码不在河北省区划表中"}]}})
    error: str
    message: str = Field(description="English / 中文")
    errors: list[FieldError] | None = None


class AcceptedEvent(BaseModel):
    case_id: str
    event_id: str
    event_type: str
    merged_into: str | None = Field(default=None, description="the earlier case this petition duplicates")


class Accepted(BaseModel):
    """A single event or form: the fields of `AcceptedEvent`; a batch: `accepted` and `events`."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "status": "accepted", "case_id": "WEB-3f2a9c0d1e2b4a5f6a7b8c9d", "event_id": "0b6c1f0e-6b1d-5e0a-9f3c-2d4e5f6a7b8c",
        "event_type": "petition.received"}})
    status: Literal["accepted"]
    case_id: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    merged_into: str | None = None
    accepted: int | None = None
    events: list[AcceptedEvent] | None = None
    dead_lettered: int | None = Field(default=None, description="rows sent to the DLQ (`?partial=true`)")
    errors: list[FieldError] | None = None


class KafkaHealth(BaseModel):
    reachable: bool
    checked_seconds_ago: float | None


class Health(BaseModel):
    ok: bool = Field(description="false (and status 503) while Kafka does not answer")
    kafka: KafkaHealth
    duplicate_index_ready: bool
    duplicate_index_cases: int


class Open311Error(BaseModel):
    """GeoReport v2 error: a list of these."""

    code: int
    description: str = Field(description="English / 中文")


class Open311Created(BaseModel):
    service_request_id: str
    service_notice: str | None = None
    account_id: str | None = None


class Open311Request(BaseModel):
    service_request_id: str | None
    status: Literal["open", "closed"]
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: str | None = None
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None = None
    zipcode: str | None = None


class Open311Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class Open311Definition(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]]


NATIVE_MESSAGES = {
    400: "unreadable body: not UTF-8, not JSON, nested too deeply, a number too long / 请求体无法读取",
    401: "missing or wrong API key / 缺少或错误的 API 密钥",
    403: "the key may not do this / 此密钥无权执行该操作",
    404: "not found / 未找到",
    409: "Idempotency-Key reused with another body / 幂等键已用于另一个请求",
    413: "body or batch too large / 请求体或批量过大",
    415: "unsupported content type / 不支持的内容类型",
    422: "fields break the contract; each is named / 字段不符合约定",
    429: "rate limit of this API key; see Retry-After / 超出此密钥的频率限制",
    500: "internal error (never caused by input) / 内部错误",
    501: "not served in this deployment mode / 当前部署模式不提供",
    503: "Kafka or the case view unavailable; nothing was written / 服务暂不可用，未写入",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}


def answers(*codes: int, open311: bool = False, xml: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each error status with its body schema (native or Open311)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"description": NATIVE_MESSAGES[code]}
        if open311:
            entry["model"] = list[Open311Error]
            if xml:
                entry["content"] = {"application/xml": {"schema": {}}}
        else:
            entry["model"] = ErrorBody
        if code in (429, 503):
            entry["headers"] = RETRY_AFTER if code == 429 else {}
        out[code] = entry
    return out


WRITE_ERRORS = (400, 401, 403, 409, 413, 415, 422, 429, 500, 503)


# ---------------------------------------------------------------- request bodies
_BODIES: dict[str, dict[str, Any]] = {}  # key -> {"content": {media type: schema source}, "required": bool}


def reads(content: dict[str, Any], examples: dict[str, Any] | None = None, required: bool = True) -> dict[str, Any]:
    """`openapi_extra=` for a route that reads its body itself: {media type: a pydantic type,
    a TypeAdapter or a JSON schema dict}, and an example per media type; the schemas are
    generated when the document is."""
    key = f"b{len(_BODIES)}"
    _BODIES[key] = {"content": content, "required": required, "examples": examples or {}}
    return {"x-fengqiao-body": key}


IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "a retry with the same key and body gets the first answer (24 h); another body: 409 "
                                  "/ 同一幂等键重试得到首次结果，不同请求体得到 409",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
EVENT_EXAMPLE = {
    "schema_version": SCHEMA_VERSION, "event_id": "7d4f0a52-3c1e-4b8a-9f2d-1e6c5b4a3d20", "event_type": "petition.received",
    "case_id": "HL-20261123-0001", "occurred_at": "2026-11-23T09:15:00+08:00", "region_code": "130102",
    "channel": "hotline", "actor": {"role": "operator", "id": "op-017"},
    "payload": {"category": "complaint", "topic": "物业管理", "urgency": "pressing", "title": "小区停水",
                "content": "小区停水三天，物业不予答复", "citizen": {"name": "张**", "phone": "138****5678"}},
}
PETITION_EXAMPLE = {"region_code": "130102", "category": "dispute", "topic": "劳资纠纷", "title": "欠薪",
                    "content": "老板拖欠工资三个月", "citizen": {"name": "张三丰", "phone": "13812345678"}}
WECHAT_EXAMPLE = {"openid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "areaCode": "130102", "type": "求助", "subject": "社会保障",
                  "detail": "请问养老保险如何转移", "submitTime": 1763860500000}
QR_EXAMPLE = {"qr": "https://mqm.example.gov.cn/q/130627/0042", "content": "路灯坏了一周", "topic": "市容环境"}
HOTLINE_EXAMPLE = ("工单编号,来电时间,来电号码,区县编码,诉求类型,诉求分类,紧急程度,诉求内容\n"
                   "GD20261123001,2026-11-23 09:15:00,13812345678,130102,投诉,物业管理,加急,小区停水三天\n")
OPEN311_EXAMPLE = {"service_code": "dispute", "lat": 38.0428, "long": 114.5149, "description": "楼上装修噪音持续到深夜",
                   "attribute[topic]": "邻里纠纷"}


def _schema_of(source: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    adapter = source if isinstance(source, TypeAdapter) else TypeAdapter(source)
    schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    return schema


def region_codes() -> list[str]:
    """The enum every Hebei division code field carries in the spec."""
    return sorted(regions())


def _enumerate_regions(node: Any) -> None:
    """A 6-digit code field is checked against the division table: say so with an enum."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("pattern") in (r"^\d{6}$", r"\d{6}"):
            node["enum"] = region_codes()
        for v in node.values():
            _enumerate_regions(v)
    elif isinstance(node, list):
        for v in node:
            _enumerate_regions(v)


def _own_validation_errors(path: str, op: dict[str, Any]) -> None:
    """FastAPI documents its own 422 body; the gateway answers parameter errors with
    `ErrorBody` (native) or the spec's 400 (Open311)."""
    r = op.get("responses", {}).get("422")
    if r is None or "HTTPValidationError" not in str(r):
        return
    if path.startswith("/open311/"):
        del op["responses"]["422"]
    else:
        op["responses"]["422"] = {"description": NATIVE_MESSAGES[422], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def install(app: FastAPI, *, security: bool = True) -> None:
    """Replace `app.openapi` with a generator that adds the declared bodies and schemas."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = doc.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for path, path_item in doc.get("paths", {}).items():
            for op in path_item.values():
                _own_validation_errors(path, op)
                decl = _BODIES.get(op.pop("x-fengqiao-body", ""))
                if decl is None:
                    continue
                op.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                op["requestBody"] = {"required": decl["required"], "content": {
                    mt: {"schema": _schema_of(src, schemas),
                         **({"example": decl["examples"][mt]} if mt in decl["examples"] else {})}
                    for mt, src in decl["content"].items()}}
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        if security:
            components["securitySchemes"] = {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
        _enumerate_regions(doc)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]

