"""The alert state machine (DESIGN.md section 4, "Alerts"), typed and pure.

States: firing -> acknowledged -> resolved, and silenced until an instant (then firing
again). An unacknowledged critical alert re-notifies every `renotify` (15 min by default);
an acknowledgement stops that, not the case's escalation ladder. Every change is a new
`Alert` with `version + 1` (the audit trail); `alert_id` is `uuid5(dedup_key)`, so a stage
re-fired after a crash carries the same id and version and idempotent consumers keep one.

An `AlertSlot` is what a case (or a region) keeps per `dedup_key`: the alert, when it
re-notifies next, and which target round raised it. A slot without an alert marks a stage
that was superseded before it was raised (a late event skipped it): the key is spent, so
each stage fires at most once per `dedup_key`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from fengqiao.regions import name_of
from fengqiao.vocab import LEVEL_ZH, STAGE_ZH, TARGET_ZH

NAMESPACE = uuid.UUID("6f1c2b1e-3d4a-5b6c-8d9e-0a1b2c3d4e5f")
RENOTIFY = timedelta(minutes=15)
OVERDUE_STAGES = frozenset({"overdue", "escalation"})


def alert_id_for(dedup_key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, dedup_key))


@dataclass(frozen=True, slots=True)
class Alert:
    """One state of one alert; `fengqiao.records.AlertRecord` is its wire form."""

    alert_id: str
    dedup_key: str
    kind: str  # sla | hotspot | class_case
    severity: str  # info | warning | critical
    state: str  # firing | acknowledged | resolved | silenced
    region_code: str
    raised_at: datetime
    updated_at: datetime
    message: str
    stage: str | None = None
    level: int = 0
    case_id: str | None = None
    case_ids: tuple[str, ...] = ()
    department: str | None = None
    target: str | None = None
    due_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    silenced_until: datetime | None = None
    note: str | None = None
    version: int = 1

    @property
    def active(self) -> bool:
        return self.state != "resolved"

    def changed(self, now: datetime, **fields: Any) -> "Alert":
        """The next version (the audit trail: every change is a new record)."""
        return replace(self, **fields, version=self.version + 1, updated_at=now)


@dataclass(frozen=True, slots=True)
class AlertCommand:
    """An officer's acknowledge / silence of one alert (already validated at the door)."""

    kind: str  # alert.acknowledge | alert.silence
    alert_id: str
    officer_id: str
    issued_at: datetime
    note: str | None = None  # the note of an acknowledgement, the reason of a silence
    until: datetime | None = None  # silence only

    @classmethod
    def from_json(cls, cmd: dict[str, Any]) -> "AlertCommand":
        """From the contract's JSON command (`fengqiao.records.Command` validated it)."""
        until = cmd.get("until")
        return cls(cmd["type"], cmd["alert_id"], cmd["officer_id"], datetime.fromisoformat(cmd["issued_at"]),
                   cmd.get("note") if cmd["type"] == "alert.acknowledge" else cmd.get("reason"),
                   datetime.fromisoformat(until) if until else None)


@dataclass(frozen=True, slots=True)
class AlertSlot:
    """A `dedup_key`'s place in its owner: the alert (None: superseded, never raised),
    the next re-notification, and the target round that raised it (sla only)."""

    alert: Alert | None
    renotify_at: datetime | None = None
    target: str = ""
    round: int = 0

    @property
    def wake_at(self) -> datetime | None:
        """When this slot needs the clock next: the end of a silence or a re-notification."""
        a = self.alert
        if a is None:
            return None
        if a.state == "silenced":
            return a.silenced_until
        if a.state == "firing":
            return self.renotify_at
        return None

    @property
    def overdue(self) -> bool:
        """An active alert of an overdue stage: its case is overdue."""
        a = self.alert
        return a is not None and a.state != "resolved" and a.stage in OVERDUE_STAGES


def _renotify_from(alert: Alert, now: datetime, renotify: timedelta) -> datetime | None:
    return now + renotify if alert.severity == "critical" else None


def sla_message(stage: Any, case_id: str, region_code: str) -> str:
    """The alert's zh-CN text: region, case number, target and stage, due instant; no personal data."""
    what = STAGE_ZH[stage.stage]
    if stage.stage == "escalation" and stage.supervisor:
        what = f"{what}（第{stage.level}级，{LEVEL_ZH.get(stage.supervisor, stage.supervisor)}督办）"
    due = stage.due_at.strftime("%m-%d %H:%M:%S")
    return f"{name_of(region_code)} 案件 {case_id} {TARGET_ZH.get(stage.target, stage.target)}{what}，期限 {due}"


def raise_sla(stage: Any, case_id: str, region_code: str, department: str, now: datetime,
              renotify: timedelta = RENOTIFY) -> AlertSlot:
    """A new firing SLA alert for one `sla.StageDue` (critical ones re-notify)."""
    alert = Alert(
        alert_id=alert_id_for(stage.dedup_key), dedup_key=stage.dedup_key, kind="sla", severity=stage.severity,
        state="firing", region_code=region_code, raised_at=now, updated_at=now,
        message=sla_message(stage, case_id, region_code), stage=stage.stage, level=stage.level, case_id=case_id,
        department=department or None, target=stage.target, due_at=stage.due_at)
    return AlertSlot(alert, _renotify_from(alert, now, renotify), stage.target, stage.round)


def superseded(stage: Any) -> AlertSlot:
    """A stage passed while a later one of its target was already due: spent, not raised."""
    return AlertSlot(None, None, stage.target, stage.round)


def apply_command(slot: AlertSlot, cmd: AlertCommand, now: datetime) -> AlertSlot | None:
    """Acknowledge or silence; None when the command changes nothing (resolved, already acknowledged)."""
    a = slot.alert
    if a is None or a.state == "resolved":
        return None
    if cmd.kind == "alert.acknowledge":
        if a.state == "acknowledged":
            return None
        new = a.changed(now, state="acknowledged", acknowledged_by=cmd.officer_id, acknowledged_at=cmd.issued_at,
                        note=cmd.note)
        return replace(slot, alert=new, renotify_at=None)
    if cmd.kind == "alert.silence":
        new = a.changed(now, state="silenced", silenced_until=cmd.until, note=cmd.note,
                        acknowledged_by=cmd.officer_id)
        return replace(slot, alert=new, renotify_at=None)
    return None


def due(slot: AlertSlot, now: datetime, renotify: timedelta = RENOTIFY) -> AlertSlot | None:
    """The end of a silence (firing again) or a re-notification that is due; else None."""
    a = slot.alert
    if a is None:
        return None
    if a.state == "silenced" and a.silenced_until is not None:
        if a.silenced_until <= now:
            new = a.changed(now, state="firing", silenced_until=None)
            return replace(slot, alert=new, renotify_at=_renotify_from(new, now, renotify))
        return None
    if a.state == "firing" and slot.renotify_at is not None and slot.renotify_at <= now:
        return replace(slot, alert=a.changed(now), renotify_at=now + renotify)
    return None


def resolve(slot: AlertSlot, now: datetime) -> AlertSlot | None:
    """Its target was met (or replaced): resolved, no more re-notification; None if nothing to do."""
    a = slot.alert
    if a is None or a.state == "resolved":
        return None
    return replace(slot, alert=a.changed(now, state="resolved"), renotify_at=None)
