"""Progress of long CLI work (jar fetch, `simulate --max-events`, DLQ re-submission) on stderr.

stdout stays for the result a script reads (`simulate` prints one JSON line); progress goes to
stderr only: on a terminal as a rich bar (rich comes with typer), elsewhere (a log file, a
pipe, a test) as a plain bilingual line at most every `every` seconds and once at the end, so
a log never fills with bar redraws.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


class Progress:
    """`update(done)` as work goes on (cheap: throttled), `close()` at the end; a context manager."""

    def __init__(self, what: str, total: int | None = None, *, stream: TextIO | None = None, every: float = 2.0,
                 unit: str = "events", clock: Callable[[], float] = time.monotonic, bar: bool | None = None) -> None:
        self.what, self.total, self.unit, self.every, self.clock = what, total, unit, every, clock
        self.stream = stream if stream is not None else sys.stderr
        self.done, self.t0, self.last = 0, clock(), float("-inf")
        self._bar: Any = None
        self._task: Any = None
        isatty = getattr(self.stream, "isatty", lambda: False)
        if bar if bar is not None else isatty():
            self._start_bar()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, \
            TimeElapsedColumn, TimeRemainingColumn

        self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=Console(file=self.stream), transient=False)
        self._bar.start()
        self._task = self._bar.add_task(self.what, total=self.total)

    def line(self) -> str:
        """The plain form: `进度 progress · simulate: 1,200/5,000 (24%) · 310/s · ~13 s left`."""
        secs = max(self.clock() - self.t0, 1e-9)
        rate = self.done / secs
        if self.total:
            pct = 100.0 * self.done / self.total
            left = (self.total - self.done) / rate if rate > 0 else None
            tail = f" · 剩余约 ~{left:.0f} s left" if left is not None and self.done < self.total else ""
            return (f"进度 progress · {self.what}: {_fmt(self.done)}/{_fmt(self.total)} {self.unit} ({pct:.0f}%)"
                    f" · {rate:,.0f}/s{tail}")
        count = f"{_fmt(self.done)} {self.unit} · " if self.done else ""
        return f"进度 progress · {self.what}: {count}已用 {secs:.0f} s elapsed"

    def update(self, done: int | None = None, total: int | None = None) -> None:
        """Record `done` units so far (None: just a heartbeat) and the `total` once known; prints
        when `every` seconds passed."""
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, total=self.total)
            return
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            self._bar.stop()
            self._bar = None
            return
        print(self.line().replace("进度 progress", "完成 done", 1), file=self.stream, flush=True)

    def __enter__(self) -> "Progress":
        self.update()
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        elif self._bar is not None:  # failed: the error says why, no "done" line
            self._bar.stop()
