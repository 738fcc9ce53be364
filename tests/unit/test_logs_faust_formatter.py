"""The repeat filter's 'suppressed K similar' line must survive faust's log formatter (mode's
`ExtensionFormatter`): with args None it became (None,) and every summary line turned into a
50-line 'Logging error' traceback (measured: 990 of the worker's lines in 2 minutes without a
broker were these)."""

from __future__ import annotations

import logging

import pytest
from mode.utils.logging import ExtensionFormatter

from fengqiao.logs import RepeatFilter

pytestmark = pytest.mark.unit


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_suppressed_summary_formats_under_faust() -> None:
    clock = Clock()
    flt, fmt = RepeatFilter(30.0, clock=clock), ExtensionFormatter(fmt="%(levelname)s %(message)s")

    def record() -> logging.LogRecord:
        return logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "Unable connect to node %s: 100%% %s",
                                 (1, "refused"), None)

    assert flt.filter(record())
    clock.t = 1.0
    assert not flt.filter(record())
    clock.t = 31.0
    r = record()
    assert flt.filter(r)
    assert fmt.format(r) == ("ERROR Unable connect to node 1: 100% refused "
                             "[suppressed 1 similar in 30s / 已省略 1 条同类日志]")
