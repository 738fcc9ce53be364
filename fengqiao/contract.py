"""The wire contract, version 1 (DESIGN.md section 3), as strict pydantic v2 models.

`parse_event(raw)` turns bytes/str/dict into one of the event models (a
discriminated union on `event_type`) or raises `ContractError`, whose
`reasons` name each field at fault in English and Chinese.

Beyond field types the contract bounds what a hostile or broken producer can
send (`Limits`): every instant lies in a window (default 2000-01-01 to now + 1
day: hotline exports carry 0001-01-01 and 9999-12-31, which overflow date
arithmetic downstream), JSON text is at most 64 KiB and 32 levels deep. The
limits are injected, never read from the environment: `configure` sets the
process default (the CLI does, from `Settings.contract`), `limits_in_effect`
overrides them for a block.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Any, Callable, Iterator, Literal, Union
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
from pydantic_core import PydanticCustomError

from fengqiao.regions import is_known
from fengqiao.vocab import SCHEMA_VERSION, TZ, Level  # noqa: F401 - Level, SCHEMA_VERSION: re-exported, defined there


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Limits:
    """What the contract accepts beyond field types: the window of instants, JSON size and depth."""

    earliest: datetime = datetime(2000, 1, 1, tzinfo=TZ)
    ahead: timedelta = timedelta(days=1)  # latest = clock() + ahead
    max_bytes: int = 64 * 1024
    max_depth: int = 32
    clock: Callable[[], datetime] = field(default=_utc_now, compare=False)
    _earliest_ts: float = field(init=False, repr=False, compare=False, default=0.0)
    _ahead_s: float = field(init=False, repr=False, compare=False, default=0.0)

    def __post_init__(self) -> None:  # the check runs on every event: compare plain seconds
        object.__setattr__(self, "_earliest_ts", self.earliest.timestamp())
        object.__setattr__(self, "_ahead_s", self.ahead.total_seconds())

    def latest(self) -> datetime:
        return self.clock() + self.ahead

    def admits(self, v: datetime) -> bool:
        try:
            ts = v.timestamp()
        except (OverflowError, ValueError):  # an offset that pushes year 1 / 9999 out of range
            return False
        return self._earliest_ts <= ts <= self.clock().timestamp() + self._ahead_s


_default_limits = Limits()
_scoped_limits: ContextVar[Limits | None] = ContextVar("fengqiao_contract_limits", default=None)


def configure(limits: Limits) -> None:
    """Set the process-wide limits (the composition root calls this once, from settings)."""
    global _default_limits
    _default_limits = limits


def current_limits() -> Limits:
    return _scoped_limits.get() or _default_limits


@contextmanager
def limits_in_effect(limits: Limits) -> Iterator[Limits]:
    """Other limits for the block (tests, a backfill importing older history)."""
    token = _scoped_limits.set(limits)
    try:
        yield limits
    finally:
        _scoped_limits.reset(token)


def _in_window(v: datetime) -> datetime:
    lim = current_limits()
    if not lim.admits(v):
        raise PydanticCustomError(
            "instant_window", "instant outside the allowed window {earliest} .. {latest}",
            {"earliest": lim.earliest.isoformat(), "latest": lim.latest().isoformat(timespec="seconds")})
    return v


def _window_schema(schema: dict[str, Any]) -> None:
    """The window in the JSON schema (OpenAPI), as the limits in effect when it is generated."""
    lim = current_limits()
    ahead = int(lim.ahead.total_seconds())
    schema["description"] = (f"RFC 3339 with offset, from {lim.earliest.isoformat()} to now + {ahead} s / "
                             f"带时区偏移的时间，{lim.earliest.date()} 至当前时间后 {ahead} 秒")
    schema["x-window"] = {"earliest": lim.earliest.isoformat(), "ahead_seconds": ahead}


Instant = Annotated[AwareDatetime, AfterValidator(_in_window), Field(json_schema_extra=_window_schema)]
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
    the encrypted clear values (see `fengqiao.privacy`); `track_token` the keyed hash of
    (case id, the phone's last four digits) a citizen's tracking request is checked against."""

    name: Text100 | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    id_number: Annotated[str, StringConstraints(max_length=32)] | None = None
    phone_hash: Annotated[str, StringConstraints(max_length=128)] | None = None
    id_hash: Annotated[str, StringConstraints(max_length=128)] | None = None
    sealed: Annotated[str, StringConstraints(max_length=2048)] | None = None
    track_token: Annotated[str, StringConstraints(max_length=64)] | None = None


