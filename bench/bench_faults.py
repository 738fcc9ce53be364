"""Faults under load, the long form (issue 13 item 2; the short form is tests/integration/test_faults.py).

    .venv/bin/python bench/bench_faults.py --minutes 6 [--rate 300]

A 3-node cluster of its own on free ports, a `fengqiao streams` worker and a `fengqiao sink`;
the simulator's events at `--rate`/s with acks=all for `--minutes`, and one after the other:
SIGKILL of broker node 2 (brought back with `kafka start`), SIGSTOP of broker node 3 for 30 s
then SIGCONT, SIGKILL of the sink, SIGKILL of the worker. Prints each fault's time to recover
and the ledger check (ClickHouse exactly once, case versions, alerts once, SLA stages due
during the faults raised once). Exit 1 when the check finds a problem. Not covered: stopping the
gateway mid-batch (the load goes straight to Kafka).
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--stop-seconds", type=float, default=30.0, help="how long broker node 3 stays SIGSTOPped")
    ap.add_argument("--keep", action="store_true", help="keep the folder (logs) after the run")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fq-faults-"))
    rig = Rig(root)
    try:
        t0 = time.monotonic()
        print(f"cluster up in {rig.start_cluster():.1f} s ({rig.s.kafka_bootstrap}); folder {root}", flush=True)
        worker = rig.start_worker()
        print(f"sink up in {rig.start_sink():.1f} s", flush=True)
        worker.wait_ready(180)
        load = rig.load(seconds=args.minutes * 60, rate=args.rate)
        load.start()
        steps = [lambda: rig.kill_broker(load), lambda: rig.stop_broker(load, args.stop_seconds), rig.kill_sink,
                 rig.kill_worker]  # the worker last: slower than 300/s here, it may not catch up under load
        gap = max(5.0, args.minutes * 60 / (len(steps) + 1) - 30)
        for step in steps:
            time.sleep(gap)
            if not load.is_alive():
                print("the load ended before the next fault: raise --minutes", flush=True)
                break
            print("  " + step().line(), flush=True)
        drained = rig.drain(load, timeout=600)
        verdict = rig.verify(load, wait_cases_s=180)
        print(f"{load.sent} events sent at {load.rate:.0f}/s, {len(load.failed)} not acknowledged; drained "
              f"{drained:.1f} s after the load; whole run {time.monotonic() - t0:.0f} s")
        for f in rig.faults:
            print("  " + f.line())
        print(verdict.summary())
        for p in verdict.problems():
            print("PROBLEM: " + p)
        return 1 if verdict.problems() else 0
    finally:
        rig.stop_all()
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
