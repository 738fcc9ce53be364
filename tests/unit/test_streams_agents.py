"""Agent tests in Faust's test context (memory store) with an injected clock."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from faust.types.tuples import Message

from fengqiao.settings import Settings, StreamsSettings, Topics
from streams.agents_case import fire_due, publish_partials
from streams.agents_side import publish_region_stats
from streams.runtime import build_runtime

pytestmark = pytest.mark.unit
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)  # a Thursday, a working day
COUNTY = "130102"  # 长安区, 石家庄 130100


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def ev(case_id: str, etype: str, at: datetime, payload: dict[str, Any], region: str = COUNTY, eid: str | None = None,
       channel: str = "hotline") -> bytes:
    return json.dumps({
        "schema_version": 1, "event_id": eid or str(uuid.uuid4()), "event_type": etype, "case_id": case_id,
        "occurred_at": at.isoformat(), "region_code": region, "channel": channel, "payload": payload,
    }, ensure_ascii=False).encode()


def received(case_id: str, at: datetime, urgency: str = "urgent", category: str = "help", **kw: Any) -> bytes:
    return ev(case_id, "petition.received", at, {"category": category, "topic": "劳资纠纷", "urgency": urgency,
                                                  "title": "讨薪", "content": "工地拖欠工资三个月"}, **kw)


class Harness:
    """The runtime with what a test needs injected: the clock, a recorder for every message
    sent (by logical topic name), and ownership of all partitions."""

    def __init__(self, auto_dispatch: float = 3600.0, renotify: float = 900.0, input_ends: Any = None):
        self.clock = Clock(T0)
        settings = Settings(kafka_bootstrap="127.0.0.1:1", topics=Topics(partitions=4),
                            streams=StreamsSettings(app_id=f"t-{uuid.uuid4().hex[:6]}", store="memory://",
                                                    auto_dispatch_after_seconds=auto_dispatch))
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.names: dict[str, str] = {}

        async def record(topic: str, key: bytes | None, value: bytes) -> None:
            self.sent.append((self.names[topic], key, value))

        self.rt = build_runtime(settings, clock=self.clock, store="memory://", renotify_seconds=renotify,
                                route=lambda c, t, d, r: ("长安区某街道办", "township"), sender=record,
                                assigned=lambda topic: set(range(4)), input_ends=input_ends)
        self.rt.ready = True
        for name in ("events", "case_ops", "alerts", "stats", "cases", "dlq", "alert_index", "stat_parts", "early"):
            self.names[getattr(self.rt.topics, name).get_topic_name()] = name

    def record(self, case_id: str) -> Any:
        return self.rt.tables.case(case_id)

    async def put_op(self, agent: Any, value: bytes, key: str, partition: int = 0) -> None:
        """A message on the case-ops topic (the test context names no topic: tell it which)."""
        ops, orig = self.rt.topics.case_ops.get_topic_name(), agent.to_message

        def on_ops(*a: Any, **kw: Any) -> Message:
            m = orig(*a, **kw)
            return Message(topic=ops, partition=m.partition, offset=m.offset, timestamp=m.timestamp,
                           timestamp_type=0, headers=m.headers, key=m.key, value=m.value, checksum=b"",
                           generation_id=m.generation_id)

        agent.to_message = on_ops
        try:
            await agent.put(value, key=key, partition=partition)
        finally:
            agent.to_message = orig

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(v) for n, _, v in self.sent if n == topic]

    def alerts(self) -> list[dict[str, Any]]:
        return self.of("alerts")

    async def tick_until(self, agent: Any, until: datetime, step: float = 1.0) -> None:
        """Advance the clock; deliver the ticks the ticker sends back through case-ops."""
        while self.clock.now < until:
            self.clock.now = min(until, self.clock.now + timedelta(seconds=step))
            await fire_due(self.rt)
            ops = [(k, v) for n, k, v in self.sent if n == "case_ops"]
            self.sent = [s for s in self.sent if s[0] != "case_ops"]
            for k, v in ops:
                await self.put_op(agent, v, k.decode())


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_received_publishes_snapshot_and_duplicates_change_nothing() -> None:
    h = Harness()

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            raw = received("C1", T0, eid="00000000-0000-4000-8000-000000000001")
            await agent.put(raw, key="C1", partition=1)
            await agent.put(raw, key="C1", partition=1)  # same event_id again
            snaps = h.of("cases")  # the duplicate re-publishes the same version (lost-send recovery)
            assert len(snaps) == 2 and snaps[0] == snaps[1]
            assert snaps[0]["status"] == "received" and snaps[0]["version"] == 1
            assert len(h.of("early")) == 1
            assert h.record("C1").partition == 1
            assert h.of("early")[0]["case_id"] == "C1"

    run(go())


def test_contract_and_lifecycle_rejections_go_to_dlq() -> None:
    h = Harness()

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            await agent.put(b"not json", key="X", partition=0)
            await agent.put(ev("C9", "case.signed", T0, {"department": "d"}), key="C9", partition=0)
            dlq = h.of("dlq")
            assert [d["source"] for d in dlq] == ["streams", "streams"]
            assert dlq[0]["error"].startswith("contract:") and dlq[0]["raw"] == "not json"
            assert dlq[1]["error"].startswith("lifecycle:")
            assert h.of("cases") == []

    run(go())


def test_sla_stages_fire_once_on_time_and_ack_stops_renotify() -> None:
    """Urgent case: sign target 30 min from assignment: reminder 15 min, warning 24, overdue 30."""
    h = Harness(renotify=300)

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            await agent.put(received("C2", T0), key="C2", partition=0)
            await agent.put(ev("C2", "case.assigned", T0, {"department": "街道办", "level": "township"}), key="C2")
            await h.tick_until(agent, T0 + timedelta(minutes=15) - timedelta(seconds=2))
            assert h.alerts() == []  # not early
            await h.tick_until(agent, T0 + timedelta(minutes=15, seconds=1))
            a = h.alerts()
            assert [(x["stage"], x["target"]) for x in a] == [("reminder", "sign")]
            assert datetime.fromisoformat(a[0]["raised_at"]) - (T0 + timedelta(minutes=15)) <= timedelta(seconds=1)
            await h.tick_until(agent, T0 + timedelta(minutes=31))
            stages = [(x["stage"], x["version"]) for x in h.alerts()]
            assert stages == [("reminder", 1), ("warning", 1), ("overdue", 1)]
            overdue = h.alerts()[-1]
            # unacknowledged critical: re-notified after 300 s
            await h.tick_until(agent, T0 + timedelta(minutes=35, seconds=2))
            again = [x for x in h.alerts() if x["dedup_key"] == overdue["dedup_key"]]
            assert [x["version"] for x in again] == [1, 2] and again[-1]["state"] == "firing"
            ack = {"type": "alert.acknowledge", "alert_id": overdue["alert_id"], "officer_id": "o1",
                   "issued_at": h.clock.now.isoformat(), "command_id": str(uuid.uuid4()), "note": "在办"}
            await h.put_op(agent, json.dumps({"op": "cmd", "cmd": ack}).encode(), key="C2")
            assert h.alerts()[-1]["state"] == "acknowledged" and h.alerts()[-1]["acknowledged_by"] == "o1"
            n = len(h.alerts())
            await h.tick_until(agent, T0 + timedelta(minutes=50), step=5)
            assert [x for x in h.alerts()[n:] if x["dedup_key"] == overdue["dedup_key"]] == []  # no re-notify
            # signing resolves the sign target's alerts
            await agent.put(ev("C2", "case.signed", h.clock.now, {"department": "街道办"}), key="C2")
            resolved = {x["dedup_key"] for x in h.alerts() if x["state"] == "resolved"}
            assert {k.split(":")[3] for k in resolved} >= {"reminder", "warning", "overdue"}
            keys = [x["dedup_key"] for x in h.alerts() if x["version"] == 1]
            assert len(keys) == len(set(keys))

    run(go())


def test_signed_before_reminder_raises_nothing_and_late_event_fires_current_stage_only() -> None:
    h = Harness()

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            await agent.put(received("C3", T0), key="C3")
            await agent.put(ev("C3", "case.assigned", T0, {"department": "d", "level": "township"}), key="C3")
            h.clock.now = T0 + timedelta(minutes=5)
            await agent.put(ev("C3", "case.signed", h.clock.now, {"department": "d"}), key="C3")
            await h.tick_until(agent, T0 + timedelta(minutes=40), step=10)
            assert [a for a in h.alerts() if a["target"] == "sign"] == []
            # a case whose events arrive 25 minutes late: reminder and warning are both past
            h.clock.now = T0 + timedelta(minutes=25)
            await agent.put(received("C4", T0), key="C4")
            await agent.put(ev("C4", "case.assigned", T0, {"department": "d", "level": "township"}), key="C4")
            sign = [a["stage"] for a in h.alerts() if a["case_id"] == "C4" and a["target"] == "sign"]
            assert sign == ["warning"]

    run(go())


def test_auto_dispatch_emits_platform_assignment_once() -> None:
    h = Harness(auto_dispatch=60)

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            await agent.put(received("C5", T0), key="C5")
            await h.tick_until(agent, T0 + timedelta(seconds=59))
            assert h.of("events") == []
            await h.tick_until(agent, T0 + timedelta(seconds=65))
            await h.tick_until(agent, T0 + timedelta(seconds=120))
            evs = h.of("events")
            assert len(evs) == 1
            assert evs[0]["event_type"] == "case.assigned" and evs[0]["actor"]["role"] == "platform"
            assert evs[0]["payload"] == {"department": "长安区某街道办", "level": "township"}
            await agent.put(json.dumps(evs[0]).encode(), key="C5")
            assert h.record("C5").state.status == "assigned"

    run(go())


def test_region_stats_count_by_event_time_and_sum_partitions() -> None:
    h = Harness()

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            h.clock.now = T0 + timedelta(hours=2)
            # out of order: an older event after a newer one; one 30 h old (outside 24 h)
            await agent.put(received("S1", T0 + timedelta(hours=1, minutes=30)), key="S1", partition=0)
            await agent.put(received("S2", T0 + timedelta(minutes=10)), key="S2", partition=1)
            await agent.put(received("S3", T0 - timedelta(hours=28), category="consult", channel="web"), key="S3", partition=2)
            await agent.put(received("S4", T0 + timedelta(hours=1, minutes=5), region="130100"), key="S4", partition=3)
            await agent.put(ev("S2", "case.resolved_online", h.clock.now, {"answer": "已答复"}), key="S2", partition=1)
        await publish_partials(h.rt)
        async with h.rt.agents["stat_parts"].test_context() as sp:
            for _, k, v in [s for s in h.sent if s[0] == "stat_parts"]:
                await sp.put(v, key=k.decode(), partition=0)
        h.rt.pref_partition = {k: 0 for k in h.rt.pref_partition}
        await publish_region_stats(h.rt)
        stats = {s["region_code"]: s for s in h.of("stats")}
        county, pref = stats[COUNTY], stats["130100"]
        assert (county["intake_1h"], county["intake_24h"], county["open_now"]) == (1, 2, 2)
        assert county["by_channel_24h"] == {"hotline": 2}
        assert (pref["intake_1h"], pref["intake_24h"], pref["open_now"]) == (2, 3, 3)
        assert pref["region_level"] == "prefecture"

    run(go())


def test_the_clock_waits_for_a_partition_whose_input_is_behind() -> None:
    """Stages of a partition's cases are raised up to the time its last applied event was produced
    while more waits (fetched, or on the broker); up to now once all is applied, or when the end stays
    2 s at most 3 offsets past the last event (a transaction's commit markers); after a rebuild, a
    partition sought to its end is idle, one sought before its end waits for its first event, one
    never sought counts as idle after 3 s."""
    ends: dict[int, tuple[int | None, int | None]] = {0: (50, None), 1: (7, 7), 2: (90, 40)}
    h = Harness(input_ends=lambda topic, p: ends.get(p, (None, None)))
    rt, now = h.rt, T0.timestamp()
    rt.ready_at = now
    assert (rt.watermark(0), rt.watermark(1), rt.watermark(2)) == (0.0, now, 0.0)
    h.clock.now = T0 + timedelta(seconds=11)
    assert (rt.watermark(0), rt.watermark(2)) == (now + 11, 0.0)  # 0 never sought: idle; 2 has 50 to apply
    rt.note_applied(0, 9, now - 30)
    ends[0] = (50, 20)
    assert rt.watermark(0) == now - 30  # fetched up to 20, applied up to 9: as far as the last applied one
    rt.note_applied(0, 49, now - 2)
    assert rt.watermark(0) == now + 11  # read to the end
    assert rt.watermark(None) == now + 11
    rt.heap.schedule("A", now - 1, 0)  # after the last applied event of partition 0 (now - 2)
    rt.heap.schedule("B", now - 10, 1)
    ends[0] = (52, 49)
    assert rt.heap.pop_due(now + 11, until=rt.watermark) == ["B"]  # partition 1 idle: B fires; A waits
    h.clock.now = T0 + timedelta(seconds=14)
    assert rt.heap.pop_due(now + 14, until=rt.watermark) == ["A"]  # the end stayed 2 past, nothing came: markers
    ends[0] = (80, 49)
    assert rt.watermark(0) == now - 2  # 30 more: behind until they are applied
    h.clock.now = T0 + timedelta(seconds=30)
    assert rt.watermark(0) == now - 2  # however long the end stays put
