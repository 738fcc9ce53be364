"""What a case *is* right now, in DESIGN.md's words ("What the numbers mean").

The lifecycle writes these judgements into every `CaseSnapshot`; screens, reports and
SQL count them instead of re-deriving the lifecycle from statuses and instants.

* A case's *phase*: `open` (在办: received, assigned, signed, returned, re-opened, or
  replied with `resolved: false`), `awaiting_evaluation` (待评价: its current resolve round
  was met by a resolved reply, waiting for the rating or the callback), `closed` (已办结:
  archived, or answered online), `merged` (a duplicate: never counted as a case).
  Choice where DESIGN.md is silent: a case rated satisfied/basically satisfied stays
  awaiting evaluation until it is archived (the callback may still come and re-open it);
  a reply the department archived without resolving is closed.
* Each target (sign, resolve) of the case's *current round* (the latest assignment for
  sign, the receipt or latest re-opening for resolve) is `none` (no such round: never
  assigned), `pending`, `met` (with the instant), or `dropped` (ended unmet: the case was
  returned before signing, re-opened, merged, or archived without a resolved reply).
  Whether a target is *missed* depends on `now`: met late, or pending past its due
  instant (a dropped target counts as missed when it ended after its due instant).
* A case is *overdue* (已超期) when it is open and one of its targets is pending past its
  due instant; a case awaiting evaluation or closed is never overdue.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Phase(StrEnum):
    open = "open"
    awaiting_evaluation = "awaiting_evaluation"
    closed = "closed"
    merged = "merged"


PHASE_ZH = {Phase.open: "在办", Phase.awaiting_evaluation: "待评价", Phase.closed: "已办结", Phase.merged: "已合并"}


class TargetStatus(StrEnum):
    none = "none"
    pending = "pending"
    met = "met"
    dropped = "dropped"


def phase_of(status: str, resolved: bool, merged: bool) -> Phase:
    """The phase of a case from its lifecycle status, whether its current resolve round is
    met (`resolved`), and whether it was merged into another case."""
    if merged or status == "merged":
        return Phase.merged
    if status in ("archived", "resolved_online"):
        return Phase.closed
    return Phase.awaiting_evaluation if resolved else Phase.open


def target_pending_past_due(status: str, due: datetime | None, now: datetime) -> bool:
    return status == TargetStatus.pending and due is not None and due < now


def target_decided(status: str, due: datetime | None, ended: datetime | None, now: datetime) -> bool:
    """Met, or missed: the target counts in its rate's denominator."""
    if status == TargetStatus.met:
        return True
    if status == TargetStatus.dropped:
        return due is not None and ended is not None and ended > due
    return target_pending_past_due(status, due, now)


def target_on_time(status: str, due: datetime | None, ended: datetime | None) -> bool:
    """Met no later than its due instant (the rate's numerator)."""
    return status == TargetStatus.met and ended is not None and (due is None or ended <= due)


def target_missed(status: str, due: datetime | None, ended: datetime | None, now: datetime) -> bool:
    return target_decided(status, due, ended, now) and not target_on_time(status, due, ended)


class Judged(Protocol):
    """The fields of a `CaseSnapshot` the judgements read."""

    phase: str
    sign_status: str
    sign_due_at: datetime | None
    resolve_status: str
    resolve_due_at: datetime | None


def is_overdue(c: Judged, now: datetime) -> bool:
    """已超期: open, with a target pending past its due instant."""
    return c.phase == Phase.open and (target_pending_past_due(c.sign_status, c.sign_due_at, now)
                                      or target_pending_past_due(c.resolve_status, c.resolve_due_at, now))


def pending_targets(c: Judged) -> list[tuple[str, datetime]]:
    """(target, due) of each pending target of an open case: what a countdown may list."""
    if c.phase != Phase.open:
        return []
    out = []
    if c.sign_status == TargetStatus.pending and c.sign_due_at is not None:
        out.append(("sign", c.sign_due_at))
    if c.resolve_status == TargetStatus.pending and c.resolve_due_at is not None:
        out.append(("resolve", c.resolve_due_at))
    return out


def next_deadline(c: Judged, now: datetime) -> tuple[str, datetime] | None:
    """The countdown's entry for a case: its pending target that falls due first (sign on a
    tie), for an open case that is not overdue yet; None otherwise."""
    pending = pending_targets(c)
    if not pending or is_overdue(c, now):
        return None
    return min(pending, key=lambda t: (t[1], t[0] != "sign"))


def legacy_judgement(d: dict[str, Any]) -> dict[str, Any]:
    """The judgement fields for a snapshot written before they existed (its columns or JSON
    as a dict), best effort from what such a snapshot carried: the current round's on-time
    flags, the status and the instants. Fields already present are kept."""
    status, merged = d.get("status", ""), bool(d.get("merged_into"))
    met = d.get("resolved_on_time") is not None
    out = dict(d)
    out.setdefault("phase", phase_of(status, met or status == "resolved_online", merged).value)
    if "sign_status" not in d:
        if status == "assigned":
            out["sign_status"], out["sign_ended_at"] = TargetStatus.pending.value, None
        elif d.get("signed_on_time") is not None:
            out["sign_status"], out["sign_ended_at"] = TargetStatus.met.value, d.get("signed_at")
        else:
            out["sign_status"] = (TargetStatus.dropped if d.get("assigned_at") else TargetStatus.none).value
            out["sign_ended_at"] = None
    if "resolve_status" not in d:
        if met or status == "resolved_online":
            out["resolve_status"] = TargetStatus.met.value
            out["resolve_ended_at"] = d.get("replied_at") or d.get("closed_at")
        elif out["phase"] == Phase.open:
            out["resolve_status"], out["resolve_ended_at"] = TargetStatus.pending.value, None
        else:
            out["resolve_status"], out["resolve_ended_at"] = TargetStatus.dropped.value, d.get("closed_at")
    out.setdefault("assign_count", 1 if d.get("assigned_at") else 0)
    out.setdefault("resolve_met_count", max(int(d.get("reopen_count") or 0), 1 if met else 0))
    return out
