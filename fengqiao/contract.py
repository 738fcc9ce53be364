"""The wire contract, version 1 (DESIGN.md section 3), as strict pydantic v2 models.

`parse_event(raw)` turns bytes/str/dict into one of the event models (a
discriminated union on `event_type`) or raises `ContractError`, whose
`reasons` name each field at fault in English and Chinese.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from fengqiao.regions import is_known

SCHEMA_VERSION = 1
CaseId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text4000 = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


def _in_hebei(v: str) -> str:
    if not is_known(v):
        raise ValueError(f"region code {v} is not in the Hebei division table")
    return v


HebeiCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$"), AfterValidator(_in_hebei)]


class Channel(StrEnum):
    hotline = "hotline"
    web = "web"
    app = "app"
    wechat = "wechat"
    qrcode = "qrcode"
    window = "window"
    open311 = "open311"
    internal = "internal"


class Category(StrEnum):
    consult = "consult"
    help = "help"
    dispute = "dispute"
    report = "report"
    complaint = "complaint"
    suggestion = "suggestion"


class Urgency(StrEnum):
    urgent = "urgent"
    pressing = "pressing"
    normal = "normal"


class Difficulty(StrEnum):
    simple = "simple"
    moderate = "moderate"
    complex = "complex"


class Level(StrEnum):
    village = "village"
    township = "township"
    county = "county"
    city = "city"
    province = "province"


class Rating(StrEnum):
    satisfied = "satisfied"
    basically_satisfied = "basically_satisfied"
    dissatisfied = "dissatisfied"


class ActorRole(StrEnum):
    citizen = "citizen"
    operator = "operator"
    department = "department"
    platform = "platform"


class Strict(BaseModel):
    """Unknown fields are rejected everywhere in the contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(Strict):
    role: ActorRole
    id: Text100
    name: Text100 | None = None


class Citizen(Strict):
    """Contact data. On the wire only masked forms travel (张**, 138****5678);
    `phone_hash`/`id_hash` are keyed hashes for duplicate matching and `sealed`
    the encrypted clear values (see `fengqiao.privacy`)."""

    name: Text100 | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    id_number: Annotated[str, StringConstraints(max_length=32)] | None = None
    phone_hash: Annotated[str, StringConstraints(max_length=128)] | None = None
    id_hash: Annotated[str, StringConstraints(max_length=128)] | None = None
    sealed: Annotated[str, StringConstraints(max_length=2048)] | None = None


class Location(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: Text200 | None = None


class PetitionReceivedPayload(Strict):
    category: Category
    topic: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    urgency: Urgency
    difficulty: Difficulty | None = None
    title: Text100
    content: Text4000
    citizen: Citizen | None = None
    location: Location | None = None
    formal_petition: bool = False


class CaseAssignedPayload(Strict):
    department: Text100
    level: Level


class CaseSignedPayload(Strict):
    department: Text100


class CaseReturnedPayload(Strict):
    department: Text100
    reason: Text200


class CaseRepliedPayload(Strict):
    department: Text100
    result: Text4000
    resolved: bool


class CaseExtendedPayload(Strict):
    days: int = Field(ge=1, le=30)
    reason: Text200
    approved_by: Text100


class CaseEvaluatedPayload(Strict):
    rating: Rating
    comment: Annotated[str, StringConstraints(max_length=1000)] | None = None


class CaseCallbackPayload(Strict):
    reached: bool
    rating: Rating | None = None


class CaseEscalatedPayload(Strict):
    to_level: Level
    reason: Text200


class CaseResolvedOnlinePayload(Strict):
    answer: Text4000


class CaseMergedPayload(Strict):
    into_case_id: CaseId


class CaseArchivedPayload(Strict):
    pass


class Envelope(Strict):
    """Fields every event carries."""

    schema_version: Literal[1]
    event_id: UUID
    case_id: CaseId
    occurred_at: AwareDatetime
    region_code: HebeiCode
    channel: Channel
    actor: Actor | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    def key(self) -> bytes:
        return self.case_id.encode()


class PetitionReceived(Envelope):
    event_type: Literal["petition.received"]
    payload: PetitionReceivedPayload


class CaseAssigned(Envelope):
    event_type: Literal["case.assigned"]
    payload: CaseAssignedPayload


class CaseSigned(Envelope):
    event_type: Literal["case.signed"]
    payload: CaseSignedPayload


class CaseReturned(Envelope):
    event_type: Literal["case.returned"]
    payload: CaseReturnedPayload


class CaseReplied(Envelope):
    event_type: Literal["case.replied"]
    payload: CaseRepliedPayload


class CaseExtended(Envelope):
    event_type: Literal["case.extended"]
    payload: CaseExtendedPayload


class CaseEvaluated(Envelope):
    event_type: Literal["case.evaluated"]
    payload: CaseEvaluatedPayload


class CaseCallback(Envelope):
    event_type: Literal["case.callback"]
    payload: CaseCallbackPayload


class CaseEscalated(Envelope):
    event_type: Literal["case.escalated"]
    payload: CaseEscalatedPayload


class CaseResolvedOnline(Envelope):
    event_type: Literal["case.resolved_online"]
    payload: CaseResolvedOnlinePayload


class CaseMerged(Envelope):
    event_type: Literal["case.merged"]
    payload: CaseMergedPayload


class CaseArchived(Envelope):
    event_type: Literal["case.archived"]
    payload: CaseArchivedPayload


Event = Annotated[
    Union[
        PetitionReceived,
        CaseAssigned,
        CaseSigned,
        CaseReturned,
        CaseReplied,
        CaseExtended,
        CaseEvaluated,
        CaseCallback,
        CaseEscalated,
        CaseResolvedOnline,
        CaseMerged,
        CaseArchived,
    ],
    Field(discriminator="event_type"),
]
EVENT_TYPES: tuple[str, ...] = (
    "petition.received",
    "case.assigned",
    "case.signed",
    "case.returned",
    "case.replied",
    "case.extended",
    "case.evaluated",
    "case.callback",
    "case.escalated",
    "case.resolved_online",
    "case.merged",
    "case.archived",
)
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

# zh-CN wording for the pydantic error types a person is likely to meet.
_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的未知字段",
    "string_too_long": "文本过长",
    "string_too_short": "文本不能为空",
    "string_pattern_mismatch": "格式不正确",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "union_tag_invalid": "未知的事件类型",
    "union_tag_not_found": "缺少事件类型 event_type",
    "timezone_aware": "时间必须带时区偏移（如 +08:00）",
    "datetime_parsing": "不是合法的 RFC 3339 时间",
    "datetime_from_date_parsing": "不是合法的 RFC 3339 时间",
    "uuid_parsing": "不是合法的 UUID",
    "uuid_type": "不是合法的 UUID",
    "json_invalid": "不是合法的 JSON",
    "value_error": "取值无效",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "int_parsing": "应为整数",
    "bool_parsing": "应为布尔值",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "string_type": "应为字符串",
    "float_parsing": "应为数字",
}


