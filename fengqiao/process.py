"""Process-wide memory settings of the long-running parts (worker, sink, wall).

glibc's malloc gives threads that allocate their own arena, up to 8 per core; a process whose native
threads allocate and free (RocksDB's flushes and compactions, chDB's query pool, Streamlit's script
runs) then keeps memory scattered over many arenas that is rarely handed back, and its RSS creeps for
hours. Two arenas, as `MALLOC_ARENA_MAX=2` sets them (a common setting for such services), bound
that. A `MALLOC_ARENA_MAX` the operator set wins; off glibc nothing happens. The wall's pyarrow
(Streamlit's table serialisation) is sent to the same allocator (`ARROW_DEFAULT_MEMORY_POOL=system`,
its wheels default to a jemalloc pool of their own), so that `malloc_bytes` accounts for it too.
"""

from __future__ import annotations

import ctypes
import os

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


EXEC_ENV = {"MALLOC_ARENA_MAX": str(ARENAS), "ARROW_DEFAULT_MEMORY_POOL": "system"}


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def malloc_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with the arena cap (and pyarrow on it) for a process about to be exec'd (read at start);
    what the operator set wins."""
    return {**EXEC_ENV, **env}


def malloc_bytes() -> dict[str, int]:
    """glibc's own accounting over all arenas (`mallinfo2`): bytes handed out (`in_use`, mmapped
    blocks included), bytes freed but kept in the arenas (`free`: fragmentation when it climbs), and
    the mmapped share. With the RSS it tells memory held by malloc's callers from memory malloc keeps,
    and both from memory outside malloc (mapped files, a native part's own allocator). {} off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    m = fn()
    return {"in_use": int(m.uordblks + m.hblkhd), "free": int(m.fordblks), "mmapped": int(m.hblkhd)}


def cap_malloc_arenas() -> bool:
    """Cap this process's arenas now (before its threads start); False when not applied."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, ARENAS))
