"""`fengqiao status`: the health of every running part in one table.

Each part is probed where the settings say it listens (the worker's /health/, the wall's
/_stcore/health and its /metrics, the gateway's /healthz, the standalone sink's /metrics);
the broker by a Metadata request and the embedded sink by its state file, both done by the
caller (the CLI owns those adapters) and passed in as `Part`s. Pure apart from `http_probe`
(urllib, like the supervisor's).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

UP, DOWN, DEGRADED, ABSENT = "up", "down", "degraded", "absent"  # absent: optional and not running


@dataclass(frozen=True)
class Part:
    name: str
    where: str
    state: str
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def http_probe(url: str, timeout: float = 2.0) -> tuple[int, str] | None:
    """(status, body) of a GET, or None if nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(1_000_000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(100_000).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def streams_part(name: str, url: str, answer: tuple[int, str] | None) -> Part:
    """The worker's /health/: ready, lag, recent warnings."""
    if answer is None:
        return Part(name, url, DOWN, "no answer / 无响应")
    try:
        h = json.loads(answer[1])
    except ValueError:
        return Part(name, url, DOWN, f"HTTP {answer[0]}")
    problems = h.get("log_problems") or []
    detail = f"events {h.get('events_applied', 0)}, lag {h.get('lag_total', 0)}, partitions {h.get('partitions')}"
    if problems:
        detail += f"; {len(problems)} warning(s): {str(problems[0].get('message', ''))[:80]}"
    stalled = h.get("stalled") or []
    if stalled:
        return Part(name, url, DEGRADED, f"stream not started / 流未启动: {len(stalled)} partition(s), e.g. "
                                         f"{stalled[0].get('topic')}:{stalled[0].get('partition')}; " + detail)
    kafka = h.get("kafka") or {}
    if kafka.get("reachable") is False:
        return Part(name, url, DEGRADED, f"broker unreachable for {kafka.get('down_s', 0):.0f} s / 消息服务无响应; "
                                         + detail)
    if not h.get("ok"):
        return Part(name, url, DEGRADED, "not ready / 未就绪; " + detail)
    return Part(name, url, DEGRADED if problems else UP, detail)


def http_part(name: str, url: str, answer: tuple[int, str] | None, optional: bool = False) -> Part:
    """An endpoint that answers 200 when the part is well (503 from the gateway: broker down)."""
    if answer is None:
        return Part(name, url, ABSENT if optional else DOWN, "no answer / 无响应")
    status, body = answer
    if status == 200:
        return Part(name, url, UP, "")
    return Part(name, url, DEGRADED, f"HTTP {status} {body[:120]}")


def metric_sum(text: str, name: str) -> float | None:
    """The sum of one metric's samples in Prometheus text (no labels parsing needed here)."""
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"):
            try:
                total += float(line.rsplit(" ", 1)[1])
                seen = True
            except ValueError:
                continue
    return total if seen else None


def render(parts: list[Part]) -> str:
    """A plain table: part, state, where, detail."""
    rows = [("PART 部件", "STATE 状态", "WHERE 地址", "DETAIL 详情")] + [(p.name, p.state, p.where, p.detail)
                                                                        for p in parts]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows)


def exit_code(parts: list[Part]) -> int:
    """0 when every part is up (or optional and absent), 1 if one is degraded, 2 if one is down."""
    states = {p.state for p in parts}
    return 2 if DOWN in states else 1 if DEGRADED in states else 0
