"""Channel heartbeat agents around `fengqiao.domain.heartbeat`.

* the feed (run by the repeat agent's pass over the events topic, so the events are read once
  for both) forwards each petition's channel and instant to the internal `beat` topic keyed by
  channel (a repartition: one channel's traffic from every case partition meets on one
  partition, so its silence is judged over all of it).
* `beat` keeps one `ChannelLog` per channel in a table; a timer on every worker sends a tick
  through `beat` for each channel it owns every `TICKS_PER_STATS` stats intervals (10 s by
  default), and the tick (inside stream
  iteration, where the table may be written) raises the silence alert once (`dedup_key`:
  channel and last petition instant) on `petitions.alerts`, or resolves it when traffic is back.
  The alert is indexed with owner `beat`, so an officer's acknowledgement or silence is routed
  back to this table (`Runtime.alert_owners`) and follows the same alert state machine.

The feed reads only `channel` and `occurred_at` (no contact data); an event it cannot read is
the case agent's dead letter already and is skipped here.
"""

from __future__ import annotations

from datetime import datetime
from collections.abc import Awaitable, Callable
from typing import Any

import faust
import orjson

from broker.topics import internal_topics
from fengqiao.domain import case_codec as codec
from fengqiao.domain import heartbeat as hb
from fengqiao.settings import INTAKE_CHANNELS
from streams import alerts as al
from streams.tables import ROCKSDB_OPTIONS

TICKS_PER_STATS = 5  # the heartbeat looks every 5 stats intervals
_RECEIVED = b'"petition.received"'
_TICK = b'{"op":"tick"}'


def petition_beat(value: bytes | None) -> tuple[str, datetime] | None:
    """(channel, occurred_at) of a petition.received event; None for anything else or unreadable."""
    if not value or _RECEIVED not in value:
        return None
    try:
        d = orjson.loads(value)
        at = datetime.fromisoformat(d["occurred_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    ch = d.get("channel")
    if d.get("event_type") != "petition.received" or ch not in INTAKE_CHANNELS or at.tzinfo is None:
        return None
    return ch, at


Feed = Callable[[bytes], Awaitable[None]]


def register(rt: Any, rule: hb.HeartbeatRule = hb.HeartbeatRule()) -> Feed:
    """The beat agent and its timer; returns the feed (one call per events-topic message), which
    the repeat agent's pass over the events runs, so the events are read once for both."""
    app: faust.App = rt.app
    s = rt.settings
    n = s.topics.partitions
    beat_topic = app.topic(internal_topics(s.streams.app_id)["beat"], partitions=n, key_type=str,
                           key_serializer="raw", value_serializer="raw", internal=True)
    beats = app.Table("beat", default=None, partitions=n, key_type=str, options=dict(ROCKSDB_OPTIONS))
    rt.alert_owners["beat"] = beat_topic  # officers' acknowledgements / silences come back here

    async def feed(value: bytes) -> None:
        got = petition_beat(value)
        if got is not None:
            await rt.send(beat_topic, got[0].encode(), orjson.dumps({"at": got[1].isoformat()}))

    async def publish(slot: dict[str, Any], channel: str, first: bool) -> None:
        beats[f"a|{channel}"] = slot
        rec = slot["r"]
        await rt.send(rt.topics.alerts, rec["dedup_key"].encode(), al.encode(rec))
        if first:  # the alert-index learns who owns it, so the console's commands reach this table
            idx = {"op": "index", "alert_id": rec["alert_id"], "owner": "beat", "key": channel, "dk": rec["dedup_key"]}
            await rt.send(rt.topics.alert_index, rec["alert_id"].encode(), orjson.dumps(idx))

    async def on_command(message: Any, channel: str, raw: bytes, msg: dict[str, Any]) -> None:
        slot = beats.get(f"a|{channel}")
        if slot is None or slot["r"]["dedup_key"] != msg.get("dk"):
            await rt.dead_letter(raw, f"beat: no live heartbeat alert {msg.get('dk')} / 无此渠道心跳告警", message)
            return
        new = al.apply_command(slot, msg["cmd"], rt.clock(), rt.logic.renotify)
        if new is not None:
            await publish(new, channel, first=False)

    async def on_beat(message: Any, channel: str, value: bytes) -> None:
        if value != _TICK:
            msg = orjson.loads(value)
            if msg.get("op") == "cmd":
                await on_command(message, channel, value, msg)
                return
            old = beats.get(channel)
            log = hb.log_from_dict(old) if old else hb.ChannelLog(channel)
            beats[channel] = hb.log_to_dict(log.record(datetime.fromisoformat(msg["at"]), rule))
            return
        old = beats.get(channel)
        if old is None:
            return
        now = rt.clock()
        log, action = hb.check(hb.log_from_dict(old), now, rule)
        if action is None:
            return
        beats[channel] = hb.log_to_dict(log)
        if action == "raise":
            await publish({"r": codec.alert_to_json(hb.silence_alert(log, now, rule))}, channel, first=True)
        elif (held := beats.get(f"a|{channel}")) is not None:
            await publish({"r": al.change(held["r"], now, state="resolved")}, channel, first=False)

    @app.agent(beat_topic, name="beat")
    async def beat_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, key, raw = event.message, event.key, event.value
            await rt.guarded(m, raw, lambda: on_beat(m, key, raw))

    @app.timer(interval=s.streams.stats_interval_seconds * TICKS_PER_STATS, on_leader=False)
    async def beat_ticks() -> None:
        for channel in [k for k in beats.keys() if not k.startswith("a|")]:
            await rt.send(beat_topic, channel.encode(), _TICK)

    rt.agents.update(beat=beat_agent)
    return feed
