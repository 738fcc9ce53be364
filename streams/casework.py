"""What happens to one case's table entry, as pure functions (the Faust agents only move bytes).

Table entry (JSON, key `case_id`)::

    {"s": CaseState.to_dict(), "p": partition, "a": {dedup_key: alert slot},
     "w": next wake (ISO) or None, "d": state version auto-dispatch was requested at,
     "ov": overdue now (bool)}

`on_event` applies a contract event through the domain lifecycle, `on_tick` runs the
timers that are due (SLA stages via `sla.pending_stages`, re-notification, end of a
silence, auto-dispatch), `on_command` acknowledges / silences one alert. Each returns
the new entry and the messages to publish (`Out`). Nothing here reads a clock.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from fengqiao.contract import Envelope
from fengqiao.domain import sla
from fengqiao.domain.calendar import WorkCalendar
from fengqiao.domain.lifecycle import OPEN, CaseState, apply, snapshot
from fengqiao.domain.policy import Policy

from streams import alerts as al

DISPATCH_NS = uuid.UUID("0b7e4c6a-2f55-5d2e-9c1d-3e8f6a1b2c4d")
DISPATCHABLE = frozenset({"received", "returned", "reopened"})
Route = Callable[[str, str, str, str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Out:
    """One message to publish: `topic` is a logical name (alerts, cases, events, alert_index, early)."""

    topic: str
    key: bytes | None
    value: bytes


def default_route(category: str, topic: str, difficulty: str, region_code: str) -> tuple[str, str]:
    """Triage through the domain's dispatch rules (data, not code)."""
    from fengqiao.domain import triage  # lazily: written in parallel

    return triage.route(category, topic, difficulty or None, region_code)


