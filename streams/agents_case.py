"""The case agent (events + case-ops, co-partitioned), the SLA ticker and the stats partials.

All changes to the case table happen here, inside stream iteration, on the worker that owns
the partition: contract events, timer ticks routed back through case-ops, alert commands
routed from the alert-index agent, and hand escalations.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import faust
import orjson

from fengqiao.contract import ContractError, parse_event
from fengqiao.domain import case_codec as codec
from fengqiao.domain.alerts import AlertCommand, AlertSlot
from fengqiao.domain.case import AlertChanged, AlertIndexEntry, CaseRecord, Escalation, Step, slot_version
from fengqiao.domain.lifecycle import LifecycleError

from streams.casework import contribution, serialise
from streams.stats import all_prefectures

TICK = b'{"op":"tick"}'


def register(rt: Any) -> None:
    app: faust.App = rt.app
    tables = rt.tables
    ops_name = rt.topics.case_ops.get_topic_name()
    source = app.topic(*rt.topics.case_sources, key_type=str, key_serializer="raw", value_serializer="raw")

    async def handle_event(message: Any, value: bytes) -> None:
        now = rt.clock()
        try:
            ev = parse_event(value)
        except ContractError as exc:
            await rt.dead_letter(value, f"contract: {exc.bilingual()}", message)
            return
        old = tables.case(ev.case_id)
        try:
            rec, outs = rt.logic.on_event(old, ev, message.partition, now)
        except LifecycleError as exc:
            await rt.dead_letter(value, f"lifecycle: {exc}", message)
            return
        if rec is None:  # duplicate event_id: nothing changes; its snapshot is sent again
            await rt.publish(serialise(outs))
            return
        await rt.put_case(ev.case_id, rec, message.partition)
        rt.events_applied += 1
        c = rt.counts_for(message.partition)
        c.change(contribution(old), contribution(rec))
        s = rec.state
        if old is None and s.received_at is not None:
            c.add_intake(s.region_code, s.received_at, s.category, s.channel)
        rt.schedule(ev.case_id, rec)
        await rt.publish(serialise(outs))

    async def handle_op(message: Any, key: str, value: bytes) -> None:
        """Internal ops on case-ops (written by this app only): a timer tick, a routed alert
        command, a hand escalation."""
        now = rt.clock()
        op = orjson.loads(value)
        old = tables.case(key)
        if old is None:
            if op.get("op") != "tick":  # an officer's command for a case nobody knows: never silently
                await rt.dead_letter(value, f"case-ops: unknown case {key} / 未知案件", message)
            return
        kind = op.get("op")
        if kind == "tick" and op.get("slots"):  # raised by the clock's own path: take them in
            at = datetime.fromisoformat(op["at"])
            slots = dict(codec.slot_from_list(v) for v in op["slots"])
            step = rt.logic.adopt(old, slots, at)
            rt.landed(key, slots)
        elif kind == "tick":
            step = rt.logic.on_tick(old, now)
        elif kind == "cmd":
            step = rt.logic.on_command(old, AlertCommand.from_json(op["cmd"]), now)
        elif kind == "escalate":
            step = rt.logic.escalate(old, Escalation.from_json(op["cmd"]))
        else:
            step = Step(None, [])
        rec, outs = step
        if rec is not None:
            await rt.put_case(key, rec, message.partition)
            rt.counts_for(message.partition).change(contribution(old), contribution(rec))
            rt.schedule(key, rec)
        elif kind == "tick":
            rt.schedule(key, old)  # nothing changed: keep its wake-up (popped by the ticker)
        await rt.publish(serialise(outs))

    @app.agent(source, name="cases")
    async def case_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message, value = event.message, event.value
            if message.topic == ops_name:
                await rt.guarded(message, value, lambda: handle_op(message, event.key, value))
            else:
                await rt.guarded(message, value, lambda: handle_event(message, value))
                rt.applied[message.partition] = message.offset

    rt.agents["cases"] = case_agent

    @app.timer(interval=rt.settings.streams.tick_seconds, on_leader=False)
    async def ticker() -> None:
        await fire_due(rt)

    @app.timer(interval=rt.settings.streams.stats_interval_seconds, on_leader=False)
    async def stats_partials() -> None:
        await publish_partials(rt)

    @tables.cases.on_recover
    async def _recovered() -> None:
        rt.rebuild()


async def fire_due(rt: Any) -> int:
    """For every case whose wake-up is due (only owned partitions are in the heap): raise what is due
    right here and publish it, then send a tick carrying the changed alert slots through case-ops,
    where the case's stream takes them into the table (`CaseRules.adopt`). The alert does not wait
    behind the event backlog; its id and version are what the stream would have given it."""
    if not rt.ready:
        return 0
    now = rt.clock()
    due = rt.heap.pop_due(now.timestamp())
    at = now.isoformat()
    fired = 0
    for case_id in [*rt.waiting, *due]:
        rec = rt.tables.case(case_id)
        if rec is not None:
            # what happened before the due instant comes first: an event already on the case's
            # partition then (a signing in the backlog) is applied before the clock raises anything
            p, mark = rt.waiting.get(case_id) or (rec.partition, rt.events_end(rec.partition))
            if not rt.caught_up(p, mark):
                rt.waiting[case_id] = (p, mark)
                continue
        rt.waiting.pop(case_id, None)
        slots = await raise_due(rt, case_id, rec, now) if rec is not None else {}
        body = TICK if not slots else orjson.dumps(
            {"op": "tick", "at": at, "slots": [codec.slot_to_list(dk, sl) for dk, sl in slots.items()]})
        await rt.send(rt.topics.case_ops, case_id.encode(), body)
        fired += 1
    return fired


async def raise_due(rt: Any, case_id: str, rec: CaseRecord, now: datetime) -> dict[str, AlertSlot]:
    """`on_tick` on a read of the record plus the slots raised earlier whose tick is still queued
    (so nothing is raised twice); publishes the alerts and their index entries, returns the changed slots."""
    pending = rt.inflight.get(case_id)
    if pending:
        rec = rec.copy()
        rec.alerts.update({dk: sl for dk, sl in pending.items()
                           if dk not in rec.alerts or slot_version(rec.alerts[dk]) < slot_version(sl)})
    new, outs = rt.logic.on_tick(rec, now)
    if new is None:
        return {}
    changed = {dk: sl for dk, sl in new.alerts.items() if rec.alerts.get(dk) is not sl}
    await rt.publish(serialise([o for o in outs if isinstance(o, (AlertChanged, AlertIndexEntry))]))
    if changed:
        rt.inflight.setdefault(case_id, {}).update(changed)
    return changed


async def publish_partials(rt: Any) -> None:
    """Absolute partial counts of each owned case partition, per prefecture (key: prefecture)."""
    if not rt.ready:
        return
    now = rt.clock()
    mine = rt.owned(rt.topics.events.get_topic_name())
    for p in sorted(mine):
        c = rt.counts_for(p)
        c.prune(now)
        parts = c.partials(now)
        for pref in all_prefectures():
            body = {"p": p, "pref": pref, "at": now.isoformat(), "r": parts.get(pref, {})}
            await rt.send(rt.topics.stat_parts, pref.encode(), json.dumps(body, ensure_ascii=False).encode())
