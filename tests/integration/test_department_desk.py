"""The department desk on the real broker, a real streams worker and chDB (issue 14 items 1 and 5).

A worker applies the petitions; the desk's actions go through `desk_actions.act` with the worker's
case view over HTTP (as the gateway reads it): the department signs and replies, a department of
another region or another department is refused (and the refusal is on the audit topic). The same
petitions make the real early-warning path raise a hotspot (a baseline 1 and 2 weeks back, 7 wage
petitions in one county now) and a class case (similar texts); the routing rules bring both to the
labour department's desk query in 长安区, not to 正定县's nor to 长安区's property office, and the
labour department acknowledges through the console's command path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

from dashboard import auth, desk_actions, queries
from fengqiao.settings import Settings
from producers.gateway.readback import ReadbackUnavailable
from tests.integration.streams_harness import TZ, Reader, Worker, event, producer, send, worker_env
from tests.integration.test_sink import fast, sink_thread, wait_until

pytestmark = pytest.mark.integration

LABOUR = "长安区乡镇（街道）劳动保障所"
PROPERTY = "长安区街道办事处物业服务管理站"
ZD_LABOUR = "正定县乡镇（街道）劳动保障所"
DEPT = auth.User("dept_changan", "长安区劳动保障所", "department", ("130102",), (LABOUR,))
PROP = auth.User("dept_prop", "长安区物业站", "department", ("130102",), (PROPERTY,))
ZD = auth.User("dept_zd", "正定县劳动保障所", "department", ("130123",), (ZD_LABOUR,))
TEXT = "{n}号工地包工头拖欠我们{n}名农民工工资三个月，多次讨要无果，请求劳动监察部门介入协调解决欠薪问题"


def petition(cid: str, at: datetime, region: str, topic: str, content: str, category: str = "dispute") -> dict:
    return event(cid, "petition.received", at, {"category": category, "topic": topic, "urgency": "normal",
                                                 "title": "诉求", "content": content}, region)


def assign(cid: str, at: datetime, region: str, department: str) -> dict:
    ev = event(cid, "case.assigned", at, {"department": department, "level": "township"}, region, "internal")
    return {**ev, "actor": {"role": "platform", "id": "dispatch-test"}}


def history(t0: datetime) -> list[dict]:
    evs: list[dict] = []
    for w in (2, 1):  # 长安区 was being counted 1 and 2 weeks ago: hotspots there have a baseline
        at = t0 - timedelta(weeks=w, hours=2)
        evs += [petition(f"H{w}", at, "130102", "咨询", "请问社保如何办理", "consult"),
                event(f"H{w}", "case.resolved_online", at + timedelta(minutes=1), {"answer": "已在线答复"})]
    for i in range(7):
        at = t0 - timedelta(minutes=30 - i)
        evs += [petition(f"L{i}", at, "130102", "劳资纠纷", TEXT.format(n=i + 2)),
                assign(f"L{i}", at + timedelta(seconds=5), "130102", LABOUR)]
    evs += [petition("P0", t0 - timedelta(minutes=20), "130102", "物业管理", "小区电梯频繁故障物业不作为"),
            assign("P0", t0 - timedelta(minutes=19), "130102", PROPERTY),
            petition("Z0", t0 - timedelta(minutes=20), "130123", "劳资纠纷", "工厂拖欠工资"),
            assign("Z0", t0 - timedelta(minutes=19), "130123", ZD_LABOUR)]
    return evs


def status(view: Callable[[str], Any], case_id: str) -> str:
    """The case's status in the worker's view ('' while the view is unknown or busy: a loaded machine)."""
    try:
        return str((view(case_id) or {}).get("status") or "")
    except ReadbackUnavailable:
        return ""


def test_department_desk_acts_is_refused_elsewhere_and_gets_its_warnings(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    base = fast(settings_factory)
    worker = Worker(worker_env(base), tmp_path / "w", tmp_path / "w.log")
    s = base.model_copy(update={"gateway": base.gateway.model_copy(update={"streams_url": f"http://127.0.0.1:{worker.port}"})})
    view = desk_actions.case_view(s)
    try:
        worker.wait_ready()
        p = producer(s)
        send(p, s.topics.events, history(datetime.now(TZ)))
        p.close()
        wait_until(lambda: all(status(view, c) == "assigned" for c in ("L0", "L1", "L2", "P0")), 60,
                   "the worker's case view")
        with sink_thread(s):
            # the department acts on its own cases
            desk_actions.act(s, DEPT, "case.signed", "L0", {"department": LABOUR})
            desk_actions.act(s, DEPT, "case.signed", "L1", {"department": LABOUR})
            wait_until(lambda: status(view, "L1") == "signed", 30, "L1 signed")
            done = desk_actions.act(s, DEPT, "case.replied", "L1", {"department": LABOUR, "result": "已督促支付欠薪",
                                                                  "resolved": True})
            assert done.event.actor is not None and done.event.actor.id == "dept_changan"
            # ... and nowhere else: another region, another department, a stale screen, a viewer
            refused = {}
            for who, cid, dept in ((ZD, "L2", ZD_LABOUR), (PROP, "L2", PROPERTY), (DEPT, "P0", LABOUR), (DEPT, "L0", LABOUR)):
                with pytest.raises(desk_actions.DeskRefused) as exc:
                    desk_actions.act(s, who, "case.signed", cid, {"department": dept})
                refused[(who.username, cid)] = exc.value.denial.rule
            assert refused == {("dept_zd", "L2"): "scope", ("dept_prop", "L2"): "not_assigned",
                               ("dept_changan", "P0"): "not_assigned", ("dept_changan", "L0"): "state"}
            with pytest.raises(auth.Forbidden):
                desk_actions.act(s, auth.User("v", "观察员", "viewer"), "case.signed", "L2", {"department": LABOUR})

            def desk() -> dict[str, Any]:
                return {r["case_id"]: r for r in queries.run(s, "department_cases", [LABOUR], ["130102"])}

            wait_until(lambda: desk().get("L0", {}).get("status") == "signed" and "L1" not in desk(), 30,
                     "the desk query shows L0 signed and L1 gone (awaiting evaluation)")
            rows = desk()
            assert set(rows) == {"L0", "L2", "L3", "L4", "L5", "L6"}  # not P0 nor Z0
            assert rows["L0"]["target"] == "resolve" and rows["L2"]["target"] == "sign"
            assert [r["due_at"] for r in rows.values()] == sorted(r["due_at"] for r in rows.values())
            assert queries.run(s, "case_summary", "L1")[0]["status"] == "replied"
            assert queries.run(s, "department_cases", [LABOUR], ["130123"]) == []  # another region: not listed

            # warnings of the real early-warning path reach the labour department of 长安区 only
            def kinds(user: auth.User) -> set[str]:
                return {w["kind"] for w in queries.run(s, "department_warnings", list(user.departments), list(user.scope))}

            wait_until(lambda: kinds(DEPT) == {"hotspot", "class_case"}, 30, "hotspot and class case on the labour desk")
            assert kinds(ZD) == set() and kinds(PROP) == set()
            assert queries.run(s, "department_warnings", [ZD_LABOUR], []) == []  # province-wide: still not routed
            hot = next(w for w in queries.run(s, "department_warnings", [LABOUR], ["130102"]) if w["kind"] == "hotspot")
            assert hot["topics"] == ("劳资纠纷",) and LABOUR in hot["routed_to"]
            with pytest.raises(desk_actions.DeskRefused, match="未分送本单位"):
                desk_actions.acknowledge_warning(s, ZD, hot["alert_id"], None)
            desk_actions.acknowledge_warning(s, DEPT, hot["alert_id"], "已安排排查")
            wait_until(lambda: queries.run(s, "alert_state", hot["alert_id"])[0]["acknowledged_by"] == "dept_changan",
                     30, "the acknowledgement in the read model")
        audit = Reader(s, s.topics.audit)
        records = audit.poll(3)
        audit.close()
        assert {(r["key"], r["case_id"], r["rule"]) for r in records if r.get("case_id")} >= {
            ("desk:dept_zd", "L2", "scope"), ("desk:dept_prop", "L2", "not_assigned")}
        assert any(r["rule"] == "not_routed" for r in records)
        assert all("content" not in r and "citizen" not in r for r in records)
    finally:
        worker.stop()
