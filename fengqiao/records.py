"""Records other than the event envelope: alerts, commands, stats, case snapshots, DLQ.

Alert records, commands and the DLQ record follow DESIGN.md section 3. Two
additions to the contract, both written by the streams worker:

* `petitions.cases` (key `case_id`, compacted): a `CaseSnapshot` after every
  applied event, so the ClickHouse `cases` table holds the domain's own view
  (due instants, counters) instead of re-deriving the lifecycle in SQL.
  `version` is the count of events applied to the case, which makes the
  ReplacingMergeTree row replacement idempotent.
* `petitions.stats` carries `RegionStats` records (key: region code).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fengqiao.contract import CaseId, Instant
from fengqiao.vocab import Level
from fengqiao.domain.phase import Phase, TargetStatus, legacy_judgement


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


AlertKind = Literal["sla", "hotspot", "class_case", "heartbeat"]  # vocab.ALERT_KINDS
AlertStage = Literal["reminder", "warning", "overdue", "escalation"]
Severity = Literal["info", "warning", "critical"]
AlertState = Literal["firing", "acknowledged", "resolved", "silenced"]


class AlertRecord(Record):
    """One state of one alert; every change is published as a new record."""

    alert_id: str
    dedup_key: str
    kind: AlertKind
    stage: AlertStage | None = None
    level: int = 0
    severity: Severity
    state: AlertState
    case_id: str | None = None
    case_ids: list[str] = Field(default_factory=list)  # hotspot / class-case members
    region_code: str
    department: str | None = None
    target: Literal["sign", "resolve"] | None = None
    due_at: AwareDatetime | None = None
    raised_at: AwareDatetime
    updated_at: AwareDatetime
    acknowledged_by: str | None = None
    acknowledged_at: AwareDatetime | None = None
    silenced_until: AwareDatetime | None = None
    note: str | None = None
    message: str
    version: int = 1  # increases with every change of this alert


class CommandBase(Record):
    command_id: UUID
    issued_at: Instant  # the contract's window: 0001-01-01 / 9999-12-31 are refused
    officer_id: str = Field(min_length=1, max_length=100)


class AcknowledgeCommand(CommandBase):
    type: Literal["alert.acknowledge"]
    alert_id: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=500)


class SilenceCommand(CommandBase):
    type: Literal["alert.silence"]
    alert_id: str = Field(min_length=1, max_length=200)
    until: AwareDatetime
    reason: str = Field(min_length=1, max_length=500)


class EscalateCommand(CommandBase):
    type: Literal["case.escalate"]
    case_id: CaseId
    to_level: Level
    reason: str = Field(min_length=1, max_length=500)


class RevealCommand(CommandBase):
    """Audit record: an officer revealed one case's contact data."""

    type: Literal["case.reveal_contact"]
    case_id: CaseId
    reason: str = Field(min_length=1, max_length=500)


class ExtensionRequestCommand(CommandBase):
    """Workflow record: a department asks for more time on a case (申请延期); only a dispatcher's
    approval sends the contract's `case.extended`. `extensions_before` is the case's extension count
    when asked, so an approval after the case was extended again is refused as stale."""

    type: Literal["case.request_extension"]
    case_id: CaseId
    department: str = Field(min_length=1, max_length=100)
    days: int = Field(ge=1, le=30)  # as `case.extended.days`
    reason: str = Field(min_length=1, max_length=200)  # as `case.extended.reason`
    extensions_before: int = Field(0, ge=0)


class ExtensionDecisionCommand(CommandBase):
    """Workflow record: a dispatcher's decision on one extension request (延期审批); a rejection says why.
    An approval names the `case.extended` event it sent."""

    type: Literal["case.decide_extension"]
    case_id: CaseId
    request_id: UUID
    approved: bool
    reason: str = Field("", max_length=200)
    event_id: UUID | None = None

    @model_validator(mode="after")
    def _rejection_says_why(self) -> "ExtensionDecisionCommand":
        if not self.approved and not self.reason.strip():
            raise ValueError("a rejected extension request needs a reason / 驳回延期申请须填写理由")
        return self


