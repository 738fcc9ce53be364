"""The sink's own state, where the wall can read it: is ingestion landing, or retrying?

The batching sink updates a `SinkHealth` on every insert success and every failed
attempt; the runner writes it as JSON to `<data_dir>/sink_state.json` (on every
change of state and as a heartbeat), so the wall — in the same process (embedded)
or another on the same host (server mode) — can say "stale" when the store is down
instead of showing old numbers as live. A bad row is not a store fault: it goes to
the DLQ and the state stays healthy.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE = "sink_state.json"
HEARTBEAT_SECONDS = 5.0  # the runner rewrites the file at least this often while it runs
FAILING_GRACE_SECONDS = 3.0  # a single failed attempt that the next retry fixes is not news


@dataclass
class SinkHealth:
    """Wall-clock instants (epoch seconds); `failing_since` is set while a step keeps failing."""

    running: bool = True
    updated_at: float = 0.0
    last_insert_at: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    failing_since: float | None = None
    failing_step: str = ""
    attempts: int = 0  # failed attempts of the current failing step
    poison_rows: int = 0  # rows the store refused, sent to the DLQ (since start)

    def failed(self, step: str, error: str, now: float) -> None:
        if self.failing_since is None or self.failing_step != step:
            self.failing_since, self.failing_step, self.attempts = now, step, 0
        self.attempts += 1
        self.last_error, self.last_error_at = error[:300], now

    def succeeded(self, now: float, inserted: bool) -> None:
        self.failing_since, self.failing_step, self.attempts = None, "", 0
        if inserted:
            self.last_insert_at = now


def state_path(data_dir: Path) -> Path:
    return Path(data_dir) / STATE_FILE


def write_state(path: Path, health: SinkHealth) -> None:
    """Atomic replace, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(health)), encoding="utf-8")
    os.replace(tmp, path)


def read_state(path: Path) -> SinkHealth | None:
    """The last state a sink wrote, or None (no sink ran with this data dir, or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SinkHealth(**{k: v for k, v in data.items() if k in SinkHealth.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


def stale_reason(health: SinkHealth | None, now: float | None = None,
                 silent_after: float = 6 * HEARTBEAT_SECONDS) -> str:
    """A bilingual banner line when the sink is not landing rows, else ""."""
    if health is None:
        return ""
    now = time.time() if now is None else now
    if not health.running:
        return "写入服务已停止，大屏数据不再更新 Sink stopped: the wall is not being updated"
    if now - health.updated_at > silent_after:
        return (f"写入服务 {int(now - health.updated_at)} 秒无响应，数据可能滞后 "
                f"Sink not reporting for {int(now - health.updated_at)} s: data may be stale")
    if health.failing_since is not None and now - health.failing_since >= FAILING_GRACE_SECONDS:
        since = int(now - health.failing_since)
        return (f"数据库写入失败，已重试 {health.attempts} 次（{since} 秒），大屏数据滞后 "
                f"Store unavailable: {health.failing_step} retried {health.attempts}x for {since} s, data stale")
    return ""


def sink_stale(data_dir: Path) -> str:
    """The wall's one call: the stale banner for the sink that writes this data dir's store."""
    return stale_reason(read_state(state_path(data_dir)))
