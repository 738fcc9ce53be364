"""Desk actions (dashboard/desk_actions.py): the gateway's authorization for desk users, the region
scope, the state check against the lifecycle itself, and the demo desk users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dashboard import auth, desk_actions
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import LifecycleError, apply, snapshot
from fengqiao.domain.policy import load_policy
from tests.unit import domain_factory as f

pytestmark = pytest.mark.unit

LABOUR = "长安区乡镇（街道）劳动保障所"
DEPT = auth.User("dept_changan", "长安区劳动保障所", "department", ("130102",), (LABOUR,))
OTHER_REGION = auth.User("dept_zd", "正定县劳动保障所", "department", ("130123",), ("正定县乡镇（街道）劳动保障所",))
DISPATCHER = auth.User("dispatcher", "派单员", "dispatcher", ("province",))
CALLBACK = auth.User("callback", "回访员", "callback", ("province",))
VIEWER = auth.User("viewer", "观察员", "viewer")


def case(status: str = "assigned", department: str = LABOUR, region: str = "130102") -> dict[str, Any]:
    return {"case_id": "C-1", "status": status, "phase": "open", "channel": "web", "department": department,
            "region_code": region}


def sign(user: auth.User, department: str = LABOUR) -> Any:
    return desk_actions.build_event(user, "case.signed", "C-1", "130102", {"department": department})


def test_a_department_user_acts_only_for_its_departments_cases() -> None:
    assert desk_actions.denial_of(DEPT, sign(DEPT), case()) is None
    ev = sign(DEPT)
    assert ev.actor is not None and ev.actor.role == "department" and ev.actor.id == "dept_changan"
    assert ev.channel == "internal"
    other = desk_actions.denial_of(DEPT, sign(DEPT), case(department="长安区乡镇（街道）人民调解委员会"))
    assert other is not None and other.rule == "not_assigned" and "当前未分派给" in other.zh
    named = desk_actions.denial_of(DEPT, sign(DEPT, department="长安区乡镇（街道）人民调解委员会"), case())
    assert named is not None and named.rule == "department"
    assert desk_actions.denial_of(DEPT, sign(DEPT), None).rule == "unknown_case"  # type: ignore[union-attr]


def test_a_department_of_another_region_cannot_act_even_on_a_case_named_for_it() -> None:
    ev = desk_actions.build_event(OTHER_REGION, "case.signed", "C-1", "130102", {"department": OTHER_REGION.departments[0]})
    d = desk_actions.denial_of(OTHER_REGION, ev, case(department=OTHER_REGION.departments[0]))
    assert d is not None and d.rule == "scope" and "不在您的辖区内" in d.zh
    assert desk_actions.denial_of(OTHER_REGION, sign(OTHER_REGION), case()).rule == "scope"  # type: ignore[union-attr]


def test_roles_are_limited_to_their_desk_actions() -> None:
    assign = desk_actions.build_event(DISPATCHER, "case.assigned", "C-1", "130102",
                                      {"department": LABOUR, "level": "township"})
    assert assign.actor is not None and assign.actor.role == "platform"
    assert desk_actions.denial_of(DISPATCHER, assign, case(status="returned", department="")) is None
    assert desk_actions.denial_of(DEPT, assign, case()).rule == "role"  # type: ignore[union-attr]
    assert desk_actions.denial_of(DISPATCHER, sign(DISPATCHER), case()).rule == "role"  # type: ignore[union-attr]
    assert desk_actions.denial_of(CALLBACK, sign(CALLBACK), case()).rule == "role"  # type: ignore[union-attr]
    assert desk_actions.denial_of(VIEWER, sign(VIEWER), case()).rule == "role"  # type: ignore[union-attr]
    with pytest.raises(auth.Forbidden):
        desk_actions.act(None, VIEWER, "case.signed", "C-1", {"department": LABOUR},  # type: ignore[arg-type]
                         cases=lambda _: case())


def test_bad_input_is_refused_by_the_contract_in_both_languages() -> None:
    with pytest.raises(ValueError, match="输入无效 Invalid input"):
        desk_actions.act(None, DISPATCHER, "case.extended", "C-1", {"days": 99, "reason": "x", "approved_by": "y"},  # type: ignore[arg-type]
                         cases=lambda _: case(status="signed"))


def test_an_unreachable_case_view_refuses_the_action() -> None:
    def down(_: str) -> None:
        raise OSError("connection refused")

    with pytest.raises(desk_actions.CaseUnavailable, match="无法读取案件当前状态"):
        desk_actions.act(None, DEPT, "case.signed", "C-1", {"department": LABOUR}, cases=down)  # type: ignore[arg-type]


def _states() -> dict[str, Any]:
    """One case state per lifecycle status, built by the lifecycle itself."""
    pol, cal = load_policy(), load_calendar()
    d = "乡镇综治中心"
    paths = {
        "received": [f.received("S", "2026-11-02T09:00:00+08:00")],
        "assigned": [f.assigned("S", "2026-11-02T09:10:00+08:00", department=d)],
        "signed": [f.signed("S", "2026-11-02T09:20:00+08:00", department=d)],
        "replied": [f.replied("S", "2026-11-02T10:00:00+08:00", resolved=False, department=d)],
    }
    out, state = {}, None
    for status, events in paths.items():
        for e in events:
            state = apply(state, e, pol, cal)
        out[status] = state
    out["returned"] = apply(out["signed"], f.returned("S", "2026-11-02T09:30:00+08:00", department=d), pol, cal)
    done = apply(out["signed"], f.replied("S", "2026-11-02T10:00:00+08:00", department=d), pol, cal)
    out["evaluated"] = apply(done, f.evaluated("S", "2026-11-03T10:00:00+08:00"), pol, cal)
    out["reopened"] = apply(done, f.evaluated("S", "2026-11-03T10:00:00+08:00", rating="dissatisfied"), pol, cal)
    return out


PAYLOADS = {
    "case.signed": {"department": "乡镇综治中心"},
    "case.returned": {"department": "乡镇综治中心", "reason": "不属于本部门职责"},
    "case.replied": {"department": "乡镇综治中心", "result": "已处理", "resolved": False},
    "case.extended": {"days": 3, "reason": "需现场核查", "approved_by": "负责人"},
    "case.assigned": {"department": "乡镇综治中心", "level": "township"},
    "case.callback": {"reached": True, "rating": "satisfied"},
}


@pytest.mark.parametrize("etype", sorted(desk_actions.ALLOWED_FROM))
def test_the_state_check_agrees_with_the_lifecycle(etype: str) -> None:
    pol, cal = load_policy(), load_calendar()
    for status, state in _states().items():
        ev = f.ev("S", etype, "2026-11-04T09:00:00+08:00", **PAYLOADS[etype])
        try:
            apply(state, ev, pol, cal)
            lifecycle_ok = True
        except LifecycleError:
            lifecycle_ok = False
        snap = snapshot(state).model_dump(mode="json")
        assert (desk_actions.not_now(ev, snap) is None) == lifecycle_ok, (etype, status)


def test_demo_desk_users_exist_only_in_the_demo_file_and_count_as_demo(tmp_path: Path) -> None:
    path = auth.ensure_users_file(tmp_path)
    dept = auth.authenticate(path, "dept_changan", "dept123")
    assert dept is not None and dept.role == "department" and LABOUR in dept.departments and dept.covers("130102")
    assert auth.authenticate(path, "dispatcher", "dispatch123").role == "dispatcher"  # type: ignore[union-attr]
    assert auth.authenticate(path, "callback", "callback123").role == "callback"  # type: ignore[union-attr]
    assert auth.demo_users_in_effect(path)
    old = tmp_path / "old"  # a demo file written before the desks: they are added, the rest kept
    old.mkdir()
    first = auth.users_path(old)
    first.write_text("\n".join(path.read_text("utf-8").split("[users.dept_changan]")[0].splitlines()) + "\n", "utf-8")
    auth.ensure_users_file(old)
    assert auth.authenticate(first, "dispatcher", "dispatch123") is not None
    own = tmp_path / "own"  # a deployment's own file is never touched
    own.mkdir()
    auth.users_path(own).write_text('[users.duty]\nname = "值班员"\nrole = "officer"\n'
                                    f'password_hash = "{auth.hash_password("pw-1")}"\n', "utf-8")
    auth.ensure_users_file(own)
    assert "dispatcher" not in auth.users_path(own).read_text("utf-8")


def test_a_department_user_needs_its_departments(tmp_path: Path) -> None:
    path = tmp_path / "wall_users.toml"
    path.write_text(f'[users.d]\nname = "单位"\nrole = "department"\nscope = "130102"\n'
                    f'password_hash = "{auth.hash_password("pw-1")}"\n', "utf-8")
    with pytest.raises(ValueError, match="须列出所属部门"):
        auth.load_users(path)
