"""The case agent's translation layer: domain outputs to Kafka messages, records to counts.

The rules of a case (events, timers, alert commands, auto-dispatch) live in
`fengqiao.domain.case.CaseRules`; the table value's codec in `fengqiao.domain.case_codec`.
Here each typed output becomes one message (`Out`) for a logical topic, and a record
becomes its contribution to the rolling region counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import orjson

from fengqiao.domain import case_codec as codec
from fengqiao.domain.calendar import WorkCalendar
from fengqiao.domain.case import (
    AlertChanged, AlertIndexEntry, CaseChanged, CaseRecord, CaseRules, EarlyWarningItem, EventToEmit, Output, Route,
)
from fengqiao.domain.phase import Phase, phase_of
from fengqiao.domain.policy import Policy

__all__ = ["Out", "Route", "build_rules", "contribution", "serialise"]


@dataclass(frozen=True, slots=True)
class Out:
    """One message to publish: `topic` is a logical name (alerts, cases, events, alert_index, early)."""

    topic: str
    key: bytes | None
    value: bytes


def build_rules(policy: Policy, calendar: WorkCalendar, renotify_seconds: float = 900.0,
                auto_dispatch_after_seconds: float = 300.0, route: Route | None = None) -> CaseRules:
    return CaseRules(policy, calendar, renotify=timedelta(seconds=renotify_seconds),
                     auto_dispatch=timedelta(seconds=auto_dispatch_after_seconds), route=route)


def to_out(o: Output) -> Out:
    if isinstance(o, AlertChanged):
        return Out("alerts", o.alert.dedup_key.encode(), codec.alert_wire(o.alert))
    if isinstance(o, CaseChanged):
        return Out("cases", o.snapshot.case_id.encode(), o.snapshot.to_json())
    if isinstance(o, EventToEmit):
        return Out("events", o.case_id.encode(), orjson.dumps(o.envelope()))
    if isinstance(o, EarlyWarningItem):
        body = {"case_id": o.case_id, "region_code": o.region_code, "topic": o.topic, "at": o.at.isoformat(),
                "text": o.text}
        return Out("early", o.region_code.encode(), orjson.dumps(body))
    if isinstance(o, AlertIndexEntry):
        body = {"op": "index", "alert_id": o.alert_id, "owner": o.owner, "key": o.key}
        return Out("alert_index", o.alert_id.encode(), orjson.dumps(body))
    raise TypeError(f"unknown output {type(o).__name__}")


def serialise(outputs: list[Output]) -> list[Out]:
    return [to_out(o) for o in outputs]


def contribution(rec: CaseRecord | None) -> tuple[str, str, str, bool, bool] | None:
    """(region, category, channel, open, overdue) of one case for the rolling counts: open is the
    domain's phase (在办; a case awaiting evaluation is not open), overdue an open case with an
    active overdue-stage alert (its target pending past due), as the wall counts them."""
    if rec is None:
        return None
    s = rec.state
    is_open = phase_of(s.status, s.resolved, bool(s.merged_into)) is Phase.open
    return s.region_code, s.category, s.channel, is_open, rec.overdue and is_open
