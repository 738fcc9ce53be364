import math
from datetime import datetime, timedelta, timezone

import pytest

from fengqiao.contract import Category, Urgency
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.policy import PolicyError, load_policy
from fengqiao.domain.sla import targets_for

pytestmark = pytest.mark.unit

N = {"consult": 3, "help": 5, "suggestion": 7, "complaint": 15, "report": 15, "dispute": 15}


def test_default_profile_is_designs_table():
    p = load_policy()
    for c, n in N.items():
        assert str(p.targets(c, "urgent").sign) == "30 minutes"
        assert str(p.targets(c, "urgent").resolve) == "24 hours"
        assert str(p.targets(c, "pressing").sign) == "1 working_days"
        assert str(p.targets(c, "pressing").resolve) == f"{math.ceil(n / 2)} working_days"
        assert str(p.targets(c, "normal").sign) == "1 working_days"
        assert str(p.targets(c, "normal").resolve) == f"{n} working_days"
        assert str(p.targets(c, "normal", formal=True).resolve) == "60 natural_days"
    assert p.extension(True) == ("natural_days", 1, 30)
    assert p.extension(False) == ("working_days", None, None)
    assert p.ladder == ("township", "county", "city", "province")
    assert (p.thresholds.reminder, p.thresholds.warning, p.thresholds.overdue) == (0.5, 0.8, 1.0)
    assert str(p.escalation_step("urgent")) == "2 hours" and str(p.escalation_step("normal")) == "1 working_days"


def test_demo_profile_shows_every_stage_within_minutes():
    p = load_policy(profile="demo")
    cal = load_calendar()
    start = datetime(2026, 10, 3, 10, 0, tzinfo=timezone(timedelta(hours=8)))  # inside a holiday
    for c in Category:
        for u in Urgency:
            for formal in (False, True):
                t = targets_for(c.value, u.value, start, p, cal, formal=formal, level="village")
                for td in t.values():
                    last = td.escalations[-1][1]
                    assert [e[2] for e in td.escalations] == ["township", "county", "city", "province"]
                    assert last - start <= timedelta(minutes=12), (c, u, formal, td.target)


def _write(tmp_path, text):
    f = tmp_path / "policy.toml"
    f.write_text(text, "utf-8")
    return f


def _minimal(targets_extra=""):
    rows = "\n".join(f'[profiles.x.targets.{c}]\nurgent = {{ sign = "1 hours", resolve = "2 hours" }}\n'
                     f'pressing = {{ sign = "1 working_days", resolve = "2 working_days" }}\n'
                     f'normal = {{ sign = "1 working_days", resolve = "3 working_days" }}' for c in N)
    return "[profiles.x]\n" + targets_extra + "\n" + rows + "\n"


def _without(text, category):
    """Drop one category's table (its header and three rows)."""
    lines = text.splitlines()
    i = lines.index(f"[profiles.x.targets.{category}]")
    return "\n".join(lines[:i] + lines[i + 4:]) + "\n"


def test_a_minimal_file_loads(tmp_path):
    p = load_policy(_write(tmp_path, _minimal()), "x")
    assert p.name == "x" and str(p.targets("help", "urgent").resolve) == "2 hours"


@pytest.mark.parametrize("mutate, field", [
    (lambda t: t.replace('resolve = "3 working_days"', 'resolve = "3 fortnights"', 1), "profiles.x.targets.consult.normal.resolve"),
    (lambda t: t.replace('[profiles.x.targets.help]', '[profiles.x.targets.helpp]', 1), "profiles.x.targets.helpp"),
    (lambda t: t.replace("[profiles.x]\n", "[profiles.x]\ncolour = 1\n", 1), "profiles.x.colour"),
    (lambda t: t.replace("[profiles.x]\n", "[profiles.x]\nthresholds = { reminder = 0.9, warning = 0.8 }\n", 1), "profiles.x.thresholds"),
    (lambda t: t.replace('sign = "1 hours"', 'sign = "0 hours"', 1), "profiles.x.targets.consult.urgent.sign"),
    (lambda t: _without(t, "report"), "profiles.x"),
    (lambda t: t + "[profiles.x.formal]\nmax_extensions = -1\n", "profiles.x.formal.max_extensions"),
    (lambda t: t + "this is not toml", "(syntax)"),
])
def test_malformed_policy_is_refused_with_path_and_field(tmp_path, mutate, field):
    f = _write(tmp_path, mutate(_minimal()))
    with pytest.raises(PolicyError) as exc:
        load_policy(f, "x")
    assert exc.value.field == field, str(exc.value)
    assert str(f) in str(exc.value) and "策略" in str(exc.value)


def test_unknown_profile_and_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="available: default, demo"):
        load_policy(profile="fast")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.toml")