class CaseLogic:
    def __init__(self, policy: Policy, calendar: WorkCalendar, renotify_seconds: float = 900.0,
                 auto_dispatch_after_seconds: float = 300.0, route: Route | None = None):
        self.policy, self.cal = policy, calendar
        self.renotify = timedelta(seconds=renotify_seconds)
        self.auto_dispatch = timedelta(seconds=auto_dispatch_after_seconds)
        self.route = route or default_route

    # ---------------------------------------------------------------- events
    def on_event(self, entry: dict[str, Any] | None, ev: Envelope, partition: int,
                 now: datetime) -> tuple[dict[str, Any] | None, list[Out]]:
        """Apply one event; raises the domain's `LifecycleError` for a disallowed one.

        A duplicate `event_id` returns `(None, [])`: nothing changes, nothing is published.
        """
        old = CaseState.from_dict(entry["s"]) if entry else None
        new = apply(old, ev, self.policy, self.cal)
        if old is not None and new is old:
            return None, []
        entry = dict(entry) if entry else {"a": {}, "p": partition}
        entry["p"] = partition
        entry["a"] = dict(entry.get("a") or {})
        outs: list[Out] = [Out("cases", new.case_id.encode(), snapshot(new).to_json())]
        if old is None:
            payload = ev.payload  # type: ignore[attr-defined]
            early = {"case_id": new.case_id, "region_code": new.region_code, "topic": new.topic,
                     "at": new.received_at.isoformat() if new.received_at else ev.occurred_at.isoformat(),
                     "text": f"{payload.title} {payload.content}"[:600]}
            outs.append(Out("early", new.region_code.encode(), json.dumps(early, ensure_ascii=False).encode()))
        outs += self._resolve_met(entry, new, now)
        entry["s"] = new.to_dict()
        outs += self._run_due(entry, new, now)
        return entry, outs

    # ---------------------------------------------------------------- timers
    def on_tick(self, entry: dict[str, Any], now: datetime) -> tuple[dict[str, Any] | None, list[Out]]:
        state = CaseState.from_dict(entry["s"])
        entry = dict(entry)
        entry["a"] = dict(entry.get("a") or {})
        before = (entry.get("w"), entry.get("d"), entry.get("ov"), entry.get("dq"))
        outs = self._run_due(entry, state, now)
        if not outs and before == (entry.get("w"), entry.get("d"), entry.get("ov"), entry.get("dq")):
            return None, []
        return entry, outs

    def on_command(self, entry: dict[str, Any], cmd: dict[str, Any], now: datetime) -> tuple[dict[str, Any] | None, list[Out]]:
        slots = entry.get("a") or {}
        for dk, slot in slots.items():
            rec = slot.get("r")
            if rec and rec["alert_id"] == cmd.get("alert_id"):
                new = al.apply_command(slot, cmd, now, self.renotify)
                if new is None:
                    return None, []
                entry = dict(entry)
                entry["a"] = {**slots, dk: new}
                state = CaseState.from_dict(entry["s"])
                self._set_wake(entry, state, now)
                return entry, [Out("alerts", dk.encode(), al.encode(new["r"]))]
        return None, []

    # ---------------------------------------------------------------- internals
    def _resolve_met(self, entry: dict[str, Any], state: CaseState, now: datetime) -> list[Out]:
        """A target that is no longer open (met, cancelled, replaced by a new round) resolves its alerts."""
        outs = []
        for dk, slot in list(entry["a"].items()):
            rec = slot.get("r")
            if not rec or rec["state"] == "resolved":
                continue
            t = getattr(state, slot["t"], None)
            if t is not None and t.is_open and t.round == slot["rd"] and state.status in OPEN:
                continue
            new = al.change(rec, now, state="resolved")
            entry["a"][dk] = {**slot, "r": new, "n": None}
            outs.append(Out("alerts", dk.encode(), al.encode(new)))
        return outs

    def _run_due(self, entry: dict[str, Any], state: CaseState, now: datetime) -> list[Out]:
        outs: list[Out] = []
        slots = entry["a"]
        stages = sla.pending_stages(state, self.policy, self.cal) if state.status in OPEN else []
        if stages:
            due = [s for s in stages if s.at <= now and s.dedup_key not in slots]
            current = {s.target: s for s in due}  # time-ordered: the last due stage of each target is current
            for s in due:
                if current[s.target] is not s:
                    slots[s.dedup_key] = {"r": None, "t": s.target, "rd": s.round}  # stale: superseded, not raised
                    continue
                rec = al.sla_alert(s, state.case_id, state.region_code, state.department, now)
                n = (now + self.renotify).isoformat() if rec.severity == "critical" else None
                slots[s.dedup_key] = {"r": rec.model_dump(mode="json"), "n": n, "t": s.target, "rd": s.round}
                outs.append(Out("alerts", s.dedup_key.encode(), rec.to_json()))
                owner = json.dumps({"op": "index", "alert_id": rec.alert_id, "owner": "case", "key": state.case_id})
                outs.append(Out("alert_index", rec.alert_id.encode(), owner.encode()))
        for dk, slot in list(slots.items()):
            new = al.due_timers(slot, now, self.renotify)
            if new is not None:
                slots[dk] = new
                outs.append(Out("alerts", dk.encode(), al.encode(new["r"])))
        if state.status in DISPATCHABLE and (entry.get("dq") or [None])[0] != state.version:
            base = max(state.updated_at, now) if state.updated_at else now
            entry["dq"] = [state.version, (base + self.auto_dispatch).isoformat()]
        outs += self._maybe_dispatch(entry, state, now)
        entry["ov"] = any(sl.get("r") and sl["r"]["state"] != "resolved" and sl["r"]["stage"] in ("overdue", "escalation")
                          for sl in slots.values())
        self._set_wake(entry, state, now, stages)
        return outs

    def _dispatch_at(self, entry: dict[str, Any], state: CaseState) -> datetime | None:
        """When the platform assigns a case nobody assigned: `auto_dispatch_after_seconds` after
        the worker saw it become dispatchable (not after its event time, so a replayed backlog
        does not dispatch cases whose next events are still queued)."""
        if state.status not in DISPATCHABLE or entry.get("d") == state.version:
            return None
        dq = entry.get("dq")
        if not dq or dq[0] != state.version:
            return None
        return datetime.fromisoformat(dq[1])

    def _maybe_dispatch(self, entry: dict[str, Any], state: CaseState, now: datetime) -> list[Out]:
        at = self._dispatch_at(entry, state)
        if at is None or at > now:
            return []
        entry["d"] = state.version
        department, level = self.route(state.category, state.topic, state.difficulty, state.region_code)
        ev = {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(DISPATCH_NS, f"{state.case_id}:{state.version}")),
            "event_type": "case.assigned", "case_id": state.case_id, "occurred_at": now.isoformat(),
            "region_code": state.region_code, "channel": "internal",
            "actor": {"role": "platform", "id": "auto-dispatch"},
            "payload": {"department": department, "level": level},
        }
        return [Out("events", state.case_id.encode(), json.dumps(ev, ensure_ascii=False).encode())]

    def _set_wake(self, entry: dict[str, Any], state: CaseState, now: datetime, stages: list[Any] | None = None) -> None:
        slots = entry["a"]
        cands: list[datetime] = []
        if state.status in OPEN:
            if stages is None:
                stages = sla.pending_stages(state, self.policy, self.cal)
            nxt = next((s for s in stages if s.at > now and s.dedup_key not in slots), None)
            if nxt is not None:
                cands.append(nxt.at)
        for slot in slots.values():
            w = al.wake_of(slot)
            if w:
                cands.append(datetime.fromisoformat(w))
        d = self._dispatch_at(entry, state)
        if d is not None:
            cands.append(d)
        entry["w"] = min(cands).isoformat() if cands else None


def contribution(entry: dict[str, Any] | None) -> tuple[str, str, str, bool, bool] | None:
    """(region, category, channel, open, overdue) of one case for the rolling counts."""
    if not entry:
        return None
    s = entry["s"]
    is_open = s.get("status", "") in OPEN
    return s.get("region_code", ""), s.get("category", ""), s.get("channel", ""), is_open, bool(entry.get("ov")) and is_open
