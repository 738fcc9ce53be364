"""Alert records and their life (DESIGN.md section 4, "Alerts"), pure functions.

Alerts are kept inside the owning table entry as `{"r": record-json, "n": renotify-at,
"t": target, "rd": round}`; each change is a new record with `version + 1` (audit
trail). `alert_id` is `uuid5(dedup_key)`, so a re-fired alert after a crash carries the
same id and version, and idempotent consumers (the sink's ReplacingMergeTree) keep one.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fengqiao.records import AlertRecord
from fengqiao.regions import name_of

NAMESPACE = uuid.UUID("6f1c2b1e-3d4a-5b6c-8d9e-0a1b2c3d4e5f")
TARGET_ZH = {"sign": "签收", "resolve": "办结"}
STAGE_ZH = {"reminder": "即将到期提醒", "warning": "催办", "overdue": "已超期督办", "escalation": "逐级督办"}
LEVEL_ZH = {"village": "村级", "township": "乡镇", "county": "县级", "city": "市级", "province": "省级"}


def alert_id_for(dedup_key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, dedup_key))


def sla_alert(stage: Any, case_id: str, region_code: str, department: str, now: datetime) -> AlertRecord:
    """A new firing SLA alert for one `sla.StageDue` (no personal data in the message)."""
    what = STAGE_ZH[stage.stage]
    if stage.stage == "escalation" and stage.supervisor:
        what = f"{what}（第{stage.level}级，{LEVEL_ZH.get(stage.supervisor, stage.supervisor)}督办）"
    due = stage.due_at.strftime("%m-%d %H:%M:%S")
    msg = f"{name_of(region_code)} 案件 {case_id} {TARGET_ZH.get(stage.target, stage.target)}{what}，期限 {due}"
    return AlertRecord(
        alert_id=alert_id_for(stage.dedup_key), dedup_key=stage.dedup_key, kind="sla", stage=stage.stage,
        level=stage.level, severity=stage.severity, state="firing", case_id=case_id, region_code=region_code,
        department=department or None, target=stage.target, due_at=stage.due_at, raised_at=now, updated_at=now,
        message=msg,
    )


def change(rec: dict[str, Any], now: datetime, **fields: Any) -> dict[str, Any]:
    """The next version of an alert record (json-mode dict in, json-mode dict out)."""
    new = dict(rec)
    for k, v in fields.items():
        new[k] = v.isoformat() if isinstance(v, datetime) else v
    new["version"] = int(rec.get("version", 1)) + 1
    new["updated_at"] = now.isoformat()
    return new


def encode(rec: dict[str, Any] | AlertRecord) -> bytes:
    """Validate (the contract is strict) and serialise one alert record."""
    if isinstance(rec, AlertRecord):
        return rec.to_json()
    return AlertRecord.model_validate(rec).to_json()


def apply_command(slot: dict[str, Any], cmd: dict[str, Any], now: datetime, renotify: timedelta) -> dict[str, Any] | None:
    """Acknowledge or silence an alert slot; None when the command changes nothing."""
    rec = slot.get("r")
    if not rec or rec["state"] == "resolved":
        return None
    if cmd["type"] == "alert.acknowledge":
        if rec["state"] == "acknowledged":
            return None
        new = change(rec, now, state="acknowledged", acknowledged_by=cmd["officer_id"],
                     acknowledged_at=cmd["issued_at"], note=cmd.get("note"))
        return {**slot, "r": new, "n": None}
    if cmd["type"] == "alert.silence":
        new = change(rec, now, state="silenced", silenced_until=cmd["until"], note=cmd.get("reason"),
                     acknowledged_by=cmd["officer_id"])
        return {**slot, "r": new, "n": None}
    return None


def due_timers(slot: dict[str, Any], now: datetime, renotify: timedelta) -> dict[str, Any] | None:
    """Re-notification of an unacknowledged critical alert, or the end of a silence."""
    rec = slot.get("r")
    if not rec:
        return None
    if rec["state"] == "silenced" and rec.get("silenced_until"):
        if datetime.fromisoformat(rec["silenced_until"]) <= now:
            n = (now + renotify).isoformat() if rec["severity"] == "critical" else None
            return {**slot, "r": change(rec, now, state="firing", silenced_until=None), "n": n}
        return None
    if rec["state"] == "firing" and slot.get("n") and datetime.fromisoformat(slot["n"]) <= now:
        return {**slot, "r": change(rec, now), "n": (now + renotify).isoformat()}
    return None


def wake_of(slot: dict[str, Any]) -> str | None:
    rec = slot.get("r")
    if not rec:
        return None
    if rec["state"] == "silenced":
        return rec.get("silenced_until")
    if rec["state"] == "firing":
        return slot.get("n")
    return None
