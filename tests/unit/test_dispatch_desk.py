"""派单工作台 (issue 14 item 2): the dispatcher's actions, checked by the lifecycle itself and by the
desk path's server-side checks; the queue and the 推诿 counts on rows of seeded simulator histories
(replayed through the domain, mapped by the sink's own `map_event`) in this test's own database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import auth, desk_actions, dispatch_desk, queries
from dashboard.seed import history, seed
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.case import DISPATCHABLE
from fengqiao.domain.lifecycle import apply
from fengqiao.domain.policy import load_policy
from fengqiao.settings import Settings
from fengqiao.vocab import TZ
from producers.sim_check import replay_all
from sinks.store import get_client
from tests.unit import domain_factory as f

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CASES = 300  # seed 7 at SEEDED_AT: some cases wait for dispatch, some returned ones among them


def seeded_at() -> datetime:
    """Yesterday 14:57 in Shanghai: the seeded history depends on its `now` (at 23:00 on some days no
    case waits for dispatch); at this hour every day of a fortnight tried had two or more returned."""
    return datetime.combine(datetime.now(TZ).date() - timedelta(days=1), time(14, 57), TZ)
DISPATCHER = auth.User("dispatcher", "派单员", "dispatcher", ("province",))
VIEWER = auth.User("viewer", "观察员", "viewer", ("province",))
DEPT = auth.User("dept_changan", "长安区劳动保障所", "department", ("130102",), ("某乡镇综治中心",))
RETURNED = {"case_id": "C-9", "status": "returned", "returned_by": "某乡镇综治中心", "level": "township",
            "category": "dispute", "topic": "劳资纠纷", "region_code": "130102", "return_reason": "不属本单位职责"}


def test_a_rejected_return_goes_back_to_the_same_department_with_the_reason() -> None:
    p = dispatch_desk.reject_payload(RETURNED, "  属于本单位职责范围，请依法办理 ")
    assert p == {"department": "某乡镇综治中心", "level": "township", "note": "驳回退回：属于本单位职责范围，请依法办理"}
    ev = desk_actions.build_event(DISPATCHER, "case.assigned", "C-9", "130102", p)  # the contract takes the note
    assert ev.payload.note == p["note"] and ev.actor.id == "dispatcher"  # type: ignore[union-attr]
    # ... and the lifecycle takes it: the same department again, one return counted (推诿)
    pol, cal = load_policy(), load_calendar()
    s = None
    for e in (f.received("C-9", "2026-11-30T09:00:00+08:00"),
              f.assigned("C-9", "2026-11-30T09:10:00+08:00", department="某乡镇综治中心"),
              f.ev("C-9", "case.returned", "2026-11-30T10:00:00+08:00", department="某乡镇综治中心", reason="不属本单位"),
              f.assigned("C-9", "2026-11-30T10:30:00+08:00", department="某乡镇综治中心", note=p["note"])):
        s = apply(s, e, pol, cal)
    assert s is not None and (s.status, s.department, s.return_count, s.assign_count) == ("assigned", "某乡镇综治中心", 1, 2)


@pytest.mark.parametrize("row,reason,msg", [
    (RETURNED, " ", "请填写驳回理由"),
    ({**RETURNED, "status": "received", "returned_by": ""}, "x", "不是退回件"),
])
def test_a_rejection_needs_a_returned_case_and_a_reason(row: dict, reason: str, msg: str) -> None:
    with pytest.raises(ValueError, match=f"输入无效 Invalid input: .*{msg}"):
        dispatch_desk.reject_payload(row, reason)


def test_an_approved_return_goes_elsewhere_and_a_hand_assignment_names_a_department() -> None:
    with pytest.raises(ValueError, match="改派其他单位"):
        dispatch_desk.approve_payload(RETURNED, "某乡镇综治中心", "township")
    p = dispatch_desk.approve_payload(RETURNED, "长安区社会矛盾纠纷调处中心", "county", "跨部门，提级调处")
    assert p == {"department": "长安区社会矛盾纠纷调处中心", "level": "county", "note": "同意退回，改派：跨部门，提级调处"}
    with pytest.raises(ValueError, match="请填写承办单位"):
        dispatch_desk.assign_payload(" ", "township")
    with pytest.raises(ValueError, match="层级无效"):
        dispatch_desk.assign_payload("x", "galaxy")
    assert dispatch_desk.suggestion(RETURNED).department == "长安区乡镇（街道）劳动保障所"  # the rules' choice


@pytest.mark.parametrize("user", [VIEWER, DEPT])
def test_only_a_dispatcher_may_dispatch_server_side(user: auth.User) -> None:
    def never(_: str) -> dict:
        raise AssertionError("refused before the case is even read")

    with pytest.raises(auth.Forbidden):
        desk_actions.act(Settings(), user, "case.assigned", "C-9", dispatch_desk.reject_payload(RETURNED, "x"),
                         cases=never)


@pytest.fixture(scope="module")
def store(session_chdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, datetime]]:
    db = "t_dq_" + uuid.uuid4().hex[:8]
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"FENGQIAO_CLICKHOUSE_URL": session_chdb_url, "FENGQIAO_CLICKHOUSE_DATABASE": db,
                     "FENGQIAO_DATA_DIR": str(tmp_path_factory.mktemp("dq")), "FENGQIAO_WALL__EMBEDDED_SINK": "false",
                     "FENGQIAO_KAFKA_BOOTSTRAP": "127.0.0.1:9"}.items():
            mp.setenv(k, v)
        s, now = Settings(), seeded_at()
        seed(get_client(s), db, cases=CASES, now=now)
        yield s, now


def test_the_queue_and_the_returns_agree_with_the_domain(store: tuple[Settings, datetime]) -> None:
    s, now = store
    events = history(CASES, 7, now)
    states, _ = replay_all(events, load_policy(), load_calendar())
    waiting = {c for c, st in states.items() if st.status in DISPATCHABLE}
    rows = queries.run(s, "dispatch_queue", 0.0)
    assert {r["case_id"] for r in rows} == waiting and waiting  # nothing missing, nothing extra
    assert [r["waiting_since"] for r in rows] == sorted(r["waiting_since"] for r in rows)  # oldest first
    last_return = {e.case_id: e.payload for e in events if e.event_type == "case.returned"}
    for r in rows:
        assert r["returns"] == states[r["case_id"]].return_count
        if r["status"] == "returned":
            assert (r["returned_by"], r["return_reason"]) == (last_return[r["case_id"]].department,
                                                              last_return[r["case_id"]].reason)
    by_dept: dict[str, int] = {}
    for e in events:
        if e.event_type == "case.returned":
            by_dept[e.payload.department] = by_dept.get(e.payload.department, 0) + 1
    shirk = queries.run(s, "returns_by_department")
    assert {r["department"]: r["returns"] for r in shirk} == dict(sorted(by_dept.items(), key=lambda kv: (-kv[1], kv[0]))[:20])  # ties by name, as the query
    table = dispatch_desk.table(rows, now)
    assert {t["类型"] for t in table} <= set(dispatch_desk.KIND_ZH.values())
    # an unplaced case is one the rules did not place within the auto-dispatch delay: a day's delay hides the fresh ones
    late = queries.run(s, "dispatch_queue", 86400.0)
    clock = datetime.now(TZ)  # the query's own clock, not the history's
    assert {r["case_id"] for r in late} <= waiting and all(r["status"] != "received" or
                                                          (clock - r["waiting_since"]).total_seconds() > 86000 for r in late)


def test_the_desk_is_for_dispatchers(store: tuple[Settings, datetime]) -> None:
    def login(user: str, password: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "dashboard" / "pages" / "dispatch.py"), default_timeout=60).run()
        at.text_input(key="login_user").input(user)
        at.text_input(key="login_password").input(password)
        at.button[0].click()
        return at.run()

    at = login("dispatcher", "dispatch123")  # (a viewer is refused by the shared gate: desk_ui.gate's tests)
    assert not at.exception, at.exception
    assert at.dataframe and at.selectbox(key="dq_case").options  # the queue, and a case to act on
    assert any("派单 Assign" in b.label for b in at.button)
    shown = {r["案件编号"]: r for r in at.dataframe[0].value.to_dict("records")}
    assert any(r["类型"] == "退回待审核" and r["退回单位"] and r["退回次数"] >= 1 for r in shown.values())
