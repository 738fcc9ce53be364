"""Faults under load, the long form (issue 13 item 2; the short form is tests/integration/test_faults.py).

    .venv/bin/python bench/bench_faults.py --minutes 8 [--rate 300]

(the six faults take about 8 minutes on a loaded 2-core box: with --minutes 4 the load ended after
the third; a fault is only started while the load runs)

A 3-node cluster of its own on free ports, a `fengqiao streams` worker, a `fengqiao sink` and a
`fengqiao gateway`; the simulator's events at `--rate`/s with acks=all for `--minutes`, plus
`--gateway-rate`/s of other cases posted through the gateway in batches of 200, and one after
the other: SIGKILL of broker node 2 (brought back with `kafka start`), SIGKILL of the gateway
with a batch in flight (restarted; the client posts the batch again), SIGSTOP of broker node 3
for 30 s then SIGCONT, SIGSTOP of the gateway mid-batch for 10 s then SIGCONT, SIGKILL of the
sink, SIGKILL of the worker. Prints each fault's time to recover and the ledger check
(ClickHouse exactly once for every acknowledged event, at most once for the others; case
versions; alerts once; SLA stages due during the faults raised, and how late against due + the
fault's outage + slack and against the worker's drain). Exit 1 when the check finds a problem;
the outage bound counts as one only when the worker kept up with the load (drained within the
slack), since a backlog delays every stage whatever the faults.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.fault_harness import Rig  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=6.0, help="length of the load")
    ap.add_argument("--rate", type=float, default=300.0, help="events per second")
    ap.add_argument("--gateway-rate", type=float, default=60.0, help="events per second through the gateway")
    ap.add_argument("--stop-seconds", type=float, default=30.0, help="how long broker node 3 stays SIGSTOPped")
    ap.add_argument("--slack", type=float, default=15.0, help="seconds an SLA stage may be raised past its bound")
    ap.add_argument("--keep", action="store_true", help="keep the folder (logs, the cluster's data) after the run")
    ap.add_argument("--details", type=Path, help="write the faults' windows and the SLA targets found with no "
                    "stage raised (their stages and due instants) to this JSON file")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fq-faults-"))
    rig = Rig(root)
    try:
        t0 = time.monotonic()
        print(f"cluster up in {rig.start_cluster():.1f} s ({rig.s.kafka_bootstrap}); folder {root}", flush=True)
        worker = rig.start_worker()
        print(f"sink up in {rig.start_sink():.1f} s, gateway in {rig.start_gateway():.1f} s", flush=True)
        worker.wait_ready(180)
        load = rig.load(seconds=args.minutes * 60, rate=args.rate)
        via = rig.gateway_load(seconds=args.minutes * 60, rate=args.gateway_rate)
        load.start()
        via.start()
        steps = [lambda: rig.kill_broker(load), lambda: rig.stop_gateway(via),
                 lambda: rig.stop_broker(load, args.stop_seconds), lambda: rig.stop_gateway(via, signal.SIGSTOP, 10),
                 rig.kill_sink, rig.kill_worker]  # the worker last: slower than 300/s here, it may not catch up
        gap = max(5.0, args.minutes * 60 / (len(steps) + 1) - 30)
        for step in steps:
            time.sleep(gap)
            if not load.is_alive():
                print("the load ended before the next fault: raise --minutes", flush=True)
                break
            print("  " + step().line(), flush=True)
        try:
            drained = rig.drain(load, via, timeout=900)
        except AssertionError as exc:  # still print what the run found; lost events then say "not yet"
            drained = float("nan")
            print(f"NOT DRAINED: {exc}", flush=True)
        verdict = rig.verify(load, via, wait_cases_s=180, slack_s=args.slack)
        kept_up = drained <= args.slack
        print(f"{load.sent} events sent at {load.rate:.0f}/s, {len(load.failed)} not acknowledged; {via.sent} "
              f"through the gateway at {via.rate:.0f}/s, {len(via.acked)} acknowledged by a 202, {via.posts_failed} "
              f"posts without one (posted again), {len(via.failed)} given up; drained {drained:.1f} s after the load "
              f"({'kept up' if kept_up else 'behind the load: the outage bound is printed, not counted'}); "
              f"worker restarts by its watchdog {rig.watchdog_restarts}; whole run {time.monotonic() - t0:.0f} s")
        for f in rig.faults:
            print("  " + f.line())
        print(verdict.summary())
        if args.details:
            args.details.write_text(json.dumps({
                "folder": str(root), "faults": [{"name": f.name, "start": f.start_wall.isoformat(),
                                                 "end": f.end_wall.isoformat() if f.end_wall else None,
                                                 "recovered_s": f.recovered_s} for f in rig.faults],
                "missing": verdict.missing_stages}, ensure_ascii=False, indent=1))
        problems = verdict.problems() + ([f"{len(verdict.late_over_outage)} SLA stages raised later than due + "
                                          f"outage + {args.slack:.0f} s, e.g. {verdict.late_over_outage[:3]}"]
                                         if kept_up and verdict.late_over_outage else [])
        for p in problems:
            print("PROBLEM: " + p)
        return 1 if problems else 0
    finally:
        rig.stop_all()
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