class ContractError(ValueError):
    """An input that breaks the contract; `reasons` name each field at fault."""

    def __init__(self, reasons: list[dict[str, str]]):
        self.reasons = reasons
        super().__init__("; ".join(f"{r['field']}: {r['en']}" for r in reasons))

    def zh(self) -> str:
        return "；".join(f"{r['field']}：{r['zh']}" for r in self.reasons)

    def bilingual(self) -> str:
        return "; ".join(f"{r['field']}: {r['en']} / {r['zh']}" for r in self.reasons)


def reasons_of(exc: ValidationError) -> list[dict[str, str]]:
    """Flatten pydantic errors to `{field, en, zh, type}` dicts."""
    out = []
    for e in exc.errors(include_url=False):
        loc = [str(p) for p in e["loc"]]
        # drop the union tag pydantic inserts for discriminated unions
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        typ = e["type"]
        if typ in ("union_tag_invalid", "union_tag_not_found"):
            loc = ["event_type"]
        field = ".".join(loc) or "(event)"
        en = e["msg"]
        zh = _ZH.get(typ, "取值无效")
        ctx = e.get("ctx") or {}
        if typ == "string_too_long" and "max_length" in ctx:
            zh += f"（最多 {ctx['max_length']} 字）"
        if typ == "value_error" and "error" in ctx:
            zh = f"取值无效：{ctx['error']}"
            if "Hebei" in str(ctx["error"]):
                zh = "行政区划代码不在河北省区划表中"
        if typ in ("literal_error", "enum") and "expected" in ctx:
            zh += f"（允许：{ctx['expected']}）"
        out.append({"field": field, "en": en, "zh": zh, "type": typ})
    return out


def parse_event(raw: bytes | str | dict[str, Any]) -> Event:
    """Validate one event; raise `ContractError` naming every field at fault."""
    try:
        if isinstance(raw, dict):
            return EVENT_ADAPTER.validate_python(raw)
        return EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise ContractError(reasons_of(exc)) from None
    except UnicodeDecodeError as exc:
        raise ContractError([{"field": "(bytes)", "en": f"not UTF-8: {exc}", "zh": "不是 UTF-8 编码", "type": "utf8"}]) from None


def event_json_schema() -> dict[str, Any]:
    return EVENT_ADAPTER.json_schema()


def to_json_dict(event: Envelope) -> dict[str, Any]:
    return json.loads(event.to_json())


def local_iso(dt: datetime) -> str:
    return dt.isoformat()
