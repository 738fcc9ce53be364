"""requirements.lock (what both README commands install) covers every dependency pyproject.toml names,
at a version the declared range accepts, and pins each with hashes."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fengqiao.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


def _locked() -> dict[str, str]:
    text = (PROJECT_ROOT / "requirements.lock").read_text("utf-8")
    return {canonicalize_name(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", text, re.M)}


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    declared = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    locked = _locked()
    for req in declared:
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in requirements.lock: run bash scripts/lock.sh"
        assert req.specifier.contains(locked[name], prereleases=True), \
            f"{req.name}=={locked[name]} is outside {req.specifier}: run bash scripts/lock.sh"


def test_every_pin_carries_a_hash() -> None:
    blocks = (PROJECT_ROOT / "requirements.lock").read_text("utf-8").split("\n")
    pins = [i for i, line in enumerate(blocks) if re.match(r"^[A-Za-z0-9_.\-]+==", line)]
    assert pins
    for i in pins:
        assert "--hash=sha256:" in blocks[i + 1], blocks[i]
