"""The case state machine (DESIGN.md section 4, "Lifecycle").

received → assigned → signed → replied → evaluated → archived, with:

* `case.returned` (from assigned/signed) sends the case back to dispatch (status
  `returned`) and is counted (推诿); the open sign round is cancelled.
* `case.resolved_online` (from received/returned/reopened: not dispatched) and
  `case.merged` (from any open, unreplied status) close a case without dispatch.
* a `dissatisfied` evaluation or callback re-opens the case (status `reopened`,
  再转办): a new resolve round starting at that instant; the second and every later
  re-opening also escalates the case one level (提级), never past province.

Choices where DESIGN.md is silent:

* `case.assigned` is accepted from received/returned/reopened and, as a transfer
  (改派, e.g. after 提级), from assigned/signed; each assignment starts a new sign round.
* `case.signed` / `case.returned` must name the department the case is assigned to.
* `case.replied` needs a signed case; an unresolved reply (`resolved=false`) leaves
  the resolve target open and allows a further reply.
* `case.evaluated` is accepted after a reply, an online answer, or a previous rating
  (the last rating wins); `case.callback` the same; a callback that did not reach the
  citizen changes nothing but the version (its rating, if any, is ignored).
* `case.escalated` (提级) is accepted on an open case (received … replied) and must go
  strictly above the current level; it changes the level, not the status.
* `case.extended` adds to the open resolve round; the formal track allows
  `formal.max_extensions` (1) per case of at most 30 days; the normal track is unlimited
  unless the policy's `max_extensions` says otherwise. A re-opened round starts without
  the earlier extensions.
* `case.archived` is accepted after a reply, an evaluation, an online answer or a merge;
  archived is terminal.
* on-time flags: `signed_on_time` of the last sign round that was signed,
  `resolved_on_time` of the current resolve round once met (None while open).

`snapshot` writes the domain's judgement down (`fengqiao.domain.phase`): the case's phase
and each *current* round's status (pending / met / dropped) with its due and end instants,
so the read model and every screen count what the domain decided; its `signed_on_time`
is the current sign round's.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Callable

from fengqiao.contract import Envelope, parse_event
from fengqiao.domain import sla
from fengqiao.domain.calendar import WorkCalendar
from fengqiao.domain.phase import TargetStatus, phase_of
from fengqiao.domain.policy import Policy
from fengqiao.records import CaseSnapshot
from fengqiao.vocab import LEVELS

SEEN_MAX = 16  # recent event ids kept per case (a whole typical case history) for duplicate detection


def seen_id(event_id: str) -> str:
    """The short form of an event id kept in `CaseState.seen`: 11 characters of a 64-bit
    BLAKE2b digest instead of a 36-character UUID (the ids were most of a stored case's
    bytes; a collision among one case's 16 ids is ~1e-17 likely)."""
    return base64.b64encode(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), b"-_")[:11].decode()

OPEN = frozenset({"received", "assigned", "signed", "returned", "reopened", "replied"})


class LifecycleError(ValueError):
    """An event the current state does not allow (goes to the DLQ with this reason)."""

    def __init__(self, case_id: str, event_id: str, event_type: str, reason: str, reason_zh: str = ""):
        self.case_id, self.event_id, self.event_type = case_id, event_id, event_type
        self.reason, self.reason_zh = reason, reason_zh or reason
        super().__init__(f"case {case_id}: {event_type} ({event_id}) not allowed: {reason} / "
                         f"案件 {case_id}：事件 {event_type} 不被允许：{self.reason_zh}")


@dataclass(frozen=True, slots=True)
class TargetState:
    """One round of one SLA target."""

    name: str  # sign | resolve
    round: int
    start: datetime
    due: datetime
    working: bool
    estimated: bool = False
    closed_at: datetime | None = None
    outcome: str = ""  # "" open, "met", "cancelled"

    @property
    def is_open(self) -> bool:
        return not self.outcome

    @property
    def on_time(self) -> bool | None:
        if self.outcome != "met" or self.closed_at is None:
            return None
        return self.closed_at <= self.due

    def close(self, at: datetime, outcome: str) -> "TargetState":
        return TargetState(self.name, self.round, self.start, self.due, self.working, self.estimated, at, outcome)

    def to_list(self) -> list[Any]:
        return [self.name, self.round, self.start.isoformat(), self.due.isoformat(), self.working,
                self.estimated, self.closed_at.isoformat() if self.closed_at else None, self.outcome]

    @classmethod
    def from_list(cls, v: list[Any]) -> "TargetState":
        return cls(v[0], v[1], datetime.fromisoformat(v[2]), datetime.fromisoformat(v[3]), v[4], v[5],
                   datetime.fromisoformat(v[6]) if v[6] else None, v[7])


