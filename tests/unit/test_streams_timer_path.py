"""Due alerts are raised on the clock's own path (issue 12): published when the ticker runs, not
after a round trip through case-ops behind the event backlog; the tick then carries the slots to
the case's stream, which takes them in (`CaseRules.adopt`) and settles whatever happened between."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams.agents_case import fire_due
from tests.unit.test_streams_agents import T0, Harness, ev, received, run

pytestmark = pytest.mark.unit
ASSIGNED = {"department": "街道办", "level": "township"}


async def opened(h: Harness, agent: object, cid: str, partition: int = 0) -> None:
    """An urgent case received and assigned at T0 (sign reminder due at T0 + 15 min)."""
    await agent.put(received(cid, T0), key=cid, partition=partition)  # type: ignore[attr-defined]
    await agent.put(ev(cid, "case.assigned", T0, ASSIGNED), key=cid, partition=partition)  # type: ignore[attr-defined]


def ops_of(h: Harness) -> list[tuple[bytes, bytes]]:
    ops = [(k, v) for n, k, v in h.sent if n == "case_ops"]
    h.sent = [s for s in h.sent if s[0] != "case_ops"]
    return ops


def test_alert_is_published_by_the_ticker_and_the_stream_takes_it_in() -> None:
    h = Harness()

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            await opened(h, agent, "T1")
            h.clock.now = T0 + timedelta(minutes=15, seconds=1)
            await fire_due(h.rt)
            a = h.alerts()  # before any tick went through case-ops
            assert [(x["stage"], x["version"]) for x in a] == [("reminder", 1)]
            assert [o["op"] for o in h.of("alert_index")] == ["index"]
            assert h.record("T1").alerts == {}  # not in the table yet
            for k, v in ops_of(h):
                await h.put_op(agent, v, k.decode())
            slot = h.record("T1").alerts[a[0]["dedup_key"]]
            assert slot.alert is not None and slot.alert.version == 1 and slot.alert.raised_at == h.clock.now
            assert len(h.alerts()) == 1 and h.rt.inflight == {}  # the stream published nothing again

    run(go())


def test_event_met_between_the_ticker_and_its_tick_resolves_the_alert() -> None:
    """The case is signed after the ticker read it and before the stream took the tick in."""
    h = Harness()

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            await opened(h, agent, "T2")
            h.clock.now = T0 + timedelta(minutes=15, seconds=1)
            await fire_due(h.rt)
            ops = ops_of(h)
            await agent.put(ev("T2", "case.signed", h.clock.now, {"department": "街道办"}), key="T2")
            await fire_due(h.rt)  # the event rescheduled the case: the queued slot is not raised twice
            ops += ops_of(h)
            for k, v in ops:
                await h.put_op(agent, v, k.decode())
            sign = [(x["stage"], x["version"], x["state"]) for x in h.alerts() if x["target"] == "sign"]
            assert sign == [("reminder", 1, "firing"), ("reminder", 2, "resolved")]
            (slot,) = h.record("T2").alerts.values()
            assert slot.alert is not None and slot.alert.state == "resolved"
            assert h.rt.inflight == {}

    run(go())


def test_ticker_does_not_raise_again_while_its_tick_is_queued() -> None:
    h = Harness(renotify=300)

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            await opened(h, agent, "T3")
            held = []
            for minutes in (15.1, 24.1, 30.1, 30.2):  # reminder, warning, overdue; none taken in yet
                h.clock.now = T0 + timedelta(minutes=minutes)
                h.rt.schedule("T3", h.record("T3"))  # as an event for the case would
                await fire_due(h.rt)
                held += ops_of(h)
            firsts = [x["dedup_key"] for x in h.alerts() if x["version"] == 1]
            assert [k.split(":")[3] for k in firsts] == ["reminder", "warning", "overdue"]
            assert len(firsts) == len(set(firsts))
            for k, v in held:
                await h.put_op(agent, v, k.decode())
            assert len([x for x in h.alerts() if x["version"] == 1]) == 3
            assert {s.alert.stage for s in h.record("T3").alerts.values() if s.alert} == {"reminder", "warning", "overdue"}
            assert h.record("T3").overdue

    run(go())


def test_events_on_the_partition_at_the_due_instant_are_applied_first() -> None:
    """A signing already in the backlog when the stage fell due: the clock waits for it (nothing raised)."""
    h = Harness()

    async def go() -> None:
        async with h.rt.agents["cases"].test_context() as agent:
            await opened(h, agent, "T4", partition=2)
            h.rt.events_end = lambda partition: 8  # the consumer has seen offsets up to 7 of the events topic
            assert h.rt.caught_up(3, 8)  # nothing taken since the start (a restart): its events are in the table
            h.rt.applied[2] = 5  # the case agent has taken up to 5
            h.clock.now = T0 + timedelta(minutes=15, seconds=1)
            await fire_due(h.rt)
            assert h.alerts() == [] and "T4" in h.rt.waiting and ops_of(h) == []
            await agent.put(ev("T4", "case.signed", T0 + timedelta(minutes=14), {"department": "街道办"}), key="T4",
                            partition=2)  # offset 6, then 7 taken
            h.rt.applied[2] = 7
            h.clock.now += timedelta(seconds=1)
            await fire_due(h.rt)
            assert h.alerts() == [] and h.rt.waiting == {}  # caught up: the target was met, nothing due

    run(go())
