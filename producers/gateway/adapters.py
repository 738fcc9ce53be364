"""Channel adapters: each channel's own shape → one `petition.received` event dict.

Pure functions (no I/O, no clock: `now` is passed in). Every adapter builds a
`PetitionForm` (the gateway's channel-friendly form) and `petition_event` turns
that into a contract event. Field errors are reported as `ContractError`
reasons with the channel's own field names, so the submitter recognises them.

Clear contact data is still present in what these return: the intake protects
it (`fengqiao.privacy.protect_citizen`) before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fengqiao import privacy
from fengqiao.contract import (Category, Channel, ContractError, Difficulty, HebeiCode, Instant, Location, Urgency, load_json,
                               reasons_of)
from fengqiao.regions import is_known
from fengqiao.vocab import SCHEMA_VERSION
from fengqiao.vocab import TZ as CST

ID_NAMESPACE = uuid.UUID("6f1c2a52-5d0e-4c1b-9d7e-4f6a3b2c1d00")
CASE_PREFIX = {"hotline": "HL", "web": "WEB", "app": "APP", "wechat": "WX", "qrcode": "QR", "window": "WIN",
               "open311": "OS", "internal": "INT"}


class CitizenIn(BaseModel):
    """Clear contact data as a channel submits it (protected at the door)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=50)
    phone: str | None = Field(default=None, max_length=32)
    id_number: str | None = Field(default=None, max_length=32)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d{5,20}", privacy.normalize_phone(v)):
            raise ValueError("not a phone number (digits only, 5-20) / 电话号码格式不正确")
        return v

    @field_validator("id_number")
    @classmethod
    def _idn(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d{17}[\dX]|\d{15}", privacy.normalize_id(v)):
            raise ValueError("not a resident ID number (18 characters) / 身份证号码格式不正确")
        return v


class PetitionForm(BaseModel):
    """`POST /v1/petitions`: a new petition; the gateway assigns case_id and event_id and stamps occurred_at."""

    model_config = ConfigDict(extra="forbid")
    region_code: HebeiCode = Field(description="6-digit Hebei division code (county or prefecture)")
    category: Category
    topic: str = Field(min_length=1, max_length=32, description="e.g. 劳资纠纷, 物业管理, 邻里纠纷")
    urgency: Urgency = Urgency.normal
    difficulty: Difficulty | None = None
    title: str = Field(min_length=1, max_length=100)
    content: str = Field(min_length=1, max_length=4000)
    citizen: CitizenIn | None = None
    location: Location | None = None
    formal_petition: bool = False
    channel: Channel | None = Field(default=None, description="defaults to the API key's channel")
    occurred_at: Instant | None = Field(default=None, description="defaults to the time of receipt")
    external_id: str | None = Field(default=None, min_length=1, max_length=64,
                                    description="the channel's own ticket number; makes re-submission idempotent")


def _form(data: dict[str, Any], rename: dict[str, str] | None = None) -> PetitionForm:
    """Validate a form dict; report errors under the channel's own field names."""
    try:
        return PetitionForm.model_validate(data)
    except ValidationError as exc:
        reasons = reasons_of(exc)
        if rename:
            for r in reasons:
                head, _, rest = r["field"].partition(".")
                if head in rename:
                    r["field"] = rename[head] + ("." + rest if rest else "")
        raise ContractError(reasons) from None


def petition_form(data: dict[str, Any]) -> PetitionForm:
    """`POST /v1/petitions`: the form as sent, errors under its own field names."""
    return _form(data)


def case_id_for(channel: str, *, scope: str | None = None) -> str:
    """A case id: deterministic from `scope` (idempotency key / external ticket) else random."""
    prefix = CASE_PREFIX.get(channel, "GW")
    if scope:
        return f"{prefix}-{hashlib.sha256(scope.encode()).hexdigest()[:24]}"
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def event_id_for(case_id: str, what: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{case_id}:{what}"))


def petition_event(form: PetitionForm, channel: str, case_id: str, now: datetime) -> dict[str, Any]:
    """The `petition.received` event dict of a validated form."""
    ch = str(form.channel or channel)
    payload: dict[str, Any] = {
        "category": str(form.category), "topic": form.topic, "urgency": str(form.urgency),
        "title": form.title, "content": form.content, "formal_petition": form.formal_petition,
    }
    if form.difficulty:
        payload["difficulty"] = str(form.difficulty)
    if form.citizen:
        c = form.citizen.model_dump(exclude_none=True)
        if c:
            payload["citizen"] = c
    if form.location:
        payload["location"] = form.location.model_dump(exclude_none=True)
    return {
        "schema_version": SCHEMA_VERSION, "event_id": event_id_for(case_id, "received"), "event_type": "petition.received",
        "case_id": case_id, "occurred_at": (form.occurred_at or now).isoformat(), "region_code": form.region_code,
        "channel": ch, "actor": {"role": "operator" if ch in ("hotline", "window") else "citizen",
                                  "id": f"gateway:{ch}"},
        "payload": payload,
    }


# ---------------------------------------------------------------- shared vocab
CATEGORY_ZH = {"咨询": "consult", "求助": "help", "解纷": "dispute", "纠纷": "dispute", "调解": "dispute",
               "举报": "report", "投诉": "complaint", "建议": "suggestion"}
URGENCY_ZH = {"特急": "urgent", "紧急": "urgent", "加急": "pressing", "较急": "pressing", "急": "pressing",
              "一般": "normal", "普通": "normal", "": "normal"}


def _category(v: Any) -> Any:
    return CATEGORY_ZH.get(str(v).strip(), str(v).strip()) if v is not None else None


def _urgency(v: Any) -> Any:
    return URGENCY_ZH.get(str(v).strip(), str(v).strip()) if v is not None else "normal"


def _local_time(v: Any) -> Any:
    """Channel timestamps without offset are local (Asia/Shanghai) by the channel's definition."""
    if v in (None, ""):
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):  # epoch milliseconds
        try:
            return datetime.fromtimestamp(v / 1000, CST)
        except (OverflowError, OSError, ValueError):
            return str(v)  # far outside any calendar: let the form report it
    s = str(v).strip().replace("/", "-")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return s  # let the form report it
    return dt if dt.tzinfo else dt.replace(tzinfo=CST)


def _opt_location(lat: Any, lon: Any, address: Any) -> dict[str, Any] | None:
    if lat in (None, "") or lon in (None, ""):
        return None
    loc: dict[str, Any] = {"lat": lat, "lon": lon}
    if address:
        loc["address"] = str(address)[:200]
    return loc


def _citizen(name: Any, phone: Any, idn: Any) -> dict[str, Any] | None:
    c = {k: str(v).strip() for k, v in (("name", name), ("phone", phone), ("id_number", idn)) if v not in (None, "")}
    return c or None


# ---------------------------------------------------------------- hotline batch export
# The 12345 hotline system's export columns (its own names) → form fields.
HOTLINE_COLUMNS = {
    "工单编号": "external_id", "来电时间": "occurred_at", "来电号码": "phone", "来电人": "name",
    "身份证号": "id_number", "区县编码": "region_code", "诉求类型": "category", "诉求分类": "topic",
    "紧急程度": "urgency", "标题": "title", "诉求内容": "content", "地址": "address", "经度": "lon", "纬度": "lat",
}
_HOTLINE_RENAME = {"external_id": "工单编号", "occurred_at": "来电时间", "region_code": "区县编码",
                   "category": "诉求类型", "topic": "诉求分类", "urgency": "紧急程度", "title": "标题",
                   "content": "诉求内容", "citizen": "来电号码/来电人/身份证号", "location": "经度/纬度"}


def parse_hotline_export(body: bytes, fmt: str) -> list[dict[str, Any]]:
    """Rows of a hotline export: `fmt` = "csv" (UTF-8, optional BOM, header row) or "jsonl"."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ContractError([{"field": "(body)", "en": "not UTF-8 text", "zh": "不是 UTF-8 文本", "type": "utf8"}]) from None
    if fmt == "csv":
        try:
            rows = list(csv.DictReader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise ContractError([{"field": "(csv)", "en": f"malformed CSV: {exc}", "zh": "CSV 格式错误", "type": "csv"}]) from None
        unknown = [str(c) for c in (rows[0].keys() if rows else []) if c not in HOTLINE_COLUMNS]
        if unknown:
            raise ContractError([{"field": f"(header).{c}", "en": "unknown column", "zh": "未知的列名", "type": "extra_forbidden"}
                                 for c in unknown])
        return [dict(r) for r in rows]
    rows = []
    reasons = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            obj = load_json(line)
        except ContractError as exc:
            reasons += [{**r, "field": f"line {i + 1}"} for r in exc.reasons]
            continue
        if not isinstance(obj, dict):
            reasons.append({"field": f"line {i + 1}", "en": "not a JSON object", "zh": "应为 JSON 对象", "type": "dict_type"})
            continue
        rows.append(obj)
    if reasons:
        raise ContractError(reasons)
    return rows


def hotline_row_form(row: dict[str, Any]) -> PetitionForm:
    """One hotline export row → PetitionForm (errors name the hotline's columns)."""
    unknown = [str(k) for k in row if k not in HOTLINE_COLUMNS]
    if unknown:
        raise ContractError([{"field": k, "en": "unknown column", "zh": "未知的列名", "type": "extra_forbidden"} for k in unknown])
    g = {HOTLINE_COLUMNS[k]: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
    content = g.get("content") or None
    short = content[:30] if isinstance(content, str) else None
    data: dict[str, Any] = {
        "external_id": g.get("external_id") or None, "occurred_at": _local_time(g.get("occurred_at")),
        "region_code": g.get("region_code"), "category": _category(g.get("category")), "topic": g.get("topic"),
        "urgency": _urgency(g.get("urgency")), "title": g.get("title") or short,
        "content": content, "channel": "hotline",
    }
    cit = _citizen(g.get("name"), g.get("phone"), g.get("id_number"))
    if cit:
        data["citizen"] = cit
    loc = _opt_location(g.get("lat"), g.get("lon"), g.get("address"))
    if loc:
        data["location"] = loc
    elif g.get("address") and isinstance(content, str):
        data["content"] = f"{content}（地址：{g['address']}）"[:4000]
    if not data["external_id"]:
        raise ContractError([{"field": "工单编号", "en": "Field required", "zh": "缺少必填字段", "type": "missing"}])
    return _form({k: v for k, v in data.items() if v is not None}, _HOTLINE_RENAME)


# ---------------------------------------------------------------- WeChat mini-program / app
class WechatForm(BaseModel):
    """What the WeChat mini-program and the app post (camelCase, epoch milliseconds)."""

    model_config = ConfigDict(extra="forbid")
    openid: str | None = Field(default=None, max_length=128)
    realName: str | None = Field(default=None, max_length=50)
    mobile: str | None = Field(default=None, max_length=32)
    idCard: str | None = Field(default=None, max_length=32)
    areaCode: str
    type: str = Field(description="诉求类型: 咨询/求助/解纷/举报/投诉/建议 or the English category")
    subject: str = Field(description="诉求分类 (topic), e.g. 物业管理")
    title: str | None = None
    detail: str
    urgent: bool = False
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    submitTime: int | None = Field(default=None, ge=0, le=4_102_444_800_000, description="epoch milliseconds")
    clientRequestId: str | None = Field(default=None, max_length=64)


_WX_RENAME = {"region_code": "areaCode", "category": "type", "topic": "subject", "title": "title",
              "content": "detail", "citizen": "mobile/realName/idCard", "location": "latitude/longitude",
              "occurred_at": "submitTime", "external_id": "clientRequestId"}


def wechat_form(body: dict[str, Any], channel: str) -> PetitionForm:
    try:
        w = WechatForm.model_validate(body)
    except ValidationError as exc:
        raise ContractError(reasons_of(exc)) from None
    data: dict[str, Any] = {
        "region_code": w.areaCode, "category": _category(w.type), "topic": w.subject,
        "urgency": "pressing" if w.urgent else "normal", "title": w.title or w.detail[:30], "content": w.detail,
        "channel": channel, "occurred_at": _local_time(w.submitTime), "external_id": w.clientRequestId,
        "citizen": _citizen(w.realName, w.mobile, w.idCard),
        "location": _opt_location(w.latitude, w.longitude, w.address),
    }
    return _form({k: v for k, v in data.items() if v is not None}, _WX_RENAME)


# ---------------------------------------------------------------- 民情码 QR sticker
class QrForm(BaseModel):
    """A scan of a 民情码 sticker: the region comes from the code printed on it."""

    model_config = ConfigDict(extra="forbid")
    qr: str = Field(min_length=1, max_length=300, description="the scanned code, e.g. https://mqm.example.gov.cn/q/130627/0042 or MQM-130627-0042")
    content: str
    title: str | None = None
    category: str = "help"
    topic: str = "其他"
    name: str | None = None
    phone: str | None = None
    urgent: bool = False


_QR_RE = re.compile(r"(?<!\d)(13\d{4})(?!\d)")


def region_from_qr(qr: str) -> str | None:
    """The Hebei code printed in a 民情码 (first known 6-digit 13xxxx group)."""
    for m in _QR_RE.finditer(qr):
        if is_known(m.group(1)):
            return m.group(1)
    return None


def qrcode_form(body: dict[str, Any]) -> PetitionForm:
    try:
        q = QrForm.model_validate(body)
    except ValidationError as exc:
        raise ContractError(reasons_of(exc)) from None
    region = region_from_qr(q.qr)
    if region is None:
        raise ContractError([{"field": "qr", "en": "the code carries no known Hebei region code",
                              "zh": "民情码中没有有效的河北行政区划代码", "type": "value_error"}])
    data: dict[str, Any] = {
        "region_code": region, "category": _category(q.category), "topic": q.topic,
        "urgency": "pressing" if q.urgent else "normal", "title": q.title or q.content[:30], "content": q.content,
        "channel": "qrcode", "citizen": _citizen(q.name, q.phone, None),
    }
    return _form({k: v for k, v in data.items() if v is not None}, {"citizen": "name/phone"})