_DT_FIELDS = ("received_at", "assigned_at", "first_assigned_at", "signed_at", "first_signed_at",
              "replied_at", "first_replied_at", "resolved_at", "evaluated_at", "reopened_at",
              "closed_at", "archived_at", "updated_at")


@dataclass(slots=True)
class CaseState:
    """What the streams worker keeps per case; compact and JSON-able via `to_dict`."""

    case_id: str
    version: int = 0
    status: str = ""
    category: str = ""
    topic: str = ""
    urgency: str = ""
    difficulty: str = ""
    channel: str = ""
    region_code: str = ""
    formal: bool = False
    department: str = ""
    level: str = ""
    levels: tuple[str, ...] = ()  # levels reached, in order
    escalations: int = 0
    received_at: datetime | None = None
    assigned_at: datetime | None = None
    first_assigned_at: datetime | None = None
    signed_at: datetime | None = None
    first_signed_at: datetime | None = None
    replied_at: datetime | None = None
    first_replied_at: datetime | None = None
    resolved_at: datetime | None = None
    evaluated_at: datetime | None = None
    reopened_at: datetime | None = None
    closed_at: datetime | None = None
    archived_at: datetime | None = None
    updated_at: datetime | None = None
    assign_count: int = 0
    return_count: int = 0
    reopen_count: int = 0
    extension_count: int = 0
    extension_days: int = 0
    resolve_met_count: int = 0
    first_rating: str = ""
    last_rating: str = ""
    resolved: bool = False
    resolved_online: bool = False
    merged_into: str = ""
    signed_on_time: bool | None = None
    resolved_on_time: bool | None = None
    calendar_estimated: bool = False
    sign: TargetState | None = None
    resolve: TargetState | None = None
    seen: tuple[str, ...] = field(default=())
    track_token: str = ""  # the citizen's tracking check (keyed hash, not the digits): producers/gateway/track.py

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, without default values (1M of these live in a worker's table)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CaseState":
        kw = dict(d)
        for name in _DT_FIELDS:
            if kw.get(name):
                kw[name] = datetime.fromisoformat(kw[name])
        for name in ("sign", "resolve"):
            if kw.get(name):
                kw[name] = TargetState.from_list(kw[name])
        for name in ("levels", "seen"):
            if name in kw:
                kw[name] = tuple(kw[name])
        return cls(**kw)


_FIELDS: tuple[tuple[str, Any], ...] = tuple(
    (f.name, () if f.name == "seen" else f.default) for f in fields(CaseState))

def _make_clone() -> Callable[[CaseState], CaseState]:
    """A generated field-by-field copy (several times faster than `copy.copy` on slots)."""
    body = "\n".join(f"    n.{name} = s.{name}" for name, _ in _FIELDS)
    ns: dict[str, Any] = {"new": object.__new__, "C": CaseState}
    exec(f"def clone(s):\n    n = new(C)\n{body}\n    return n", ns)  # noqa: S102 - fixed, generated source
    return ns["clone"]


_clone = _make_clone()


def _make_to_dict() -> Callable[[CaseState], dict[str, Any]]:
    """A generated `to_dict` (it runs for every event the worker applies): one line per
    field, the conversion chosen by the field's type once instead of per call."""
    lines = ["def to_dict(s):", "    out = {'case_id': s.case_id}"]
    for i, (name, _) in enumerate(_FIELDS):
        if name == "case_id":
            continue
        conv = ("v.isoformat()" if name in _DT_FIELDS else "v.to_list()" if name in ("sign", "resolve")
                else "list(v)" if name in ("levels", "seen") else "v")
        lines += [f"    v = s.{name}", f"    if not (v == D[{i}]):", f"        out[{name!r}] = {conv}"]
    ns: dict[str, Any] = {"D": tuple(d for _, d in _FIELDS)}
    exec("\n".join(lines + ["    return out"]), ns)  # noqa: S102 - fixed, generated source
    return ns["to_dict"]


_to_dict = _make_to_dict()

Handler = Callable[[CaseState, Any, datetime, Policy, WorkCalendar], None]


def _err(state: CaseState, ev: Envelope, reason: str, zh: str) -> LifecycleError:
    return LifecycleError(ev.case_id, str(ev.event_id), ev.event_type, reason, zh)  # type: ignore[attr-defined]


def _need(state: CaseState, ev: Any, allowed: frozenset[str] | set[str]) -> None:
    if state.status not in allowed:
        raise _err(state, ev, f"status is {state.status!r} (allowed: {', '.join(sorted(allowed))})",
                   f"案件当前状态为 {state.status}，该事件仅允许于：{'、'.join(sorted(allowed))}")


def _new_resolve(state: CaseState, at: datetime, policy: Policy, cal: WorkCalendar, round: int) -> None:
    dur = policy.targets(state.category, state.urgency, state.formal).resolve
    due, est = sla.deadline(at, dur, cal)
    state.resolve = TargetState("resolve", round, at, due, dur.working, est)
    state.calendar_estimated = state.calendar_estimated or est
    state.resolved_on_time = None


def _reach(state: CaseState, level: str) -> None:
    state.level = level
    if level not in state.levels:
        state.levels = state.levels + (level,)


def _received(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    p = ev.payload
    state.status = "received"
    state.category, state.topic, state.urgency = p.category.value, p.topic, p.urgency.value
    state.difficulty = p.difficulty.value if p.difficulty else ""
    state.channel, state.region_code, state.formal = ev.channel.value, ev.region_code, p.formal_petition
    state.received_at = at
    state.track_token = (p.citizen.track_token or "") if p.citizen is not None else ""
    _new_resolve(state, at, policy, cal, 0)


def _assigned(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, {"received", "returned", "reopened", "assigned", "signed"})
    if state.sign is not None and state.sign.is_open:
        state.sign = state.sign.close(at, "cancelled")
    dur = policy.targets(state.category, state.urgency, state.formal).sign
    due, est = sla.deadline(at, dur, cal)
    state.sign = TargetState("sign", state.assign_count, at, due, dur.working, est)
    state.calendar_estimated = state.calendar_estimated or est
    state.assign_count += 1
    state.status = "assigned"
    state.department = ev.payload.department
    _reach(state, ev.payload.level.value)
    state.assigned_at = at
    state.first_assigned_at = state.first_assigned_at or at


def _same_department(state: CaseState, ev: Any) -> None:
    if ev.payload.department != state.department:
        raise _err(state, ev, f"department {ev.payload.department!r} is not the assigned one ({state.department!r})",
                   f"部门“{ev.payload.department}”不是承办部门“{state.department}”")


def _signed(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, {"assigned"})
    _same_department(state, ev)
    assert state.sign is not None
    state.sign = state.sign.close(at, "met")
    state.signed_on_time = state.sign.on_time
    state.status = "signed"
    state.signed_at = at
    state.first_signed_at = state.first_signed_at or at


def _returned(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, {"assigned", "signed"})
    _same_department(state, ev)
    if state.sign is not None and state.sign.is_open:
        state.sign = state.sign.close(at, "cancelled")
    state.return_count += 1
    state.status = "returned"
    state.department = ""


def _replied(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    if state.status == "replied" and state.resolved:
        raise _err(state, ev, "the case already has a resolved reply", "案件已有办结反馈")
    _need(state, ev, {"signed", "replied"})
    state.status = "replied"
    state.replied_at = at
    state.first_replied_at = state.first_replied_at or at
    if ev.payload.resolved:
        _meet_resolve(state, at)


def _meet_resolve(state: CaseState, at: datetime) -> None:
    state.resolved = True
    state.resolved_at = at
    if state.resolve is not None and state.resolve.is_open:
        state.resolve = state.resolve.close(at, "met")
        state.resolved_on_time = state.resolve.on_time
        state.resolve_met_count += 1


def _extended(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, OPEN)
    if state.resolve is None or not state.resolve.is_open:
        raise _err(state, ev, "no open resolve deadline to extend", "没有可延期的办理时限")
    unit, max_n, max_days = policy.extension(state.formal)
    days = ev.payload.days
    if max_n is not None and state.extension_count >= max_n:
        raise _err(state, ev, f"at most {max_n} extension(s) allowed" + (" on the formal track" if state.formal else ""),
                   f"最多只能延期 {max_n} 次")
    if max_days is not None and days > max_days:
        raise _err(state, ev, f"an extension is at most {max_days} days", f"延期不得超过 {max_days} 日")
    r = state.resolve
    due, est = sla.extend(r.due, days, unit, cal)
    state.resolve = TargetState("resolve", r.round, r.start, due, r.working, r.estimated or est)
    state.calendar_estimated = state.calendar_estimated or est
    state.extension_count += 1
    state.extension_days += days


def _rate(state: CaseState, ev: Any, rating: str, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    state.first_rating = state.first_rating or rating
    state.last_rating = rating
    state.evaluated_at = at
    if rating != "dissatisfied":
        state.status = "evaluated"
        return
    # 再转办: a new resolve round from now; the second and later re-openings escalate (提级)
    state.reopen_count += 1
    state.status = "reopened"
    state.reopened_at = at
    state.resolved = False
    state.resolved_online = False
    state.closed_at = None
    if state.sign is not None and state.sign.is_open:
        state.sign = state.sign.close(at, "cancelled")
    _new_resolve(state, at, policy, cal, state.reopen_count)
    if state.reopen_count >= 2:
        i = LEVELS.index(state.level) if state.level else 0
        up = LEVELS[min(max(i + 1, 1), len(LEVELS) - 1)]
        if up != state.level:
            _reach(state, up)
            state.escalations += 1


_RATEABLE = frozenset({"replied", "resolved_online", "evaluated"})


def _evaluated(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, _RATEABLE)
    _rate(state, ev, ev.payload.rating.value, at, policy, cal)


def _callback(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, _RATEABLE)
    if ev.payload.reached and ev.payload.rating is not None:
        _rate(state, ev, ev.payload.rating.value, at, policy, cal)


def _escalated(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, OPEN)
    to = ev.payload.to_level.value
    if state.level and LEVELS.index(to) <= LEVELS.index(state.level):
        raise _err(state, ev, f"{to} is not above the current level {state.level}",
                   f"{to} 不高于当前层级 {state.level}")
    _reach(state, to)
    state.escalations += 1


def _resolved_online(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, {"received", "returned", "reopened"})
    _meet_resolve(state, at)
    state.resolved_online = True
    state.status = "resolved_online"
    state.closed_at = at


def _cancel_targets(state: CaseState, at: datetime) -> None:
    for name in ("sign", "resolve"):
        t = getattr(state, name)
        if t is not None and t.is_open:
            setattr(state, name, t.close(at, "cancelled"))


def _merged(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, {"received", "assigned", "signed", "returned", "reopened"})
    if ev.payload.into_case_id == state.case_id:
        raise _err(state, ev, "a case cannot be merged into itself", "案件不能合并到自身")
    state.merged_into = ev.payload.into_case_id
    state.status = "merged"
    state.closed_at = at
    _cancel_targets(state, at)


def _archived(state: CaseState, ev: Any, at: datetime, policy: Policy, cal: WorkCalendar) -> None:
    _need(state, ev, {"replied", "evaluated", "resolved_online", "merged"})
    _cancel_targets(state, at)
    state.status = "archived"
    state.archived_at = at
    state.closed_at = state.closed_at or at


_HANDLERS: dict[str, Handler] = {
    "case.assigned": _assigned,
    "case.signed": _signed,
    "case.returned": _returned,
    "case.replied": _replied,
    "case.extended": _extended,
    "case.evaluated": _evaluated,
    "case.callback": _callback,
    "case.escalated": _escalated,
    "case.resolved_online": _resolved_online,
    "case.merged": _merged,
    "case.archived": _archived,
}


def apply(state: CaseState | None, event: Any, policy: Policy, calendar: WorkCalendar) -> CaseState:
    """The state after `event`; the input state is never modified.

    Raises `LifecycleError` for an event the state does not allow; a duplicate
    `event_id` (among the last `SEEN_MAX` of this case) returns `state` unchanged.
    """
    if isinstance(event, (dict, str, bytes)):
        event = parse_event(event)
    eid = str(event.event_id)
    etype = event.event_type
    if state is None:
        if etype != "petition.received":
            raise LifecycleError(event.case_id, eid, etype, "unknown case (no petition.received yet)",
                                 "案件尚未受理登记（缺少 petition.received）")
        new = CaseState(case_id=event.case_id)
        _received(new, event, sla.local(event.occurred_at), policy, calendar)
    else:
        if seen_id(eid) in state.seen or eid in state.seen:  # full ids: states stored by older versions
            return state
        if event.case_id != state.case_id:
            raise LifecycleError(event.case_id, eid, etype, f"event is for case {event.case_id}, state is {state.case_id}",
                                 "事件与案件编号不符")
        if state.status == "archived":
            raise LifecycleError(state.case_id, eid, etype, "the case is archived", "案件已办结归档")
        handler = _HANDLERS.get(etype)
        if handler is None:
            raise LifecycleError(state.case_id, eid, etype, "the case was already received", "案件已受理登记，不能重复登记")
        new = _clone(state)
        handler(new, event, sla.local(event.occurred_at), policy, calendar)
    new.version += 1
    new.updated_at = sla.local(event.occurred_at)
    seen = new.seen + (seen_id(eid),)
    new.seen = seen[-SEEN_MAX:] if len(seen) > SEEN_MAX else seen
    return new


def replay(events: Any, policy: Policy, calendar: WorkCalendar, state: CaseState | None = None) -> CaseState | None:
    """Apply events in order (raising on the first disallowed one)."""
    for ev in events:
        state = apply(state, ev, policy, calendar)
    return state


def _target(t: TargetState | None) -> tuple[TargetStatus, datetime | None]:
    """A target round's status and the instant it was met or dropped."""
    if t is None:
        return TargetStatus.none, None
    if t.is_open:
        return TargetStatus.pending, None
    return (TargetStatus.met if t.outcome == "met" else TargetStatus.dropped), t.closed_at


def snapshot(state: CaseState) -> CaseSnapshot:
    """The record published on `petitions.cases` / stored in ClickHouse `cases`, with the
    domain's judgement (phase, each current round's status) written down."""
    try:
        from fengqiao.regions import prefecture_of

        pref = prefecture_of(state.region_code)
    except KeyError:
        pref = state.region_code[:4] + "00"
    assert state.updated_at is not None
    sign, sign_end = _target(state.sign)
    resolve, resolve_end = _target(state.resolve)
    return CaseSnapshot(
        case_id=state.case_id, version=state.version, status=state.status,
        phase=phase_of(state.status, state.resolved, bool(state.merged_into)),
        sign_status=sign, sign_ended_at=sign_end, resolve_status=resolve, resolve_ended_at=resolve_end,
        assign_count=state.assign_count, resolve_met_count=state.resolve_met_count, category=state.category,
        topic=state.topic, urgency=state.urgency, channel=state.channel, region_code=state.region_code,
        prefecture_code=pref, department=state.department, level=state.level, formal_petition=state.formal,
        received_at=state.received_at, assigned_at=state.assigned_at, signed_at=state.signed_at,
        replied_at=state.replied_at, closed_at=state.closed_at,
        sign_due_at=state.sign.due if state.sign else None,
        resolve_due_at=state.resolve.due if state.resolve else None,
        calendar_estimated=state.calendar_estimated, return_count=state.return_count,
        reopen_count=state.reopen_count, extension_count=state.extension_count, escalation_level=state.escalations,
        first_rating=state.first_rating, last_rating=state.last_rating,
        signed_on_time=state.sign.on_time if state.sign else None, resolved_on_time=state.resolved_on_time,
        resolved_online=state.resolved_online, merged_into=state.merged_into, updated_at=state.updated_at,
    )
