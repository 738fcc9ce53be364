"""Log an outage once, then at a bounded rate.

Without a broker the worker's Kafka clients (aiokafka, kafka-python) and Faust's
services repeat the same warning many times a second (24,000 lines in four minutes
in issue 13). `RepeatFilter` lets a (logger, message template) through the first
time, then at most once per `interval` seconds with a count of what it held back,
and remembers the last problems so a health endpoint can show the outage. It is
pure `logging`; `install()` puts one filter on the root handlers, where every
part's records end up (the entry points call it after their logging is set up).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL = 30.0
MAX_KEYS = 512  # distinct templates remembered (oldest forgotten first)
_VARYING = re.compile(r"0x[0-9a-fA-F]+|\d+")  # object addresses and numbers (ids, ports, durations)


@dataclass
class Repeat:
    """One (logger, template): when it was first/last seen and how often."""

    logger: str
    message: str
    level: str
    first_seen: float
    last_seen: float
    last_passed: float
    count: int = 1
    held: int = 0  # held back since the last line that went through

    def as_json(self, now: float) -> dict[str, object]:
        return {"logger": self.logger, "level": self.level, "message": self.message[:300],
                "count": self.count, "first_seen_s_ago": round(now - self.first_seen, 1),
                "last_seen_s_ago": round(now - self.last_seen, 1)}


def template_of(record: logging.LogRecord) -> str:
    """The message before its arguments; numbers and addresses folded so `node 1`/`node 2` (and
    messages formatted before logging, as some of kafka-python's are) are one template."""
    return _VARYING.sub("#", str(record.msg))[:200]


class RepeatFilter(logging.Filter):
    """Warnings and errors: once, then at most once per `interval` with 'suppressed K similar'.
    Records below `min_level` always pass (their rate is the program's own)."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, *, min_level: int = logging.WARNING,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        super().__init__()
        self.interval = interval
        self.min_level = min_level
        self.clock = clock
        self.max_keys = max_keys
        self.suppressed_total = 0
        self._seen: OrderedDict[tuple[str, str], Repeat] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level:
            return True
        key = (record.name, template_of(record))
        now = self.clock()
        with self._lock:
            rep = self._seen.get(key)
            if rep is None:
                self._seen[key] = Repeat(record.name, key[1], record.levelname, now, now, now)
                while len(self._seen) > self.max_keys:
                    self._seen.popitem(last=False)
                return True
            self._seen.move_to_end(key)
            rep.count += 1
            rep.last_seen = now
            if now - rep.last_passed < self.interval:
                rep.held += 1
                self.suppressed_total += 1
                return False
            held, rep.held, rep.last_passed = rep.held, 0, now
        if held:
            note = f" [suppressed {held} similar in {self.interval:g}s / 已省略 {held} 条同类日志]"
            record.msg = f"{record.getMessage()}{note}"
            record.args = ()  # not None: mode's formatter (faust's worker) turns None into (None,) and fails
        return True

    def problems(self, within: float = 300.0) -> list[dict[str, object]]:
        """Warnings/errors seen in the last `within` seconds, most recent first (for /health)."""
        now = self.clock()
        with self._lock:
            recent = [r for r in self._seen.values() if now - r.last_seen <= within]
        return [r.as_json(now) for r in sorted(recent, key=lambda r: -r.last_seen)][:20]


_FILTER: RepeatFilter | None = None


def repeat_filter() -> RepeatFilter:
    """The process's one filter (created on first use)."""
    global _FILTER
    if _FILTER is None:
        _FILTER = RepeatFilter()
    return _FILTER


def install(level: int = logging.INFO, fmt: str = "%(asctime)s %(levelname)s %(name)s %(message)s") -> RepeatFilter:
    """Put the process's filter on every root handler (a basic stderr handler first if there is none).
    Safe to call again after a framework reconfigured logging."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=fmt)
    flt = repeat_filter()
    for handler in root.handlers:
        if flt not in handler.filters:
            handler.addFilter(flt)
    return flt


def health() -> dict[str, object]:
    """What a health endpoint shows: recent warnings/errors and how many repeats were held back."""
    flt = repeat_filter()
    return {"log_problems": flt.problems(), "log_suppressed_total": flt.suppressed_total}
