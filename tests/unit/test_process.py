"""The arena cap of the long-running parts: applied unless the operator set MALLOC_ARENA_MAX."""

from __future__ import annotations

import pytest

from fengqiao import process


def test_malloc_env_adds_the_cap_and_keeps_the_operators() -> None:
    assert process.malloc_env({"PATH": "/bin"}) == {"PATH": "/bin", "MALLOC_ARENA_MAX": "2"}
    assert process.malloc_env({"MALLOC_ARENA_MAX": "8"}) == {"MALLOC_ARENA_MAX": "8"}


def test_cap_is_not_applied_over_the_operators_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert process.cap_malloc_arenas() is False


def test_cap_applies_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert process.cap_malloc_arenas() is True  # this project's machines run glibc (Debian)
