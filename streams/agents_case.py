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
from fengqiao.domain.alerts import AlertCommand
from fengqiao.domain.case import Escalation, Step
from fengqiao.domain.lifecycle import LifecycleError
from fengqiao.vocab import TZ

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
        # stages may be raised up to the instant this event was produced: what came before is applied,
        # what comes after may end them (the clock raises the rest once the input is read to the end)
        upto = datetime.fromtimestamp(message.timestamp, TZ) if message.timestamp else now
        try:
            ev = parse_event(value)
        except ContractError as exc:
            await rt.dead_letter(value, f"contract: {exc.bilingual()}", message)
            return
        old = tables.case(ev.case_id)
        try:
            rec, outs = rt.logic.on_event(old, ev, message.partition, now, upto)
        except LifecycleError as exc:
            await rt.dead_letter(value, f"lifecycle: {exc}", message)
            return
        if rec is None:  # duplicate event_id: nothing changes; its snapshot is sent again
            await rt.publish(serialise(outs))
            return
        tables.put_case(ev.case_id, rec)
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
        if kind == "tick":
            step = rt.logic.on_tick(old, now, datetime.fromtimestamp(rt.watermark(message.partition), TZ))
        elif kind == "cmd":
            step = rt.logic.on_command(old, AlertCommand.from_json(op["cmd"]), now)
        elif kind == "escalate":
            step = rt.logic.escalate(old, Escalation.from_json(op["cmd"]))
        else:
            step = Step(None, [])
        rec, outs = step
        if rec is not None:
            tables.put_case(key, rec)
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
                rt.note_applied(message.partition, message.offset, message.timestamp)  # dead letters too

    rt.agents["cases"] = case_agent

    @app.timer(interval=rt.settings.streams.tick_seconds, on_leader=False)
    async def ticker() -> None:
        await fire_due(rt)

    @app.timer(interval=rt.settings.streams.stats_interval_seconds, on_leader=False)
    async def stats_partials() -> None:
        await publish_partials(rt)

    @tables.cases.on_recover
    async def _recovered() -> None:
        await rt.publish(serialise(rt.rebuild()))


async def fire_due(rt: Any) -> int:
    """Send a tick through case-ops for every case whose wake-up is due (only owned partitions are in the heap)."""
    if not rt.ready:
        return 0
    due = rt.heap.pop_due(rt.clock().timestamp(), until=rt.watermark)  # a partition behind waits for its input
    for case_id in due:
        await rt.send(rt.topics.case_ops, case_id.encode(), TICK)
    return len(due)


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
