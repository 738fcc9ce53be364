"""Each fact defined once: the time zone, the level ladder, the stage/level/target labels and the
schema version live in `fengqiao.vocab` only. This test reads the production source (not the tests,
which keep their own literal expectations) and fails on a second definition, so the copies that
once drifted (five ladders, fifteen time zones, two sets of stage words) cannot come back."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, get_args

import pytest

from fengqiao import vocab
from fengqiao.contract import Envelope

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("fengqiao", "streams", "sinks", "producers", "dashboard", "broker", "bench", "scripts")
HOME = ROOT / "fengqiao" / "vocab.py"
LEVELS, STAGES = set(vocab.LEVELS), set(vocab.STAGES)


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES if (ROOT / pkg).is_dir() for p in sorted((ROOT / pkg).rglob("*.py")) if p != HOME]


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (prose may name the zone)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _strs(nodes: list[Any]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _second_definitions(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    docs, where = _docstrings(tree), path.relative_to(root)
    found = []
    for node in ast.walk(tree):
        at = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                and vocab.TZ_NAME in node.value:
            found.append(f"{at} spells the time zone (use vocab.TZ / TZ_NAME / TZ_SQL)")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "ZoneInfo":
            found.append(f"{at} builds a ZoneInfo (use vocab.TZ)")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "timezone" \
                and node.args and "hours" in ast.unparse(node.args[0]):
            found.append(f"{at} builds a fixed +08:00 offset (use vocab.TZ)")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(
                LEVELS & {*_strs(node.elts), *(getattr(e, "attr", "") for e in node.elts)}) >= 3:
            found.append(f"{at} lists the level ladder (use vocab.LEVELS / ESCALATION_LADDER)")
        elif isinstance(node, ast.ClassDef) and any(
                isinstance(s, ast.Assign) and any(getattr(t, "id", "") == "township" for t in s.targets) for s in node.body):
            found.append(f"{at} defines a Level enum (use vocab.Level)")
        elif isinstance(node, ast.Dict):
            keys = set(_strs(node.keys))
            if len(keys & STAGES) >= 3 or len(keys & LEVELS) >= 3 or keys == set(vocab.TARGETS):
                if any(any("\u4e00" <= ch <= "\u9fff" for ch in v) for v in _strs(node.values)):
                    found.append(f"{at} labels stages, levels or targets in Chinese (use vocab.*_ZH)")
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == "schema_version" and isinstance(v, ast.Constant):
                    found.append(f"{at} writes the schema version as a literal (use vocab.SCHEMA_VERSION)")
    return found


def test_the_shared_vocabulary_is_defined_once() -> None:
    found = [f for p in _sources() for f in _second_definitions(p)]
    assert found == [], "second definitions of fengqiao.vocab facts:\n" + "\n".join(found)


def test_the_guard_sees_what_it_guards_against(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"  # read as source only, never imported
    probe.write_text('from zoneinfo import ZoneInfo\nSH = ZoneInfo("Asia/Shanghai")\nCST = timezone(timedelta(hours=8))\n'
                     'L = ("village", "township", "county")\nM = [Level.county, Level.city, Level.province]\n'
                     'Z = {"reminder": "提醒", "warning": "催办", "overdue": "超期"}\n'
                     'T = {"sign": "签收", "resolve": "办结"}\nE = {"schema_version": 1}\n', "utf-8")
    assert len(_second_definitions(probe, tmp_path)) == 8


def test_the_contract_and_the_labels_agree_with_the_vocabulary() -> None:
    assert get_args(Envelope.model_fields["schema_version"].annotation) == (vocab.SCHEMA_VERSION,)
    assert tuple(vocab.LEVEL_ZH) == vocab.LEVELS and tuple(vocab.STAGE_ZH) == vocab.STAGES
    assert tuple(vocab.TARGET_ZH) == vocab.TARGETS
    assert vocab.ESCALATION_LADDER == tuple(vocab.Level)[1:]  # the ladder above the village, to the province
    assert str(vocab.TZ) == vocab.TZ_NAME and vocab.TZ_SQL == f"'{vocab.TZ_NAME}'"
