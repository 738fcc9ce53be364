"""`fengqiao simulate --departments manual` (issue 14 item 10): people play the departments at the desk."""

from __future__ import annotations

from collections import Counter

import pytest

from fengqiao.domain import triage
from producers.sim_case import DEPARTMENT_EVENTS
from producers.sim_check import replay_all
from producers.simulator import behaviour_for, generate_events

pytestmark = pytest.mark.unit


def test_manual_departments_leave_every_department_action_to_the_desk() -> None:
    events = generate_events(11, 3000, speed=3600, departments="manual")
    kinds = Counter(e.event_type for e in events)
    assert not DEPARTMENT_EVENTS & set(kinds), kinds  # no sign, reply, extension or return
    assert kinds["petition.received"] and kinds["case.assigned"]  # still registers and dispatches
    assert kinds["case.resolved_online"] and kinds["case.merged"]  # and does the platform's own work
    states, refused = replay_all(events)
    assert refused == []  # 0 refusals by the lifecycle
    received = {e.case_id: e for e in events if e.event_type == "petition.received"}
    for e in events:
        if e.event_type == "case.assigned":  # to the department the rules name: the one a desk user acts for
            r = received[e.case_id]
            want = triage.decide(r.payload.category.value, r.payload.topic,
                                 r.payload.difficulty.value if r.payload.difficulty else None, r.region_code)
            assert (e.payload.department, e.payload.level.value) == (want.department, want.level)
    assert {s.status for s in states.values()} <= {"received", "assigned", "resolved_online", "merged"}


def test_simulated_departments_are_the_default_and_a_bad_mode_is_refused() -> None:
    kinds = {e.event_type for e in generate_events(11, 3000, speed=3600)}
    assert DEPARTMENT_EVENTS <= kinds
    with pytest.raises(ValueError, match="--departments 只能是"):
        behaviour_for("robots")


def test_up_shows_every_desks_demo_login_on_the_laptop_only(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from fengqiao import cli
    from fengqiao.settings import Settings

    base = Settings(data_dir=tmp_path)
    cli._show_demo_logins(base.model_copy(update={"wall": base.wall.model_copy(update={"host": "0.0.0.0"})}))
    assert capsys.readouterr().out == ""  # beyond loopback: never shown (and the wall refuses to start)
    cli._show_demo_logins(base)
    out = capsys.readouterr().out
    assert "仅本机演示" in out
    for role, user, password in (("department", "dept_changan", "dept123"), ("dispatcher", "dispatcher", "dispatch123"),
                                 ("callback", "callback", "callback123"), ("officer", "officer", "officer123")):
        assert any(line.split()[:3] == [role, user, password] for line in out.splitlines()), out


def test_simulate_refuses_an_unknown_departments_mode() -> None:
    from typer.testing import CliRunner

    from fengqiao import cli

    res = CliRunner().invoke(cli.app, ["simulate", "--departments", "robots", "--max-events", "1"])
    assert res.exit_code == 1 and "--departments" in res.output
