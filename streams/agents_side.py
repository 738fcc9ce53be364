"""Commands, alert-id routing, region totals and early warning agents.

* commands (contract topic, any key): validated; acknowledge/silence go to the alert-index
  topic keyed by `alert_id`; case.escalate goes to case-ops keyed by `case_id`.
* alert-index (internal, key alert_id): remembers each alert's owner (a case or a region)
  and forwards commands to the owner's co-partitioned topic, where the alert state lives.
* stat-parts (internal, key prefecture): sums per-partition partials into `RegionStats`.
* early (internal, key region): hotspots and class cases per county.
"""

from __future__ import annotations

import json
from typing import Any

import faust
from pydantic import TypeAdapter, ValidationError

from fengqiao.contract import ContractError, check_json_bounds, reasons_of
from fengqiao.process import TRIM
from fengqiao.records import Command
from fengqiao.settings import reveal
from fengqiao.signing import header_value, verify

from streams import alerts as al

COMMAND = TypeAdapter(Command)


def register(rt: Any) -> None:
    app: faust.App = rt.app
    t = rt.topics
    owners = rt.tables.alert_owner
    early = rt.tables.early
    command_key = reveal(rt.settings.command_key)

    async def on_command(message: Any, raw: bytes) -> None:
        refused = verify(command_key, raw, header_value(message.headers))  # only the console's commands
        if refused:
            await rt.dead_letter(raw, refused, message)
            return
        try:
            cmd = COMMAND.validate_json(check_json_bounds(raw))
        except ContractError as exc:
            await rt.dead_letter(raw, f"command: {exc.bilingual()}", message)
            return
        except ValidationError as exc:  # reasons only: pydantic's own errors quote the input
            await rt.dead_letter(raw, f"command: {ContractError(reasons_of(exc)).bilingual()}", message)
            return
        body = cmd.model_dump(mode="json")
        if cmd.type in ("alert.acknowledge", "alert.silence"):
            await rt.send(t.alert_index, cmd.alert_id.encode(), json.dumps({"op": "cmd", "cmd": body}).encode())
        elif cmd.type == "case.escalate":
            await rt.send(t.case_ops, cmd.case_id.encode(), json.dumps({"op": "escalate", "cmd": body}).encode())
        # case.reveal_contact is an audit record only (stored by the sink)

    async def on_alert_index(message: Any, raw: bytes) -> None:
        msg = json.loads(raw)
        if msg["op"] == "index":
            if owners.get(msg["alert_id"]) is None:
                owners[msg["alert_id"]] = {"owner": msg["owner"], "key": msg["key"], "dk": msg.get("dk")}
            return
        cmd = msg["cmd"]
        owner = owners.get(cmd["alert_id"])
        if owner is None:
            await rt.dead_letter(raw, f"unknown alert_id {cmd['alert_id']} / 未知告警", message)
            return
        target = t.case_ops if owner["owner"] == "case" else rt.alert_owners.get(owner["owner"], t.early)
        body = {"op": "cmd", "cmd": cmd, "dk": owner.get("dk")}
        await rt.send(target, owner["key"].encode(), json.dumps(body).encode())

    async def on_stat_part(message: Any, raw: bytes) -> None:
        part = json.loads(raw)
        rt.totals.put(part["pref"], part["p"], part["r"])
        rt.pref_partition[part["pref"]] = message.partition

    async def on_early(message: Any, region: str, raw: bytes) -> None:
        msg = json.loads(raw)
        now = rt.clock()
        if msg.get("op") == "cmd":
            dk = msg.get("dk", "")
            slot = early.get(f"a|{dk}")
            new = al.apply_command(slot, msg["cmd"], now, rt.logic.renotify) if slot else None
            if new is not None:
                early[f"a|{dk}"] = new
                await rt.send(t.alerts, dk.encode(), al.encode(new["r"]))
            return
        _, recs = rt.ew.on_intake(early, msg, now)
        for rec in recs:
            await rt.send(t.alerts, rec.dedup_key.encode(), rec.to_json())
            if rec.version == 1:
                idx = {"op": "index", "alert_id": rec.alert_id, "owner": "region", "key": region,
                       "dk": rec.dedup_key}
                await rt.send(t.alert_index, rec.alert_id.encode(), json.dumps(idx).encode())

    # Every agent runs each message through `rt.guarded`: whatever fails on one message becomes a
    # dead letter naming its topic/partition/offset, and the stream goes on (issue 11: no silent drop).
    @app.agent(t.commands, name="commands")
    async def commands_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, raw = event.message, event.value
            await rt.guarded(m, raw, lambda: on_command(m, raw))

    @app.agent(app.topic(t.alert_index.get_topic_name(), key_type=str, key_serializer="raw", value_serializer="raw"),
               name="alert-index")
    async def alert_index_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, raw = event.message, event.value
            await rt.guarded(m, raw, lambda: on_alert_index(m, raw))

    @app.agent(app.topic(t.stat_parts.get_topic_name(), key_type=str, key_serializer="raw", value_serializer="raw"),
               name="stat-parts")
    async def stat_parts_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, raw = event.message, event.value
            await rt.guarded(m, raw, lambda: on_stat_part(m, raw))

    @app.timer(interval=rt.settings.streams.stats_interval_seconds, on_leader=False)
    async def publish_stats() -> None:
        await publish_region_stats(rt)

    @app.timer(interval=TRIM.every_s, on_leader=False)
    async def trim_malloc() -> None:  # free pages back to the OS (fengqiao/process.py MallocTrim)
        TRIM.maybe()

    @app.agent(app.topic(t.early.get_topic_name(), key_type=str, key_serializer="raw", value_serializer="raw"),
               name="early")
    async def early_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, key, raw = event.message, event.key, event.value
            await rt.guarded(m, raw, lambda: on_early(m, key, raw))

    @early.on_recover
    async def _early_recovered() -> None:
        rt.ew.rebuild(early.items(), rt.clock())

    rt.agents.update(commands=commands_agent, alert_index=alert_index_agent, stat_parts=stat_parts_agent,
                     early=early_agent)


async def publish_region_stats(rt: Any) -> int:
    """RegionStats for each prefecture whose stat-parts partition this worker owns, once all
    case partitions have reported (so a fresh worker never publishes a partial sum)."""
    now = rt.clock()
    n_parts = rt.settings.topics.partitions
    mine = rt.owned(rt.topics.stat_parts.get_topic_name())
    sent = 0
    for pref, partition in list(rt.pref_partition.items()):
        if mine is not None and partition not in mine:
            rt.totals.forget(pref)
            del rt.pref_partition[pref]
            continue
        if len(rt.totals.parts.get(pref, {})) < n_parts:
            continue
        for rec in rt.totals.region_stats(pref, now):
            await rt.send(rt.topics.stats, rec.region_code.encode(), rec.to_json())
            sent += 1
    rt.stats_published += sent
    return sent
