"""Process-wide memory settings of the long-running parts (worker, sink, wall).

glibc's malloc gives threads that allocate their own arena, up to 8 per core; a process whose native
threads allocate and free (RocksDB's flushes and compactions, chDB's query pool, Streamlit's script
runs) then keeps memory scattered over many arenas that is rarely handed back, and its RSS creeps for
hours. Two arenas, as `MALLOC_ARENA_MAX=2` sets them (a common setting for such services), bound
that. A `MALLOC_ARENA_MAX` the operator set wins; off glibc nothing happens. The wall's pyarrow
(Streamlit's table serialisation) is sent to the same allocator (`ARROW_DEFAULT_MEMORY_POOL=system`,
its Linux wheels default to a mimalloc pool of their own), so that `malloc_bytes` accounts for it too.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable

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


def resident_bytes() -> int:
    """This process's resident set (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class MallocTrim:
    """Hands the pages malloc keeps free back to the OS (`malloc_trim(0)`: every arena, pages in the
    middle of a heap too), at most once per `every_s`. glibc only gives back the free top of a heap
    by itself, so a long-running process whose allocations come and go in bursts (the wall's script
    runs, chDB's query pool) keeps what its peak needed. In a 60-minute soak the trims gave back
    148 MB in the worker and 35 MB in the wall by minute 46, but the RSS slopes stayed what they were
    without them: most of the growth is outside malloc's free lists. `released` sums what the trims
    gave back (the resident set before minus after: a page handed back in the middle of a heap still
    counts as free in `malloc_bytes`). Does nothing off glibc."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self.clock = every_s, clock
        self.last: float | None = None
        self.trims = self.released = 0
        try:
            self._fn: Callable[[int], int] | None = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            self._fn = None

    def maybe(self) -> bool:
        """Trim unless the last trim is less than `every_s` old."""
        now = self.clock()
        if self._fn is None or (self.last is not None and now - self.last < self.every_s):
            return False
        self.last = now
        before = resident_bytes()
        self._fn(0)
        self.trims += 1
        self.released += max(0, before - resident_bytes())
        return True


TRIM = MallocTrim()  # the process's one trimmer: each part calls `TRIM.maybe()` from a loop it has anyway


def cap_malloc_arenas() -> bool:
    """Cap this process's arenas now (before its threads start); False when not applied."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, ARENAS))