class Location(Strict):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
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
    note: Text200 | None = None  # the dispatcher's word to the department (a rejected return's reason)


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
    occurred_at: Instant
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
    "finite_number": "应为有限数字",
    "int_from_float": "应为整数",
    "bool_type": "应为布尔值",
    "int_type": "应为整数",
    "float_type": "应为数字",
    "instant_window": "时间超出允许范围（{earliest} 至 {latest}）",
    "json_too_large": "JSON 过大（最多 {max_bytes} 字节）",
    "json_too_deep": "JSON 嵌套过深（最多 {max_depth} 层）",
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
        if typ in ("union_tag_invalid", "union_tag_not_found"):  # event_type, or a command's type
            loc = [str((e.get("ctx") or {}).get("discriminator", "event_type")).strip("'")]
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
        if typ == "instant_window":
            zh = zh.format(**ctx)
        if typ in ("literal_error", "enum") and "expected" in ctx:
            zh += f"（允许：{ctx['expected']}）"
        out.append({"field": field, "en": en, "zh": zh, "type": typ})
    return out


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(data: bytes) -> int:
    """Nesting depth of JSON text, brackets inside strings not counted (no parsing, no recursion)."""
    depth = top = 0
    for c in _STRING.sub(b"", data).translate(None, _NOT_BRACKET):
        depth += 1 if c in b"[{" else -1
        top = max(top, depth)
    return top


def check_json_bounds(raw: bytes | str, max_bytes: int | None = None, max_depth: int | None = None) -> bytes:
    """The raw text as bytes, or `ContractError` when it is too large or too deeply nested."""
    lim = current_limits()
    max_bytes = lim.max_bytes if max_bytes is None else max_bytes
    max_depth = lim.max_depth if max_depth is None else max_depth
    if isinstance(raw, str):
        if len(raw) > max_bytes:  # each character is at least one byte: no need to encode a huge text
            raise _bound_error("json_too_large", max_bytes=max_bytes)
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > max_bytes:
        raise _bound_error("json_too_large", max_bytes=max_bytes)
    if raw.count(b"[") + raw.count(b"{") > max_depth and json_depth(raw) > max_depth:
        raise _bound_error("json_too_deep", max_depth=max_depth)
    return raw


def _bound_error(typ: str, **ctx: int) -> ContractError:
    what = "larger than {max_bytes} bytes" if typ == "json_too_large" else "nested deeper than {max_depth} levels"
    return ContractError([{"field": "(event)", "en": f"JSON {what.format(**ctx)}", "zh": _ZH[typ].format(**ctx),
                           "type": typ}])


_NOT_UTF8 = {"field": "(bytes)", "en": "not UTF-8", "zh": "不是 UTF-8 编码", "type": "utf8"}


def load_json(raw: bytes | str, max_bytes: int | None = None, max_depth: int | None = None) -> Any:
    """`json.loads` within the limits: a bounded, clean `ContractError` for any hostile text
    (too large, too deep, integers beyond Python's digit limit, not UTF-8, not JSON)."""
    data = check_json_bounds(raw, max_bytes, max_depth)
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise ContractError([dict(_NOT_UTF8)]) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int max_str_digits
        raise ContractError([{"field": "(event)", "en": f"not valid JSON: {str(exc)[:200]}",
                              "zh": _ZH["json_invalid"], "type": "json_invalid"}]) from None


def parse_event(raw: bytes | str | dict[str, Any] | None) -> Event:
    """Validate one event; raise `ContractError` naming every field at fault."""
    if raw is None or raw == b"" or raw == "":
        raise ContractError([{"field": "(event)", "en": "empty message (tombstone)", "zh": "空消息", "type": "empty"}])
    try:
        if isinstance(raw, dict):
            return EVENT_ADAPTER.validate_python(raw)
        return EVENT_ADAPTER.validate_json(check_json_bounds(raw))
    except ValidationError as exc:
        raise ContractError(reasons_of(exc)) from None
    except UnicodeError:
        raise ContractError([dict(_NOT_UTF8)]) from None


def event_json_schema() -> dict[str, Any]:
    return EVENT_ADAPTER.json_schema()


def to_json_dict(event: Envelope) -> dict[str, Any]:
    return json.loads(event.to_json())


def local_iso(dt: datetime) -> str:
    return dt.isoformat()
