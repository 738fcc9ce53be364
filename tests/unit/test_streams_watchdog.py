"""The worker's stall check (issue 13 item 3): a partition of an agent's source with records
waiting and no event into its stream for a minute since it was assigned is stalled; a broker
outage, a rebalance or a table recovery restarts the clock instead."""

from __future__ import annotations

import logging

import pytest

from fengqiao.logs import RepeatFilter

from streams.watchdog import Stall, StallCheck, Watchdog

pytestmark = pytest.mark.unit
P0, P1 = ("app-case-ops", 0), ("app-case-ops", 1)


def test_a_partition_never_started_with_records_waiting_stalls_after_the_limit() -> None:
    c = StallCheck(limit=60)
    assert c.observe(0, {P0, P1}, {P0: 5, P1: 5}, {P1: 1.0}, held_up=False) == []
    assert c.observe(59, {P0, P1}, {P0: 5, P1: 5}, {P1: 58.0}, held_up=False) == []
    assert c.observe(61, {P0, P1}, {P0: 5, P1: 0}, {P1: 60.0}, held_up=False) == [Stall("app-case-ops", 0, 61, 5)]


def test_an_idle_partition_or_one_whose_stream_took_an_event_is_not_stalled() -> None:
    c = StallCheck(limit=60)
    c.observe(0, {P0, P1}, {}, {}, held_up=False)
    assert c.observe(120, {P0, P1}, {P0: 0, P1: 3}, {P1: 30.0}, held_up=False) == []


def test_an_event_from_before_the_assignment_does_not_count_as_started() -> None:
    c = StallCheck(limit=60)
    c.observe(100, {P0}, {P0: 2}, {P0: 50.0}, held_up=False)  # an old inbound time: before this assignment
    assert [s.partition for s in c.observe(160, {P0}, {P0: 2}, {P0: 50.0}, held_up=False)] == [0]


def test_held_up_restarts_the_clock_and_a_revoked_partition_is_forgotten() -> None:
    c = StallCheck(limit=60)
    c.observe(0, {P0}, {P0: 9}, {}, held_up=False)
    assert c.observe(70, {P0}, {P0: 9}, {}, held_up=True) == []  # broker down or rebalancing at 70 s
    assert c.observe(120, {P0}, {P0: 9}, {}, held_up=False) == []  # 50 s since the hold-up ended
    assert c.observe(131, {P0}, {P0: 9}, {}, held_up=False)[0].seconds == 61
    c.observe(140, {P1}, {P1: 1}, {}, held_up=False)
    assert set(c.since) == {P1}


def test_the_outage_is_logged_once_each_way_and_shown_on_health(caplog: pytest.LogCaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # an earlier test in the session may have put the process's repeat filter on the root handlers
    # (fengqiao.logs.install), where it would hold back a message it has seen before
    for handler in [*logging.getLogger().handlers, caplog.handler]:
        monkeypatch.setattr(handler, "filters", [f for f in handler.filters if not isinstance(f, RepeatFilter)])
    now = [0.0]
    wd = Watchdog("127.0.0.1:1", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "fengqiao.streams.watchdog"):
        for t in (1.0, 11.0, 21.0):
            now[0] = t
            wd.broker_seen(False)
        assert wd.health()["kafka"] == {"reachable": False, "down_s": 20.0}
        now[0] = 31.0
        wd.broker_seen(True)
        wd.broker_seen(True)
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
    assert "after 30 s" in caplog.records[1].getMessage()
    assert wd.health() == {"kafka": {"reachable": True, "down_s": 0.0}, "stalled": [], "stall_limit_s": 60.0,
                           "restart_after_s": 180.0}


def test_status_says_broker_unreachable_or_stream_not_started() -> None:
    import json

    from fengqiao import status as st

    down = st.streams_part("streams", "u", (200, json.dumps({"ok": True, "kafka": {"reachable": False, "down_s": 42}})))
    assert down.state == st.DEGRADED and "broker unreachable for 42 s" in down.detail
    stalled = {"ok": False, "kafka": {"reachable": True}, "stalled": [{"topic": "x-case-ops", "partition": 1}]}
    part = st.streams_part("streams", "u", (200, json.dumps(stalled)))
    assert part.state == st.DEGRADED and "x-case-ops:1" in part.detail and "流未启动" in part.detail


def test_a_stall_is_reported_at_once_and_restarts_the_worker_only_after_restart_after() -> None:
    restarts: list[list[Stall]] = []
    wd = Watchdog("127.0.0.1:1", on_stall=restarts.append)
    wd.act([Stall("t", 0, 61.0, 5)])
    assert restarts == [] and wd.health()["stalled"] == [{"topic": "t", "partition": 0, "seconds": 61.0, "waiting": 5}]
    wd.act([Stall("t", 0, 181.0, 5), Stall("t", 1, 70.0, 2)])
    assert restarts == [[Stall("t", 0, 181.0, 5)]]
    wd.act([])
    assert wd.health()["stalled"] == []


def test_a_worker_applying_events_elsewhere_waits_longer_before_restarting() -> None:
    restarts: list[list[Stall]] = []
    applied = [100]
    wd = Watchdog("127.0.0.1:1", on_stall=restarts.append, progress=lambda: applied[0])
    wd.act([Stall("t", 0, 61.0, 5000)])
    applied[0] = 900  # a backlog: the other partitions move
    wd.act([Stall("t", 0, 181.0, 5000)])
    assert restarts == []
    wd.act([Stall("t", 0, 601.0, 5000)])
    assert len(restarts) == 1
