"""Process-wide memory settings of the long-running parts (worker, sink, wall).

glibc's malloc gives threads that allocate their own arena, up to 8 per core; a process whose native
threads allocate and free (RocksDB's flushes and compactions, chDB's query pool, Streamlit's script
runs) then keeps memory scattered over many arenas that is rarely handed back, and its RSS creeps for
hours. Two arenas, as `MALLOC_ARENA_MAX=2` sets them (a common setting for such services), bound
that. A `MALLOC_ARENA_MAX` the operator set wins; off glibc nothing happens.
"""

from __future__ import annotations

import ctypes
import os

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def malloc_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with the arena cap for a process about to be exec'd (glibc reads it at start)."""
    return env if "MALLOC_ARENA_MAX" in env else {**env, "MALLOC_ARENA_MAX": str(ARENAS)}


def cap_malloc_arenas() -> bool:
    """Cap this process's arenas now (before its threads start); False when not applied."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, ARENAS))
