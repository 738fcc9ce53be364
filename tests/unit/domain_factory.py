"""Event builders for the domain tests (not a test module)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from fengqiao.contract import parse_event

REGION = "130123"  # 正定县
_counter = itertools.count()


def ev(case_id: str, etype: str, at: str, event_id: str | None = None, **payload: Any):
    return parse_event({
        "schema_version": 1,
        "event_id": event_id or str(uuid.UUID(int=next(_counter) + (1 << 64))),
        "event_type": etype,
        "case_id": case_id,
        "occurred_at": at,
        "region_code": REGION,
        "channel": "web",
        "payload": payload,
    })


def received(case_id: str, at: str, category: str = "dispute", urgency: str = "normal", formal: bool = False,
             topic: str = "邻里纠纷", **extra: Any):
    return ev(case_id, "petition.received", at, category=category, urgency=urgency, topic=topic,
              title="标题", content="内容", formal_petition=formal, **extra)


def assigned(case_id: str, at: str, department: str = "乡镇综治中心", level: str = "township", **kw: Any):
    return ev(case_id, "case.assigned", at, department=department, level=level, **kw)


def signed(case_id: str, at: str, department: str = "乡镇综治中心", **kw: Any):
    return ev(case_id, "case.signed", at, department=department, **kw)


def returned(case_id: str, at: str, department: str = "乡镇综治中心", **kw: Any):
    return ev(case_id, "case.returned", at, department=department, reason="不属于本部门职责", **kw)


def replied(case_id: str, at: str, resolved: bool = True, department: str = "乡镇综治中心", **kw: Any):
    return ev(case_id, "case.replied", at, department=department, result="已处理", resolved=resolved, **kw)


def evaluated(case_id: str, at: str, rating: str = "satisfied", **kw: Any):
    return ev(case_id, "case.evaluated", at, rating=rating, **kw)


def callback(case_id: str, at: str, reached: bool = True, rating: str | None = None, **kw: Any):
    payload: dict[str, Any] = {"reached": reached}
    if rating:
        payload["rating"] = rating
    return ev(case_id, "case.callback", at, **payload, **kw)


def extended(case_id: str, at: str, days: int, **kw: Any):
    return ev(case_id, "case.extended", at, days=days, reason="情况复杂", approved_by="县信访局", **kw)


def archived(case_id: str, at: str, **kw: Any):
    return ev(case_id, "case.archived", at, **kw)
