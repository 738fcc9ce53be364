"""JSON-level access to the domain's alert state machine for tables that keep alert slots
as JSON objects (the early-warning table: `{"r": alert record json}`).

The rules live in `fengqiao.domain.alerts`; the JSON shapes in `fengqiao.domain.case_codec`.
This module only converts at the edge, so hotspot and class-case alerts follow the same
state machine as a case's SLA alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fengqiao.domain import alerts as dal
from fengqiao.domain import case_codec as codec
from fengqiao.domain.alerts import alert_id_for
from fengqiao.records import AlertRecord

__all__ = ["alert_id_for", "change", "encode", "apply_command"]


def change(rec: dict[str, Any], now: datetime, **fields: Any) -> dict[str, Any]:
    """The next version of an alert record (json-mode dict in, json-mode dict out)."""
    if "case_ids" in fields:
        fields["case_ids"] = tuple(fields["case_ids"])
    return codec.alert_to_json(codec.alert_from_json(rec).changed(now, **fields))


def encode(rec: dict[str, Any] | AlertRecord) -> bytes:
    """Validate (the contract is strict) and serialise one alert record."""
    if isinstance(rec, AlertRecord):
        return rec.to_json()
    return AlertRecord.model_validate(rec).to_json()


def apply_command(slot: dict[str, Any], cmd: dict[str, Any], now: datetime,
                  renotify: timedelta | None = None) -> dict[str, Any] | None:
    """Acknowledge or silence a JSON alert slot; None when the command changes nothing."""
    new = dal.apply_command(codec.slot_from_json(slot), dal.AlertCommand.from_json(cmd), now)
    return codec.slot_to_json(new) if new is not None else None
