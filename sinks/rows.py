"""Pure mappings from Kafka records to ClickHouse rows (no Kafka, no ClickHouse here).

Each `map_*` function takes the raw message value (plus where it came from) and
returns either a list of `TableRow`s or a reason string (the record is bad and
belongs in the DLQ). Rows are tuples in the column order of `COLUMNS[table]`,
which must match `sinks.schema.TABLES`; the batching sink inserts them
column-oriented.

Personal data: the `events.payload` column never holds a clear name, phone or
ID number (masked by `fengqiao.privacy`: 张**, 138****5678, 130102********1234;
the sealed form is dropped), and `contacts` keeps only masked forms, the keyed hash and the
sealed (encrypted) value. Free text an officer or the streams worker wrote
(alert messages, notes, command reasons) is scrubbed of phone and ID numbers.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, NamedTuple, Union

from pydantic import TypeAdapter, ValidationError

from fengqiao import privacy
from fengqiao.contract import ContractError, parse_event, reasons_of
from fengqiao.domain.phase import Phase

BOARD_PHASES = frozenset({Phase.open, Phase.awaiting_evaluation})  # the rows `open_cases` keeps
from fengqiao.records import AlertRecord, CaseSnapshot, Command, RegionStats
from fengqiao.domain.repeat import RepeatRecord
from fengqiao.regions import is_known, prefecture_of
from sinks.schema import OPEN_CASE_COLUMNS

COLUMNS: dict[str, tuple[str, ...]] = {
    "events": (
        "event_id", "event_type", "case_id", "occurred_at", "ingested_at", "region_code",
        "prefecture_code", "channel", "actor_role", "category", "topic", "urgency", "department",
        "payload", "kafka_partition", "kafka_offset",
    ),
    "contacts": ("case_id", "name_masked", "phone_masked", "phone_hash", "sealed", "updated_at"),
    "cases": (
        "case_id", "version", "status", "phase", "sign_status", "sign_ended_at", "resolve_status",
        "resolve_ended_at", "assign_count", "resolve_met_count", "category", "topic", "urgency", "channel", "region_code",
        "prefecture_code", "department", "level", "formal_petition", "received_at", "assigned_at",
        "signed_at", "replied_at", "closed_at", "sign_due_at", "resolve_due_at",
        "calendar_estimated", "return_count", "reopen_count", "escalation_level", "first_rating",
        "last_rating", "signed_on_time", "resolved_on_time", "resolved_online", "merged_into",
        "repeat_complaint", "updated_at",
    ),
    "open_cases": OPEN_CASE_COLUMNS,
    "alerts": (
        "alert_id", "dedup_key", "version", "kind", "stage", "level", "severity", "state",
        "case_id", "case_ids", "region_code", "prefecture_code", "department", "target", "due_at",
        "raised_at", "updated_at", "acknowledged_by", "acknowledged_at", "silenced_until", "note",
        "message",
    ),
    "alert_log": (
        "alert_id", "version", "dedup_key", "state", "stage", "level", "severity", "updated_at",
        "acknowledged_by", "note", "message",
    ),
    "region_stats": (
        "region_code", "region_level", "as_of", "intake_1h", "intake_24h", "open_now",
        "overdue_now", "by_category_24h", "by_channel_24h",
    ),
    "commands": ("command_id", "type", "issued_at", "officer_id", "alert_id", "case_id", "body"),
    "repeats": ("case_id", "version", "earlier_case_id", "earlier_department", "basis", "topic", "region_code",
                "received_at", "concluded_at"),
}


class TableRow(NamedTuple):
    """One row for one table; `key` identifies it for in-process duplicate skipping.

    `key=None`: the row shares the fate of the record's previous row (a contacts
    row is a duplicate exactly when its event is)."""

    table: str
    key: Any
    row: tuple[Any, ...]


Mapped = Union[list[TableRow], str]  # rows, or the reason the record is bad

# ------------------------------------------------------------------ masking
# One scrubber for the whole project (fengqiao.privacy); re-exported for the sink and the pages.
scrub_text = privacy.scrub_text
may_carry_pii = privacy.may_carry_pii


def protected_citizen(citizen: dict[str, Any], pii_key: str) -> dict[str, Any]:
    """Masks + keyed hashes + sealed, whatever form the producers sent (idempotent)."""
    return privacy.protect_citizen(citizen, pii_key, seal_clear=True) or {}


_NO_SEALED = {"citizen": {"sealed"}}
_FREE_TEXT = ("title", "content", "result", "reason", "comment", "answer")  # what people type


def _already_protected(citizen: Any) -> bool:
    """Every contact value present is a masked form (a stray `*` in a clear number does not count)."""
    return not any(v and not privacy.is_masked(v, k) for k, v in
                   (("name", citizen.name), ("phone", citizen.phone), ("id_number", citizen.id_number)))


# ------------------------------------------------------------------ helpers
@lru_cache(maxsize=4096)
def _prefecture(code: str) -> str:
    return prefecture_of(code) if is_known(code) else code


def _text(v: Any) -> str:
    """An optional StrEnum field as its plain value."""
    return v.value if v is not None else ""


def _reason(exc: ValidationError | ContractError) -> str:
    err = exc if isinstance(exc, ContractError) else ContractError(reasons_of(exc))
    return err.bilingual()


def _empty_reason(raw: bytes | None) -> str | None:
    if raw is None:
        return "(value): empty message (tombstone) / 空消息"
    return None


# ------------------------------------------------------------------ events
def map_event(raw: bytes | None, partition: int, offset: int, now: datetime, pii_key: str = "") -> Mapped:
    """A contract event → an `events` row (+ a `contacts` row for a citizen's petition)."""
    bad = _empty_reason(raw)
    if bad:
        return bad
    try:
        ev = parse_event(raw)  # type: ignore[arg-type]
    except ContractError as exc:
        return exc.bilingual()
    p = ev.payload
    fields = p.__dict__  # plain dict: no pydantic __getattr__ for fields a type lacks
    citizen = fields.get("citizen")
    location = fields.get("location")
    dirty = any(  # a phone or ID number typed into free text (a cheap test on the text fields only)
        privacy.holds_clear_pii(v)
        for v in (*(fields.get(k) for k in _FREE_TEXT), location.address if location is not None else None)
    )
    protected: dict[str, Any] = {}
    if citizen is not None and _already_protected(citizen):  # the usual case: the producers' door masked it
        protected = {"name": citizen.name or "", "phone": citizen.phone or "",
                     "phone_hash": citizen.phone_hash or "", "sealed": citizen.sealed or ""}
    if not dirty and (citizen is None or protected):
        payload = p.model_dump_json(exclude_none=True, exclude=_NO_SEALED if citizen is not None else None)
    else:  # mask, hash and seal clear contact data here; scrub the free text
        data = p.model_dump(mode="json", exclude_none=True)
        if citizen is not None:
            protected = protected or protected_citizen(data["citizen"], pii_key)
            data["citizen"] = {k: v for k, v in protected.items() if k != "sealed"}
        for k in _FREE_TEXT:
            if k in data:
                data[k] = scrub_text(data[k])
        if "address" in data.get("location", {}):
            data["location"]["address"] = scrub_text(data["location"]["address"])
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    row = (
        ev.event_id,
        ev.event_type,
        ev.case_id,
        ev.occurred_at,
        now,
        ev.region_code,
        _prefecture(ev.region_code),
        ev.channel.value,
        ev.actor.role.value if ev.actor is not None else "",
        _text(fields.get("category")),
        fields.get("topic") or "",
        _text(fields.get("urgency")),
        fields.get("department") or "",
        payload,
        partition,
        offset,
    )
    out = [TableRow("events", ev.event_id.int, row)]  # int: hashed in C, unlike UUID
    if citizen is not None:
        out.append(TableRow("contacts", None, contact_row(ev.case_id, protected, ev.occurred_at)))
    return out


def contact_row(case_id: str, c: dict[str, Any], at: datetime) -> tuple[Any, ...]:
    """Masked forms + keyed phone hash + sealed value: never the clear name, phone or ID."""
    return (case_id, c.get("name", ""), c.get("phone", ""), c.get("phone_hash", ""), c.get("sealed", ""), at)


# ------------------------------------------------------------------ other topics
_CASE = TypeAdapter(CaseSnapshot)
_ALERT = TypeAdapter(AlertRecord)
_STATS = TypeAdapter(RegionStats)
_COMMAND: TypeAdapter[Any] = TypeAdapter(Command)


def map_case(raw: bytes | None, partition: int = 0, offset: int = 0, now: datetime | None = None) -> Mapped:
    """A `CaseSnapshot` → a `cases` row (ReplacingMergeTree(version): newest wins)."""
    if raw is None:  # a tombstone on the compacted topic: nothing to store
        return []
    try:
        c = _CASE.validate_json(raw)  # type: ignore[arg-type]
    except ValidationError as exc:
        return _reason(exc)
    # the open-cases row shares the fate of the cases row (a duplicate exactly when it is)
    return [TableRow("cases", ("case", c.case_id, c.version), case_row(c)),
            TableRow("open_cases", None, open_case_row(c))]


def case_row(c: CaseSnapshot) -> tuple[Any, ...]:
    return (
        c.case_id, c.version, c.status, c.phase.value, c.sign_status.value, c.sign_ended_at,
        c.resolve_status.value, c.resolve_ended_at, min(c.assign_count, 65535), min(c.resolve_met_count, 65535),
        c.category, c.topic, c.urgency, c.channel, c.region_code,
        c.prefecture_code or _prefecture(c.region_code), c.department, c.level, c.formal_petition,
        c.received_at, c.assigned_at, c.signed_at, c.replied_at, c.closed_at, c.sign_due_at,
        c.resolve_due_at, c.calendar_estimated, c.return_count, c.reopen_count,
        min(c.escalation_level, 255), c.first_rating, c.last_rating, c.signed_on_time,
        c.resolved_on_time, c.resolved_online, c.merged_into, c.repeat_complaint, c.updated_at,
    )


def open_case_row(c: CaseSnapshot) -> tuple[Any, ...]:
    """The wall's view of a case not yet concluded (open, or awaiting evaluation: the wall
    shows both phases, apart); a closed or merged case is marked deleted (is_deleted = 1)."""
    return (
        c.case_id, c.version, c.status, c.phase.value, c.sign_status.value, c.resolve_status.value,
        c.topic, c.urgency, c.region_code,
        c.prefecture_code or _prefecture(c.region_code), c.department, c.received_at, c.signed_at,
        c.sign_due_at, c.resolve_due_at, min(c.escalation_level, 255), c.updated_at,
        0 if c.phase in BOARD_PHASES else 1,
    )


def map_alert(raw: bytes | None, partition: int = 0, offset: int = 0, now: datetime | None = None) -> Mapped:
    """An `AlertRecord` → its current-state `alerts` row and its `alert_log` audit row."""
    bad = _empty_reason(raw)
    if bad:
        return bad
    try:
        a = _ALERT.validate_json(raw)  # type: ignore[arg-type]
    except ValidationError as exc:
        return _reason(exc)
    return [
        TableRow("alerts", ("alert", a.alert_id, a.version), alert_row(a)),
        TableRow("alert_log", None, alert_log_row(a)),
    ]


def alert_row(a: AlertRecord) -> tuple[Any, ...]:
    return (
        a.alert_id, a.dedup_key, a.version, a.kind, a.stage or "", min(a.level, 255), a.severity,
        a.state, a.case_id or "", list(a.case_ids), a.region_code, _prefecture(a.region_code),
        a.department or "", a.target or "", a.due_at, a.raised_at, a.updated_at,
        a.acknowledged_by or "", a.acknowledged_at, a.silenced_until, scrub_text(a.note),
        scrub_text(a.message),
    )


def alert_log_row(a: AlertRecord) -> tuple[Any, ...]:
    return (
        a.alert_id, a.version, a.dedup_key, a.state, a.stage or "", min(a.level, 255), a.severity,
        a.updated_at, a.acknowledged_by or "", scrub_text(a.note), scrub_text(a.message),
    )


def map_stats(raw: bytes | None, partition: int = 0, offset: int = 0, now: datetime | None = None) -> Mapped:
    """`RegionStats` → a `region_stats` row (ReplacingMergeTree(as_of): latest wins)."""
    bad = _empty_reason(raw)
    if bad:
        return bad
    try:
        s = _STATS.validate_json(raw)  # type: ignore[arg-type]
    except ValidationError as exc:
        return _reason(exc)
    return [TableRow("region_stats", ("stats", s.region_code, s.as_of), stats_row(s))]


def stats_row(s: RegionStats) -> tuple[Any, ...]:
    return (
        s.region_code, s.region_level, s.as_of, s.intake_1h, s.intake_24h, s.open_now,
        s.overdue_now, dict(s.by_category_24h), dict(s.by_channel_24h),
    )


def map_command(raw: bytes | None, partition: int = 0, offset: int = 0, now: datetime | None = None) -> Mapped:
    """An operator command → a `commands` row (the audit trail of acks, silences, reveals)."""
    bad = _empty_reason(raw)
    if bad:
        return bad
    try:
        c = _COMMAND.validate_json(raw)  # type: ignore[arg-type]
    except ValidationError as exc:
        return _reason(exc)
    return [TableRow("commands", ("command", c.command_id), command_row(c))]


def command_row(c: Any) -> tuple[Any, ...]:
    common = {"command_id", "type", "issued_at", "officer_id", "alert_id", "case_id"}
    body = {k: v for k, v in c.model_dump(mode="json", exclude_none=True).items() if k not in common}
    for k in ("note", "reason"):
        if k in body:
            body[k] = scrub_text(body[k])
    return (
        c.command_id, c.type, c.issued_at, c.officer_id, getattr(c, "alert_id", "") or "",
        getattr(c, "case_id", "") or "", json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    )


def map_repeat(raw: bytes | None, partition: int = 0, offset: int = 0, now: datetime | None = None) -> Mapped:
    """A `RepeatRecord` (a repeat petition and its earlier case) → a `repeats` row."""
    bad = _empty_reason(raw)
    if bad:
        return bad
    try:
        r = _REPEAT.validate_json(raw)  # type: ignore[arg-type]
    except ValidationError as exc:
        return _reason(exc)
    return [TableRow("repeats", ("repeat", r.case_id, r.version), (
        r.case_id, r.version, r.earlier_case_id, r.earlier_department, r.basis, r.topic, r.region_code,
        r.received_at, r.concluded_at))]


_REPEAT = TypeAdapter(RepeatRecord)

MAPPERS: dict[str, Callable[..., Mapped]] = {
    "events": map_event,
    "cases": map_case,
    "alerts": map_alert,
    "stats": map_stats,
    "commands": map_command,
    "repeats": map_repeat,
}
