"""申请延期 → 延期审批 on the real broker, a real streams worker and chDB (dashboard/extensions.py).

The department asks for an extension on two of its cases (signed workflow records on the commands
topic, through the worker's case view and the gateway's authorization); a second request while one is
pending and a request from a department of another region are refused. The dispatcher approves one:
the worker applies the `case.extended` (approved_by: the dispatcher) and its resolve deadline moves by
the days as the domain computes them; the dispatcher rejects the other with a reason. The sink stores
the four records in `commands`, the queries show each request's state and an empty pending list, and
the worker dead-lettered none of the new records.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

from dashboard import auth, desk_actions, extensions, queries
from fengqiao.domain import sla
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.policy import load_policy
from fengqiao.settings import Settings
from producers.gateway.readback import ReadbackUnavailable
from tests.integration.streams_harness import TZ, Reader, Worker, event, producer, received, send, worker_env
from tests.integration.test_sink import fast, query, sink_thread, wait_until

pytestmark = pytest.mark.integration

LABOUR = "长安区乡镇（街道）劳动保障所"
DEPT = auth.User("dept_changan", "长安区劳动保障所", "department", ("130102",), (LABOUR,))
ZD = auth.User("dept_zd", "正定县劳动保障所", "department", ("130123",), (LABOUR,))
DISPATCHER = auth.User("dispatcher", "派单员", "dispatcher", ("province",))


def _assigned(cid: str, at: datetime) -> list[dict]:
    ev = event(cid, "case.assigned", at + timedelta(seconds=5), {"department": LABOUR, "level": "township"},
               "130102", "internal")
    return [received(cid, at), {**ev, "actor": {"role": "platform", "id": "it"}}]


def _view(view: Callable[[str], Any], cid: str) -> dict:
    """The case in the worker's view ({} while it is unknown or busy)."""
    with contextlib.suppress(ReadbackUnavailable):
        return view(cid) or {}
    return {}


def test_request_approve_and_reject_reach_the_commands_table_and_the_deadline(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    base = fast(settings_factory)
    worker = Worker(worker_env(base), tmp_path / "w", tmp_path / "w.log")
    s = base.model_copy(update={"gateway": base.gateway.model_copy(update={"streams_url": f"http://127.0.0.1:{worker.port}"})})
    view = desk_actions.case_view(s)
    now = datetime.now(TZ)
    try:
        worker.wait_ready()
        p = producer(s)
        send(p, s.topics.events, _assigned("X1", now - timedelta(minutes=10)) + _assigned("X2", now - timedelta(minutes=9)))
        p.close()
        wait_until(lambda: all(_view(view, c).get("status") == "assigned" for c in ("X1", "X2")), 60, "the case view")
        before = datetime.fromisoformat(_view(view, "X1")["resolve_due_at"])
        assert _view(view, "X1")["extension_count"] == 0  # the snapshot carries the count
        with sink_thread(s):
            first = extensions.request(s, DEPT, "X1", 5, "需现场核查欠薪台账")
            extensions.request(s, DEPT, "X2", 3, "当事人外出务工")

            def state(cid: str) -> list[str]:
                return [r["state"] for r in queries.run(s, "extension_requests_of", [cid])]

            wait_until(lambda: state("X1") == ["pending"] and state("X2") == ["pending"], 30, "both requests stored")
            with pytest.raises(desk_actions.DeskRefused, match="已有待审批的延期申请"):
                extensions.request(s, DEPT, "X1", 2, "再延两天")
            with pytest.raises(desk_actions.DeskRefused) as other:
                extensions.request(s, ZD, "X2", 3, "同名单位")
            assert other.value.denial.rule == "scope"
            pending = queries.run(s, "pending_extensions", [])
            assert [(r["case_id"], r["department"], r["days"], r["reason"]) for r in pending] == [
                ("X1", LABOUR, 5, "需现场核查欠薪台账"), ("X2", LABOUR, 3, "当事人外出务工")]  # oldest first
            assert pending[0]["request_id"] == str(first.command_id) and pending[0]["resolve_due_at"] == before
            assert queries.run(s, "pending_extensions", ["130123"]) == []  # another region's desk: none

            done, _ = extensions.approve(s, DISPATCHER, pending[0]["request_id"], "X1")
            assert done.event.payload.approved_by == "派单员"  # type: ignore[union-attr]
            extensions.reject(s, DISPATCHER, pending[1]["request_id"], "X2", "未说明需核查事项，不予延期")
            unit = load_policy().extension(False)[0]
            expected = sla.extend(before, 5, unit, load_calendar())[0]
            wait_until(lambda: _view(view, "X1").get("extension_count") == 1, 30, "the worker applied the extension")
            assert datetime.fromisoformat(_view(view, "X1")["resolve_due_at"]) == expected > before
            wait_until(lambda: state("X1") == ["approved"] and state("X2") == ["rejected"], 30, "both decisions stored")
            with pytest.raises(desk_actions.DeskRefused, match="延期申请已批准，不能再审批"):
                extensions.approve(s, DISPATCHER, pending[0]["request_id"], "X1")  # decided: not twice
            rejected = queries.run(s, "extension_requests_of", ["X2"])[0]
            assert (rejected["decided_by"], rejected["decision_reason"]) == ("dispatcher", "未说明需核查事项，不予延期")
            assert extensions.ExtensionRequest.of(rejected).label == "延期 3 天 · 已驳回：未说明需核查事项，不予延期"
            assert queries.run(s, "pending_extensions", []) == []
            db = s.clickhouse_database
            wait_until(lambda: query(s, f"SELECT resolve_due_at FROM {db}.cases FINAL WHERE case_id = 'X1'")[0][0]
                       == expected, 30, "the read model's deadline moved")
            rows = query(s, f"SELECT type, officer_id, case_id FROM {db}.commands FINAL ORDER BY issued_at")
            assert [tuple(r) for r in rows] == [
                ("case.request_extension", "dept_changan", "X1"), ("case.request_extension", "dept_changan", "X2"),
                ("case.decide_extension", "dispatcher", "X1"), ("case.decide_extension", "dispatcher", "X2")]
            ext = query(s, f"SELECT actor_role, payload FROM {db}.events FINAL WHERE event_type = 'case.extended'")
            assert len(ext) == 1 and json.loads(ext[0][1])["approved_by"] == "派单员"
        dlq = Reader(s, s.topics.dlq)
        letters = dlq.poll(2)
        dlq.close()
        assert letters == []  # neither the workflow records nor the approved extension were dead-lettered
    finally:
        worker.stop()
