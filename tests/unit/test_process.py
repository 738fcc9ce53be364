"""The arena cap of the long-running parts: applied unless the operator set MALLOC_ARENA_MAX."""

from __future__ import annotations

import pytest

from fengqiao import process


def test_malloc_env_adds_the_cap_and_keeps_the_operators() -> None:
    assert process.malloc_env({"PATH": "/bin"}) == {"PATH": "/bin", "MALLOC_ARENA_MAX": "2",
                                                    "ARROW_DEFAULT_MEMORY_POOL": "system"}
    assert process.malloc_env({"MALLOC_ARENA_MAX": "8", "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}) == {
        "MALLOC_ARENA_MAX": "8", "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}


def test_malloc_accounting_sees_a_block_held_and_freed() -> None:
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    before = process.malloc_bytes()
    p = libc.malloc(64 << 20)  # above the mmap threshold: counted as mmapped while held
    held = process.malloc_bytes()
    libc.free(ctypes.c_void_p(p))
    after = process.malloc_bytes()
    assert held["mmapped"] - before["mmapped"] >= 64 << 20 and held["in_use"] - before["in_use"] >= 64 << 20
    assert held["in_use"] - after["in_use"] >= 64 << 20


def test_cap_is_not_applied_over_the_operators_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert process.cap_malloc_arenas() is False


def test_cap_applies_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert process.cap_malloc_arenas() is True  # this project's machines run glibc (Debian)


def test_malloc_trim_hands_freed_heap_pages_back_and_keeps_its_pace() -> None:
    import ctypes

    from fengqiao.process import MallocTrim, resident_bytes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    t = [0.0]
    trim = MallocTrim(every_s=60, clock=lambda: t[0])
    blocks = [libc.malloc(4096) for _ in range(20000)]  # 80 MB of heap below the mmap threshold
    for b in blocks:
        ctypes.memset(b, 1, 4096)  # resident
    before = resident_bytes()
    for b in blocks[:-1]:
        libc.free(b)  # the last block pins the heap's top: only a trim can give the middle back
    assert resident_bytes() > before - 20 * 2**20  # malloc kept the freed pages
    assert trim.maybe() and trim.released > 40 * 2**20
    assert not trim.maybe()  # not again within every_s
    t[0] = 60.0
    assert trim.maybe() and trim.trims == 2
    libc.free(blocks[-1])