Command = Annotated[
    Union[AcknowledgeCommand, SilenceCommand, EscalateCommand, RevealCommand, ExtensionRequestCommand,
          ExtensionDecisionCommand],
    Field(discriminator="type"),
]


class CaseSnapshot(Record):
    """The current state of one case as the streams worker sees it, with the domain's
    judgement written down (`fengqiao.domain.phase`): the phase, and each target's status
    with its due and end instants, so readers count instead of re-deriving the lifecycle.
    A snapshot written before those fields existed gets them from `legacy_judgement`."""

    case_id: str
    version: int
    status: str
    phase: Phase
    sign_status: TargetStatus = TargetStatus.none
    sign_ended_at: AwareDatetime | None = None  # when the current sign round was met or dropped
    resolve_status: TargetStatus = TargetStatus.none
    resolve_ended_at: AwareDatetime | None = None  # when the current resolve round was met or dropped
    assign_count: int = 0
    resolve_met_count: int = 0  # resolve rounds met (a re-opened case was met at least once)
    category: str = ""
    topic: str = ""
    urgency: str = ""
    channel: str = ""
    region_code: str
    prefecture_code: str
    department: str = ""
    level: str = ""
    formal_petition: bool = False
    received_at: AwareDatetime | None = None
    assigned_at: AwareDatetime | None = None
    signed_at: AwareDatetime | None = None
    replied_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    sign_due_at: AwareDatetime | None = None
    resolve_due_at: AwareDatetime | None = None
    calendar_estimated: bool = False
    return_count: int = 0
    reopen_count: int = 0
    extension_count: int = 0  # extensions granted (the policy limits them: `lifecycle._extended`)
    escalation_level: int = 0
    first_rating: str = ""
    last_rating: str = ""
    signed_on_time: bool | None = None
    resolved_on_time: bool | None = None
    resolved_online: bool = False
    merged_into: str = ""
    repeat_complaint: bool = False
    updated_at: AwareDatetime

    @model_validator(mode="before")
    @classmethod
    def _judged(cls, data: Any) -> Any:
        return legacy_judgement(data) if isinstance(data, dict) and "phase" not in data else data


class RegionStats(Record):
    """Rolling counts for one region (prefecture or county) at `as_of`."""

    region_code: str
    region_level: Literal["province", "prefecture", "county"]
    as_of: AwareDatetime
    intake_1h: int
    intake_24h: int
    open_now: int
    overdue_now: int
    by_category_24h: dict[str, int] = Field(default_factory=dict)
    by_channel_24h: dict[str, int] = Field(default_factory=dict)


class DeadLetter(Record):
    """What `petitions.dlq` carries: the rejected bytes and why."""

    source: str
    received_at: AwareDatetime
    error: str
    raw: str
    raw_encoding: Literal["text", "base64", "sealed"] = "text"  # sealed: Fernet token (contact data inside)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @classmethod
    def of(cls, source: str, raw: bytes | None, error: str, at: datetime, **where: Any) -> "DeadLetter":
        data = raw or b""
        try:
            text, enc = data.decode("utf-8"), "text"
        except UnicodeDecodeError:
            text, enc = base64.b64encode(data).decode(), "base64"
        return cls(source=source, received_at=at, error=error, raw=text, raw_encoding=enc, **where)

    @classmethod
    def sealed_of(cls, source: str, raw: bytes, error: str, at: datetime, secret: str, **where: Any) -> "DeadLetter":
        """A dead letter whose raw bytes may hold clear contact data: kept, but encrypted."""
        from fengqiao.privacy import seal

        token = seal({"raw_b64": base64.b64encode(raw).decode()}, secret)
        return cls(source=source, received_at=at, error=error, raw=token, raw_encoding="sealed", **where)

    def raw_bytes(self, secret: str | None = None) -> bytes:
        if self.raw_encoding == "sealed":
            if secret is None:
                raise ValueError("sealed dead letter: the PII key is needed / 密封的死信需要密钥")
            from fengqiao.privacy import unseal

            return base64.b64decode(unseal(self.raw, secret)["raw_b64"])
        return base64.b64decode(self.raw) if self.raw_encoding == "base64" else self.raw.encode()
