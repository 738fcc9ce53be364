"""One case as the platform keeps it: the typed record and the rules that move it.

`CaseRecord` is the lifecycle state (`CaseState`) plus what the live worker adds around
it: the case's alerts (`AlertSlot` per `dedup_key`, the state machine of
`fengqiao.domain.alerts`), the next wake-up, the auto-dispatch timer and the overdue flag.
`CaseRules` feeds it the three things that happen to a case (a contract event, the clock,
an officer's command) and returns the new record plus typed outputs; the streams adapter
stores the record (`fengqiao.domain.case_codec`) and serialises the outputs. Nothing here
reads a clock or touches Kafka, so the same rules run in tests, replays and the worker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, NamedTuple, Union

from fengqiao.domain import alerts as al
from fengqiao.domain import sla
from fengqiao.domain.calendar import WorkCalendar
from fengqiao.domain.lifecycle import OPEN, CaseState, apply, snapshot
from fengqiao.domain.policy import Policy
from fengqiao.records import CaseSnapshot
from fengqiao.vocab import SCHEMA_VERSION

DISPATCH_NS = uuid.UUID("0b7e4c6a-2f55-5d2e-9c1d-3e8f6a1b2c4d")
ESCALATE_NS = uuid.UUID("a3c7d9e1-5b2f-5c4d-8e6f-1a2b3c4d5e6f")
DISPATCHABLE = frozenset({"received", "returned", "reopened"})  # waiting for an assignment
# the platform assigns these itself after `auto_dispatch`; a returned case waits for the dispatcher's
# review of the return (派单异议审核: approve and reassign, or reject back to the same department)
AUTO_DISPATCHED = DISPATCHABLE - {"returned"}
EARLY_TEXT_MAX = 600  # characters of title + content the early warning compares
Route = Callable[[str, str, str, str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class DispatchDue:
    """The auto-dispatch timer: started when the worker saw state `version` become dispatchable."""

    version: int
    at: datetime


@dataclass(slots=True)
class CaseRecord:
    """Everything kept per case (the Faust table value); never mutated once returned."""

    state: CaseState
    partition: int
    alerts: dict[str, al.AlertSlot] = field(default_factory=dict)
    wake_at: datetime | None = None  # the next instant the clock must visit this case
    dispatched: int | None = None  # the state version an auto-dispatch was emitted for
    dispatch_due: DispatchDue | None = None
    overdue: bool = False  # an active alert of an overdue stage

    def copy(self) -> "CaseRecord":
        return CaseRecord(self.state, self.partition, dict(self.alerts), self.wake_at, self.dispatched,
                          self.dispatch_due, self.overdue)

    def raised_alerts(self) -> list[al.Alert]:
        return [s.alert for s in self.alerts.values() if s.alert is not None]


# ------------------------------------------------------------------ outputs
@dataclass(frozen=True, slots=True)
class AlertChanged:
    """A new version of an alert (to `petitions.alerts`, key `dedup_key`)."""

    alert: al.Alert


@dataclass(frozen=True, slots=True)
class CaseChanged:
    """The case after an applied event (to `petitions.cases`, key `case_id`)."""

    snapshot: CaseSnapshot


@dataclass(frozen=True, slots=True)
class EventToEmit:
    """A contract event the platform itself emits (auto-dispatch, an officer's escalation)."""

    event_id: str
    event_type: str
    case_id: str
    occurred_at: datetime
    region_code: str
    actor_role: str
    actor_id: str
    payload: dict[str, Any]

    def envelope(self) -> dict[str, Any]:
        """The contract's JSON envelope (DESIGN.md section 3)."""
        return {"schema_version": SCHEMA_VERSION, "event_id": self.event_id, "event_type": self.event_type,
                "case_id": self.case_id, "occurred_at": self.occurred_at.isoformat(),
                "region_code": self.region_code, "channel": "internal",
                "actor": {"role": self.actor_role, "id": self.actor_id}, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class EarlyWarningItem:
    """A new petition, for the hotspot and class-case detectors of its county (no personal data)."""

    case_id: str
    region_code: str
    topic: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class AlertIndexEntry:
    """Where an alert lives, so commands addressed by `alert_id` find their owner."""

    alert_id: str
    owner: str  # "case" | "region"
    key: str


Output = Union[AlertChanged, CaseChanged, EventToEmit, EarlyWarningItem, AlertIndexEntry]


class Step(NamedTuple):
    """What one input did: the new record (None: nothing changed, keep the old) and the outputs."""

    record: CaseRecord | None
    outputs: list[Output]


NOTHING = Step(None, [])


@dataclass(frozen=True, slots=True)
class Escalation:
    """An officer's hand escalation (`case.escalate`), already validated at the door."""

    command_id: str
    officer_id: str
    issued_at: datetime
    to_level: str
    reason: str

    @classmethod
    def from_json(cls, cmd: dict[str, Any]) -> "Escalation":
        return cls(str(cmd["command_id"]), cmd["officer_id"], datetime.fromisoformat(cmd["issued_at"]),
                   cmd["to_level"], cmd["reason"])


def default_route(category: str, topic: str, difficulty: str, region_code: str) -> tuple[str, str]:
    """Triage through the domain's dispatch rules (data, not code)."""
    from fengqiao.domain import triage

    return triage.route(category, topic, difficulty or None, region_code)


# ------------------------------------------------------------------ rules
class CaseRules:
    """Events, the clock and commands applied to one `CaseRecord` (pure: `now` is an argument)."""

    def __init__(self, policy: Policy, calendar: WorkCalendar, renotify: timedelta = al.RENOTIFY,
                 auto_dispatch: timedelta = timedelta(minutes=5), route: Route | None = None):
        self.policy, self.cal = policy, calendar
        self.renotify, self.auto_dispatch = renotify, auto_dispatch
        self.route = route or default_route

    def on_event(self, rec: CaseRecord | None, ev: Any, partition: int, now: datetime,
                 upto: datetime | None = None) -> Step:
        """Apply one contract event; raises the lifecycle's `LifecycleError` for a disallowed one.

        `upto` (default `now`): the latest instant whose SLA stages may be raised and auto-dispatch
        may act on. A worker behind its input passes the instant its input has reached (what was
        produced before it is applied), so a stage is not raised while the event that ends it waits
        in the backlog: stages between `upto` and `now` are raised by the clock once it gets there.

        A duplicate `event_id` changes nothing; it publishes the case's current snapshot again
        (same version: the read model keeps one). A worker killed after its table write reached
        the changelog but before the snapshot was sent re-reads the event as a duplicate on
        restart, and without this the case would never reach the read model."""
        upto = now if upto is None or upto > now else upto
        old = rec.state if rec is not None else None
        new = apply(old, ev, self.policy, self.cal)
        if old is not None and new is old:
            return Step(None, [CaseChanged(snapshot(old))])
        r = rec.copy() if rec is not None else CaseRecord(new, partition)
        r.partition = partition
        outs: list[Output] = [CaseChanged(snapshot(new))]
        if old is None:
            p = ev.payload
            outs.append(EarlyWarningItem(new.case_id, new.region_code, new.topic, new.received_at or ev.occurred_at,
                                         f"{p.title} {p.content}"[:EARLY_TEXT_MAX]))
        else:  # stages that fell due before this event happened and were not raised (the worker was down,
            # or the event came between two ticks): raised now, late, before the event ends them
            outs += self._raise_due(r, min(upto, ev.occurred_at), now)
        outs += self._resolve_met(r, new, now)
        r.state = new
        outs += self._run_due(r, now, upto)
        return Step(r, outs)

    def on_tick(self, rec: CaseRecord, now: datetime, upto: datetime | None = None) -> Step:
        """The clock reached the record's wake-up: due stages, re-notifications, silences, dispatch
        (`upto`: as in `on_event`)."""
        r = rec.copy()
        before = (r.wake_at, r.dispatched, r.overdue, r.dispatch_due)
        outs = self._run_due(r, now, upto)
        if not outs and before == (r.wake_at, r.dispatched, r.overdue, r.dispatch_due):
            return NOTHING
        return Step(r, outs)

    def on_command(self, rec: CaseRecord, cmd: al.AlertCommand, now: datetime) -> Step:
        """Acknowledge or silence one of the case's alerts."""
        for dk, slot in rec.alerts.items():
            if slot.alert is not None and slot.alert.alert_id == cmd.alert_id:
                new = al.apply_command(slot, cmd, now)
                if new is None or new.alert is None:
                    return NOTHING
                r = rec.copy()
                r.alerts[dk] = new
                self._set_wake(r, now)
                return Step(r, [AlertChanged(new.alert)])
        return NOTHING

    def escalate(self, rec: CaseRecord, cmd: Escalation) -> Step:
        """A hand escalation becomes a `case.escalated` event; the lifecycle decides when it arrives."""
        s = rec.state
        ev = EventToEmit(str(uuid.uuid5(ESCALATE_NS, cmd.command_id)), "case.escalated", s.case_id, cmd.issued_at,
                         s.region_code, "operator", cmd.officer_id, {"to_level": cmd.to_level, "reason": cmd.reason})
        return Step(None, [ev])

    # -------------------------------------------------------------- internals
    def _resolve_met(self, r: CaseRecord, state: CaseState, now: datetime) -> list[Output]:
        """A target that is no longer open (met, cancelled, replaced by a new round) resolves its alerts."""
        outs: list[Output] = []
        for dk, slot in list(r.alerts.items()):
            if slot.alert is None or slot.alert.state == "resolved":
                continue
            t = getattr(state, slot.target, None) if slot.target else None
            if t is not None and t.is_open and t.round == slot.round and state.status in OPEN:
                continue
            new = al.resolve(slot, now)
            if new is not None and new.alert is not None:
                r.alerts[dk] = new
                outs.append(AlertChanged(new.alert))
        return outs

    def _raise_due(self, r: CaseRecord, at: datetime, now: datetime,
                   stages: list[Any] | None = None) -> list[Output]:
        """Raise, stamped `now`, the record's SLA stages due by `at` and not raised yet: each target's
        latest one; the earlier ones are superseded (their keys spent, never raised)."""
        state, slots = r.state, r.alerts
        if stages is None:
            stages = sla.pending_stages(state, self.policy, self.cal) if state.status in OPEN else []
        outs: list[Output] = []
        due = [s for s in stages if s.at <= at and s.dedup_key not in slots]
        current = {s.target: s for s in due}  # time-ordered: the last due stage of each target is current
        for s in due:
            if current[s.target] is not s:
                slots[s.dedup_key] = al.superseded(s)
                continue
            slot = al.raise_sla(s, state.case_id, state.region_code, state.department, now, self.renotify)
            slots[s.dedup_key] = slot
            assert slot.alert is not None
            outs.append(AlertChanged(slot.alert))
            outs.append(AlertIndexEntry(slot.alert.alert_id, "case", state.case_id))
        return outs

    def _run_due(self, r: CaseRecord, now: datetime, upto: datetime | None = None) -> list[Output]:
        """Stages due by `upto` (raised, stamped `now`), re-notifications and silences by `now` (the
        wall clock's business), auto-dispatch by `upto`, then the next wake-up."""
        upto = now if upto is None or upto > now else upto
        state, slots = r.state, r.alerts
        stages = sla.pending_stages(state, self.policy, self.cal) if state.status in OPEN else []
        outs = self._raise_due(r, upto, now, stages)
        for dk, slot in list(slots.items()):
            new = al.due(slot, now, self.renotify)
            if new is not None and new.alert is not None:
                slots[dk] = new
                outs.append(AlertChanged(new.alert))
        if state.status in AUTO_DISPATCHED and (r.dispatch_due is None or r.dispatch_due.version != state.version):
            base = max(state.updated_at, upto) if state.updated_at else upto
            r.dispatch_due = DispatchDue(state.version, base + self.auto_dispatch)
        outs += self._maybe_dispatch(r, upto, now)
        r.overdue = any(s.overdue for s in slots.values())
        self._set_wake(r, upto, stages)
        return outs

    def _dispatch_at(self, r: CaseRecord) -> datetime | None:
        """When the platform assigns a case nobody assigned: `auto_dispatch` after the worker saw
        it become dispatchable (not after its event time, so a replayed backlog does not dispatch
        cases whose next events are still queued)."""
        state, dq = r.state, r.dispatch_due
        if state.status not in AUTO_DISPATCHED or r.dispatched == state.version:
            return None
        if dq is None or dq.version != state.version:
            return None
        return dq.at

    def _maybe_dispatch(self, r: CaseRecord, upto: datetime, now: datetime) -> list[Output]:
        at = self._dispatch_at(r)
        if at is None or at > upto:
            return []
        r.dispatched = r.state.version
        return [self._dispatch_event(r.state, now)]

    def _dispatch_event(self, state: CaseState, now: datetime) -> EventToEmit:
        department, level = self.route(state.category, state.topic, state.difficulty, state.region_code)
        eid = str(uuid.uuid5(DISPATCH_NS, f"{state.case_id}:{state.version}"))  # one id per state version
        return EventToEmit(eid, "case.assigned", state.case_id, now, state.region_code, "platform", "auto-dispatch",
                           {"department": department, "level": level})

    def redeliver(self, rec: CaseRecord, since: datetime, now: datetime) -> list[Output]:
        """What a worker that stopped right after writing `rec` may not have sent. Outputs leave after
        the table write and before the input's offset is committed, so a restarted worker re-reads the
        input, finds it applied and sends nothing: the raise of an SLA stage would be lost. Sent again on
        recovery: the current version of every alert changed since `since`, and the auto-dispatch emitted
        for the current state (its event id is fixed: a second copy is a duplicate the lifecycle drops).
        Consumers keep one row per alert version, so a copy of what did arrive changes nothing."""
        outs: list[Output] = [AlertChanged(s.alert) for s in rec.alerts.values()
                              if s.alert is not None and s.alert.updated_at >= since]
        if rec.dispatched == rec.state.version and rec.state.status in AUTO_DISPATCHED:
            outs.append(self._dispatch_event(rec.state, now))
        return outs

    def _set_wake(self, r: CaseRecord, now: datetime, stages: list[Any] | None = None) -> None:
        state, slots = r.state, r.alerts
        cands: list[datetime] = []
        if state.status in OPEN:
            if stages is None:
                stages = sla.pending_stages(state, self.policy, self.cal)
            nxt = next((s for s in stages if s.at > now and s.dedup_key not in slots), None)
            if nxt is not None:
                cands.append(nxt.at)
        for slot in slots.values():
            w = slot.wake_at
            if w is not None:
                cands.append(w)
        d = self._dispatch_at(r)
        if d is not None:
            cands.append(d)
        r.wake_at = min(cands) if cands else None
