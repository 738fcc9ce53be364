"""CPU cost of one case's path in the worker, without Kafka: decode the table value, apply the
event through the domain (`CaseRules`), serialise the outputs, encode the value; then one tick
per case two hours later. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_case_record.py [--events 10000] [--old-rev e7b15f8]

`--old-rev` also runs the untyped dict entry of that revision (its `streams/casework.py` and
`streams/alerts.py`, taken from git into a temporary folder) on the same events, alternating
runs so both see the same machine load. CPU time (`time.process_time`), not wall time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from fengqiao.domain import case_codec as codec  # noqa: E402
from fengqiao.domain.calendar import load_calendar  # noqa: E402
from fengqiao.domain.lifecycle import LifecycleError  # noqa: E402
from fengqiao.domain.policy import load_policy  # noqa: E402
from fengqiao.vocab import TZ  # noqa: E402
from streams.casework import build_rules, serialise  # noqa: E402


def route(c: str, t: str, d: str, r: str) -> tuple[str, str]:
    return "某街道办", "township"


def drive(evs: list[Any], now: datetime, decode: Callable[[bytes], Any], encode: Callable[[Any], bytes],
          on_event: Callable[..., Any], on_tick: Callable[..., Any]) -> dict[str, bytes]:
    """Events through a table of encoded values, then one tick per case two hours later."""
    table: dict[str, bytes] = {}
    for ev in evs:
        raw = table.get(ev.case_id)
        try:
            rec = on_event(decode(raw) if raw else None, ev, 0, now)
        except LifecycleError:
            continue
        if rec is not None:
            table[ev.case_id] = encode(rec)
    for cid, raw in list(table.items()):
        rec = on_tick(decode(raw), now + timedelta(hours=2))
        if rec is not None:
            table[cid] = encode(rec)
    return table


def typed_run(evs: list[Any], now: datetime) -> dict[str, bytes]:
    rules = build_rules(load_policy(), load_calendar(), route=route)

    def step(result: Any) -> Any:
        serialise(result.outputs)
        return result.record

    return drive(evs, now, codec.decode, codec.encode, lambda *a: step(rules.on_event(*a)),
                 lambda *a: step(rules.on_tick(*a)))


def old_runner(rev: str) -> Callable[[list[Any], datetime], dict[str, bytes]]:
    """The dict entry of `rev` (faust stored it with its orjson-backed json codec)."""
    pkg = Path(tempfile.mkdtemp(prefix="fq-old-")) / "oldstreams"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("casework", "alerts"):
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:streams/{name}.py"], check=True,
                             capture_output=True, text=True).stdout
        (pkg / f"{name}.py").write_text(src.replace("from streams import alerts as al",
                                                    "from oldstreams import alerts as al"))
    sys.path.insert(0, str(pkg.parent))
    from oldstreams.casework import CaseLogic  # type: ignore[import-not-found]

    def run(evs: list[Any], now: datetime) -> dict[str, bytes]:
        logic = CaseLogic(load_policy(), load_calendar(), route=route)  # its outputs are bytes already
        return drive(evs, now, orjson.loads, orjson.dumps, lambda *a: logic.on_event(*a)[0],
                     lambda *a: logic.on_tick(*a)[0])

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--old-rev", default="", help="also run the dict entry of this git revision")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from producers.simulator import generate_events

    now = datetime.now(TZ)
    evs = list(generate_events(7, args.events, start=now - timedelta(seconds=args.events / 4), rate=2.0))
    runs: list[tuple[str, Callable[[list[Any], datetime], dict[str, bytes]]]] = [("typed CaseRecord", typed_run)]
    if args.old_rev:
        runs.append((f"dict entry @ {args.old_rev}", old_runner(args.old_rev)))
    best: dict[str, float] = {}
    size: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, fn in runs:
            t = time.process_time()
            table = fn(evs, now)
            dt = time.process_time() - t
            best[name] = min(best.get(name, dt), dt)
            size[name] = sum(map(len, table.values())) / max(1, len(table))
    for name, _ in runs:
        print(f"{name:>28}: {args.events / best[name]:>7,.0f} events/s of CPU (best of {args.rounds}; "
              f"{args.events} events + a tick per case), table value {size[name]:.0f} B on average")


if __name__ == "__main__":
    main()
