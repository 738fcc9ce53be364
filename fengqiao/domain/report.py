"""`fengqiao sla`: the targets and stage instants of a case received (and assigned) at a start."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fengqiao.contract import Category, Urgency
from fengqiao.domain import sla
from fengqiao.domain.calendar import CalendarError, WorkCalendar, load_calendar
from fengqiao.domain.policy import PolicyError, load_policy


class SlaArgumentError(ValueError):
    """A bad CLI argument; the message is one line, in English and Chinese."""


def _parse_start(start: str) -> datetime:
    try:
        dt = datetime.fromisoformat(start.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SlaArgumentError(f"--start {start!r} is not an RFC 3339 instant / --start 不是合法的 RFC 3339 时间") from None
    if dt.tzinfo is None:
        raise SlaArgumentError(f"--start {start!r} has no offset (e.g. +08:00) / --start 缺少时区偏移（如 +08:00）")
    return dt


def sla_report(category: str, urgency: str, start: str, formal: bool = False, policy_file: Path | None = None,
               profile: str = "default", calendar: WorkCalendar | None = None) -> dict[str, Any]:
    """`{"targets": {"sign": {"due_at", "stages": {...}}, "resolve": {...}}, "calendar_estimated": bool}`."""
    if category not in Category.__members__:
        raise SlaArgumentError(f"--category {category!r} is not one of {', '.join(Category.__members__)} / 类别无效")
    if urgency not in Urgency.__members__:
        raise SlaArgumentError(f"--urgency {urgency!r} is not one of {', '.join(Urgency.__members__)} / 紧急程度无效")
    s = _parse_start(start)
    try:
        policy = load_policy(policy_file, profile)
        cal = calendar or load_calendar()
    except (PolicyError, CalendarError) as exc:
        raise SlaArgumentError(str(exc).replace("\n", " ")) from None
    targets = sla.targets_for(category, urgency, s, policy, cal, formal=formal)
    return {
        "targets": {
            name: {"due_at": td.due_at.isoformat(),
                   "stages": {st: td.stages[st].isoformat() for st in sla.STAGES}}
            for name, td in targets.items()
        },
        "calendar_estimated": any(td.estimated for td in targets.values()),
    }
