"""The repeat filter (an outage logged once, then at a bounded rate) and `up`'s restart backoff."""

from __future__ import annotations

import logging

import pytest

from fengqiao.backoff import BackoffPolicy, RestartState
from fengqiao.logs import RepeatFilter

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, *args: object, name: str = "aiokafka.conn", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_an_outage_is_logged_once_then_once_per_interval_with_the_count() -> None:
    clock = Clock()
    flt = RepeatFilter(interval=30.0, clock=clock)
    passed = []
    for i in range(6000):  # 100 lines a second for a minute, as the worker's clients without a broker
        clock.now = 1000.0 + i / 100
        rec = _record("Unable connect to node with id %s: %s", i % 3, "Connect call failed")
        if flt.filter(rec):
            passed.append(rec.getMessage())
    assert len(passed) == 2  # t=0 and t=30 (the next one would be at t=60)
    assert "suppressed" not in passed[0]
    assert "suppressed 2999 similar" in passed[1] and "已省略 2999 条" in passed[1]
    assert flt.suppressed_total == 5998
    problems = flt.problems()
    assert problems[0]["logger"] == "aiokafka.conn" and problems[0]["count"] == 6000


def test_other_templates_loggers_and_info_lines_are_not_held_back() -> None:
    clock = Clock()
    flt = RepeatFilter(interval=30.0, clock=clock)
    assert flt.filter(_record("broker down %s", 1))
    assert flt.filter(_record("broker down %s", 1, name="faust.transport"))
    assert flt.filter(_record("another problem"))
    assert not flt.filter(_record("broker down %s", 2))
    assert all(flt.filter(_record("flushed %d rows", n, level=logging.INFO)) for n in range(100))
    clock.now += 400  # problems older than five minutes are no longer shown
    assert flt.problems() == []


def test_messages_formatted_before_logging_fold_addresses_and_numbers() -> None:
    flt = RepeatFilter(interval=30.0, clock=Clock())
    assert flt.filter(_record("Task <Task object at 0x7f24197e5dd0> ran for 0.151s", name="kafka.net.selector"))
    assert not flt.filter(_record("Task <Task object at 0x7fb159eeb390> ran for 0.191s", name="kafka.net.selector"))


def test_the_filter_remembers_a_bounded_number_of_templates() -> None:
    flt = RepeatFilter(interval=30.0, clock=Clock(), max_keys=10)
    for i in range(100):
        flt.filter(_record(f"error {chr(65 + i % 26)}{chr(65 + i // 26)}"))
    assert len(flt._seen) == 10


def test_backoff_doubles_up_to_the_cap() -> None:
    p = BackoffPolicy(base=1.0, factor=2.0, cap=30.0, reset_after=60.0)
    assert [p.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_quick_exits_back_off_and_a_long_run_starts_again_from_the_base() -> None:
    st = RestartState(BackoffPolicy(base=1.0, cap=30.0, reset_after=60.0))
    t = 0.0
    waits = []
    for _ in range(7):  # dies two seconds after each start
        waits.append(st.exited(started_at=t, now=t + 2))
        assert not st.due(t + 2 + waits[-1] - 0.1) and st.due(t + 2 + waits[-1])
        st.restarted()
        t += 2 + waits[-1]
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert st.exited(started_at=t, now=t + 61) == 1.0  # it ran a while: the failures are forgiven
    assert st.restarts == 7
