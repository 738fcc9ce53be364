"""`fengqiao status`'s verdicts from the parts' answers (pure)."""

from __future__ import annotations

import json

import pytest

from fengqiao import status as st

pytestmark = pytest.mark.unit


def test_a_worker_that_answers_ready_is_up_and_one_with_warnings_degraded() -> None:
    ok = json.dumps({"ok": True, "events_applied": 5, "lag_total": 0, "partitions": [0, 1], "log_problems": []})
    assert st.streams_part("streams", "u", (200, ok)).state == st.UP
    warned = json.dumps({"ok": True, "log_problems": [{"message": "Unable connect to node with id #"}]})
    part = st.streams_part("streams", "u", (200, warned))
    assert part.state == st.DEGRADED and "Unable connect" in part.detail
    assert st.streams_part("streams", "u", (200, json.dumps({"ok": False}))).state == st.DEGRADED
    assert st.streams_part("streams", "u", None).state == st.DOWN


def test_optional_parts_may_be_absent_and_the_exit_code_is_the_worst_state() -> None:
    gw = st.http_part("gateway", "u", None, optional=True)
    wall = st.http_part("wall", "u", (200, "ok"))
    assert gw.state == st.ABSENT and st.exit_code([gw, wall]) == 0
    assert st.exit_code([wall, st.http_part("gateway", "u", (503, "{}"))]) == 1
    assert st.exit_code([wall, st.http_part("wall", "u", None)]) == 2
    table = st.render([wall, gw])
    assert table.splitlines()[1].split()[:2] == ["wall", "up"] and len(table.splitlines()) == 3


def test_metric_sum_adds_the_samples_of_one_metric_only() -> None:
    text = ('# HELP fengqiao_sink_rows_total rows\nfengqiao_sink_rows_total{table="events"} 300.0\n'
            'fengqiao_sink_rows_total{table="cases"} 20.0\nfengqiao_sink_rows_created{table="events"} 1.7e9\n')
    assert st.metric_sum(text, "fengqiao_sink_rows_total") == 320.0
    assert st.metric_sum(text, "fengqiao_nothing") is None
