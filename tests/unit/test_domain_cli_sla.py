import json
import subprocess
import sys
from pathlib import Path

import pytest

from fengqiao.domain.report import SlaArgumentError, sla_report

pytestmark = pytest.mark.unit
CLI = str(Path(sys.executable).parent / "fengqiao")


def run(*args):
    return subprocess.run([CLI, "sla", *args], capture_output=True, text=True, timeout=60)


def test_json_output_is_exactly_the_documented_object():
    r = run("--category", "dispute", "--urgency", "normal", "--start", "2026-09-30T16:00:00+08:00", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"targets", "calendar_estimated"}
    assert set(out["targets"]) == {"sign", "resolve"}
    for t in out["targets"].values():
        assert set(t) == {"due_at", "stages"} and set(t["stages"]) == {"reminder", "warning", "overdue"}
    assert out["targets"]["sign"]["due_at"] == "2026-10-09T00:00:00+08:00"
    assert out["targets"]["resolve"]["due_at"] == "2026-10-28T00:00:00+08:00"
    assert out["calendar_estimated"] is False


def test_formal_policy_and_profile_options(tmp_path):
    r = run("--category", "consult", "--urgency", "normal", "--start", "2026-12-31T10:00:00+08:00", "--json")
    assert json.loads(r.stdout)["calendar_estimated"] is True
    r = run("--category", "complaint", "--urgency", "normal", "--start", "2026-09-30T02:00:00Z", "--formal", "--json")
    assert json.loads(r.stdout)["targets"]["resolve"]["due_at"] == "2026-11-30T00:00:00+08:00"
    r = run("--category", "help", "--urgency", "normal", "--start", "2026-09-30T10:00:00+08:00",
            "--profile", "demo", "--json")
    assert json.loads(r.stdout)["targets"]["resolve"]["due_at"] == "2026-09-30T10:05:00+08:00"
    r = run("--category", "help", "--urgency", "urgent", "--start", "2026-09-30T23:30:00+08:00")
    assert r.returncode == 0 and "sign: due 2026-10-01T00:00:00+08:00" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (["--category", "gossip", "--urgency", "normal", "--start", "2026-09-30T16:00:00+08:00"], "--category"),
    (["--category", "help", "--urgency", "soon", "--start", "2026-09-30T16:00:00+08:00"], "--urgency"),
    (["--category", "help", "--urgency", "normal", "--start", "2026-09-30T16:00:00"], "offset"),
    (["--category", "help", "--urgency", "normal", "--start", "yesterday"], "RFC 3339"),
    (["--category", "help", "--urgency", "normal", "--start", "2026-09-30T16:00:00+08:00", "--profile", "x"], "profile"),
])
def test_bad_arguments_exit_2_with_one_line(args, needle):
    r = run(*args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error:")


def test_malformed_policy_file_exits_2(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[profiles.default]\nthresholds = 3\n", "utf-8")
    r = run("--category", "help", "--urgency", "normal", "--start", "2026-09-30T16:00:00+08:00", "--policy", str(f))
    assert r.returncode == 2 and str(f) in r.stderr and "profiles.default" in r.stderr


def test_report_function_directly():
    with pytest.raises(SlaArgumentError):
        sla_report("help", "normal", "not a date")
    rep = sla_report("help", "urgent", "2026-09-30T23:50:00+08:00")
    assert rep["targets"]["sign"]["stages"]["overdue"] == "2026-10-01T00:20:00+08:00"
