"""The case agent (events + case-ops, co-partitioned), the SLA ticker and the stats partials.

All changes to the case table happen here, inside stream iteration, on the worker that owns
the partition: contract events, timer ticks routed back through case-ops, alert commands
routed from the alert-index agent, and hand escalations.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import faust

from fengqiao.contract import ContractError, parse_event
from fengqiao.domain.lifecycle import CaseState, LifecycleError

from streams.casework import Out, contribution
from streams.stats import all_prefectures

ESCALATE_NS = uuid.UUID("a3c7d9e1-5b2f-5c4d-8e6f-1a2b3c4d5e6f")


def register(rt: Any) -> None:
    app: faust.App = rt.app
    cases = rt.tables.cases
    events_name = rt.topics.events.get_topic_name()
    ops_name = rt.topics.case_ops.get_topic_name()
    source = app.topic(*rt.topics.case_sources, key_type=str, key_serializer="raw", value_serializer="raw")

    async def handle_event(message: Any, value: bytes) -> None:
        now = rt.clock()
        try:
            ev = parse_event(value)
        except ContractError as exc:
            await rt.dead_letter(value, f"contract: {exc.bilingual()}", message)
            return
        old = cases.get(ev.case_id)
        try:
            entry, outs = rt.logic.on_event(old, ev, message.partition, now)
        except LifecycleError as exc:
            await rt.dead_letter(value, f"lifecycle: {exc}", message)
            return
        if entry is None:
            return  # duplicate event_id: nothing changes
        cases[ev.case_id] = entry
        rt.events_applied += 1
        c = rt.counts_for(message.partition)
        c.change(contribution(old), contribution(entry))
        if old is None and entry["s"].get("received_at"):
            from datetime import datetime

            s = entry["s"]
            c.add_intake(s["region_code"], datetime.fromisoformat(s["received_at"]), s.get("category", ""),
                         s.get("channel", ""))
        rt.schedule(ev.case_id, entry)
        await rt.publish(outs)

    async def handle_op(message: Any, key: str, value: bytes) -> None:
        now = rt.clock()
        op = json.loads(value)
        old = cases.get(key)
        if old is None:
            return
        kind = op.get("op")
        if kind == "tick":
            entry, outs = rt.logic.on_tick(old, now)
        elif kind == "cmd":
            entry, outs = rt.logic.on_command(old, op["cmd"], now)
        elif kind == "escalate":
            entry, outs = None, [escalation_event(old, op["cmd"])]
        else:
            return
        if entry is not None:
            cases[key] = entry
            rt.counts_for(message.partition).change(contribution(old), contribution(entry))
            rt.schedule(key, entry)
        elif kind == "tick":
            rt.schedule(key, old)  # nothing changed: keep its wake-up (popped by the ticker)
        await rt.publish(outs)

    @app.agent(source, name="cases")
    async def case_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            value = event.value
            # the test context names no topic: internal ops are then told apart by their shape
            is_op = message.topic == ops_name or (message.topic != events_name and value.startswith(b'{"op"'))
            if is_op:
                await handle_op(message, event.key, value)
            else:
                await handle_event(message, value)

    rt.agents["cases"] = case_agent

    @app.timer(interval=rt.settings.streams.tick_seconds, on_leader=False)
    async def ticker() -> None:
        await fire_due(rt)

    @app.timer(interval=rt.settings.streams.stats_interval_seconds, on_leader=False)
    async def stats_partials() -> None:
        await publish_partials(rt)

    @cases.on_recover
    async def _recovered() -> None:
        rt.rebuild()


async def fire_due(rt: Any) -> int:
    """Send a tick through case-ops for every case whose wake-up is due (only owned partitions are in the heap)."""
    if not rt.ready:
        return 0
    due = rt.heap.pop_due(rt.clock().timestamp())
    tick = b'{"op":"tick"}'
    for case_id in due:
        await rt.send(rt.topics.case_ops, case_id.encode(), tick)
    return len(due)


async def publish_partials(rt: Any) -> None:
    """Absolute partial counts of each owned case partition, per prefecture (key: prefecture)."""
    if not rt.ready:
        return
    now = rt.clock()
    mine = rt.owned(rt.topics.events.get_topic_name())
    for p in sorted(mine if mine is not None else rt.counts):
        c = rt.counts_for(p)
        c.prune(now)
        parts = c.partials(now)
        for pref in all_prefectures():
            body = {"p": p, "pref": pref, "at": now.isoformat(), "r": parts.get(pref, {})}
            await rt.send(rt.topics.stat_parts, pref.encode(), json.dumps(body, ensure_ascii=False).encode())


def escalation_event(entry: dict[str, Any], cmd: dict[str, Any]) -> Out:
    """An officer's `case.escalate` command becomes a `case.escalated` event (the lifecycle decides)."""
    s = CaseState.from_dict(entry["s"])
    ev = {
        "schema_version": 1, "event_id": str(uuid.uuid5(ESCALATE_NS, str(cmd["command_id"]))),
        "event_type": "case.escalated", "case_id": s.case_id, "occurred_at": cmd["issued_at"],
        "region_code": s.region_code, "channel": "internal",
        "actor": {"role": "operator", "id": cmd["officer_id"]},
        "payload": {"to_level": cmd["to_level"], "reason": cmd["reason"]},
    }
    return Out("events", s.case_id.encode(), json.dumps(ev, ensure_ascii=False).encode())
