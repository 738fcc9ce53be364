"""A per-worker min-heap of next-due instants, one entry per case (lazy deletion).

The heap only holds cases of the partitions this worker owns: it is rebuilt from the
case table (each entry's stored next wake `w`) after every rebalance/recovery. A tick
pops only what is due, so the work per tick is proportional to what is due, not to the
number of open cases. Popped cases get a tick message on the co-partitioned case-ops
topic, so the table change happens inside stream iteration on the owning worker.

Each entry may carry a group (its partition): `pop_due(now, until=...)` leaves in the heap the
entries due by `now` whose group has not reached them yet (a partition whose input is behind).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable


class TimerHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._when: dict[str, float] = {}
        self._group: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._when)

    def schedule(self, key: str, at: float | None, group: int | None = None) -> None:
        """Set (or clear, with None) the one wake-up of `key`."""
        if at is None:
            self._when.pop(key, None)
            self._group.pop(key, None)
            return
        if group is not None:
            self._group[key] = group
        if self._when.get(key) == at:
            return
        self._when[key] = at
        heapq.heappush(self._heap, (at, key))
        if len(self._heap) > 4 * len(self._when) + 1024:
            self._compact()

    def pop_due(self, now: float, limit: int = 10000,
                until: Callable[[int | None], float] | None = None) -> list[str]:
        """The keys due by `now` (and by `until(group)`, when given: asked once per group); the others stay."""
        out: list[str] = []
        held: list[tuple[float, str]] = []
        limits: dict[int | None, float] = {}
        h = self._heap
        while h and h[0][0] <= now and len(out) < limit:
            at, key = heapq.heappop(h)
            if self._when.get(key) != at:
                continue
            if until is not None:
                group = self._group.get(key)
                upto = limits.get(group)
                if upto is None:
                    upto = limits[group] = until(group)
                if at > upto:
                    held.append((at, key))
                    continue
            del self._when[key]
            self._group.pop(key, None)
            out.append(key)
        for entry in held:
            heapq.heappush(h, entry)
        return out

    def next_at(self) -> float | None:
        while self._heap and self._when.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def clear(self) -> None:
        self._heap.clear()
        self._when.clear()
        self._group.clear()

    def _compact(self) -> None:
        self._heap = [(at, k) for k, at in self._when.items()]
        heapq.heapify(self._heap)
