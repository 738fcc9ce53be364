"""Channel heartbeat agents around `fengqiao.domain.heartbeat`.

* `beat-feed` reads the events topic and forwards each petition's channel and instant to the
  internal `beat` topic keyed by channel (a repartition: one channel's traffic from every case
  partition meets on one partition, so its silence is judged over all of it).
* `beat` keeps one `ChannelLog` per channel in a table; a timer on every worker sends a tick
  through `beat` for each channel it owns every `TICKS_PER_STATS` stats intervals (10 s by
  default), and the tick (inside stream
  iteration, where the table may be written) raises the silence alert once (`dedup_key`:
  channel and last petition instant) on `petitions.alerts`, or resolves it when traffic is back.

The feed reads only `channel` and `occurred_at` (no contact data); an event it cannot read is
the case agent's dead letter already and is skipped here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import faust
import orjson

from broker.topics import internal_topics
from fengqiao.domain import case_codec as codec
from fengqiao.domain import heartbeat as hb
from fengqiao.settings import INTAKE_CHANNELS
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


def register(rt: Any, rule: hb.HeartbeatRule = hb.HeartbeatRule()) -> None:
    app: faust.App = rt.app
    s = rt.settings
    n = s.topics.partitions
    beat_topic = app.topic(internal_topics(s.streams.app_id)["beat"], partitions=n, key_type=str,
                           key_serializer="raw", value_serializer="raw", internal=True)
    beats = app.Table("beat", default=None, partitions=n, key_type=str, options=dict(ROCKSDB_OPTIONS))

    async def on_event(value: bytes) -> None:
        got = petition_beat(value)
        if got is not None:
            await rt.send(beat_topic, got[0].encode(), orjson.dumps({"at": got[1].isoformat()}))

    @app.agent(app.topic(s.topics.events, key_type=str, key_serializer="raw", value_serializer="raw"),
               name="beat-feed")
    async def feed_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, raw = event.message, event.value
            await rt.guarded(m, raw, lambda: on_event(raw))

    async def on_beat(channel: str, value: bytes) -> None:
        old = beats.get(channel)
        log = hb.log_from_dict(old) if old else hb.ChannelLog(channel)
        if value != _TICK:
            beats[channel] = hb.log_to_dict(log.record(datetime.fromisoformat(orjson.loads(value)["at"]), rule))
            return
        if old is None:
            return
        now = rt.clock()
        log, action = hb.check(log, now, rule)
        if action == "raise":
            alert = hb.silence_alert(log, now, rule)
            beats[f"a|{channel}"] = codec.alert_to_json(alert)
        elif action == "resolve":
            held = beats.get(f"a|{channel}")
            if held is None:
                return
            alert = codec.alert_from_json(held).changed(now, state="resolved")
            beats[f"a|{channel}"] = None
        else:
            return
        beats[channel] = hb.log_to_dict(log)
        await rt.send(rt.topics.alerts, alert.dedup_key.encode(), codec.alert_wire(alert))

    @app.agent(beat_topic, name="beat")
    async def beat_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            m, key, raw = event.message, event.key, event.value
            await rt.guarded(m, raw, lambda: on_beat(key, raw))

    @app.timer(interval=s.streams.stats_interval_seconds * TICKS_PER_STATS, on_leader=False)
    async def beat_ticks() -> None:
        for channel in [k for k in beats.keys() if not k.startswith("a|")]:
            await rt.send(beat_topic, channel.encode(), _TICK)

    rt.agents.update(beat_feed=feed_agent, beat=beat_agent)
