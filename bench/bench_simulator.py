"""How the simulated province performs under the demo's defaults (issue 10 item 8).

`fengqiao up` runs the simulator at `--speed 60` (one virtual day per 24 minutes) with
the streams worker on the `demo` SLA profile (2–6 minute targets) and a 300 s
auto-dispatch. This generates the same traffic (`Scenario`, as `run_simulator` drives
it) for a simulated week, replays it through the domain lifecycle (as the worker does)
and prints what the wall would show at the end: 响应率, 按期办结率, overdue share of open
cases, returns, re-openings, dissatisfied ratings, and how many events the lifecycle refused.

    .venv/bin/python bench/bench_simulator.py                 # demo defaults, 7 simulated days
    .venv/bin/python bench/bench_simulator.py --rate 20 --days 2 --seed 3

Run it against an older checkout (PYTHONPATH) for a before/after: the old simulator did
not know the policy, the replay still uses the demo profile.
"""

from __future__ import annotations

import argparse
import inspect
import time
from datetime import datetime, timedelta
from datetime import time as clock_time

from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.policy import load_policy
from producers.scenario import DEFAULT_START, Scenario
from producers.sim_check import realism, replay_all


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=3.0, help="petitions per wall second (fengqiao up: 3)")
    ap.add_argument("--speed", type=float, default=60.0, help="time compression (fengqiao up: 60)")
    ap.add_argument("--profile", default="demo", help="SLA profile (fengqiao up: demo)")
    ap.add_argument("--days", type=float, default=7.0, help="simulated days")
    ap.add_argument("--warm-days", type=float, default=1.0, help="simulated days before cases are counted")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dispatch-within", type=float, default=300.0, help="the worker's auto-dispatch delay (s)")
    a = ap.parse_args()
    policy, cal = load_policy(None, a.profile), load_calendar()
    span = timedelta(days=a.days) / a.speed
    start = DEFAULT_START  # events may not lie in the future: a long real-time run starts weeks ago
    if start + span > datetime.now(start.tzinfo):
        start = datetime.combine((datetime.now(start.tzinfo) - span).date() - timedelta(days=1), clock_time(8),
                                 start.tzinfo)
    until = start + span
    kw = {}
    if "policy" in inspect.signature(Scenario).parameters:  # an older simulator did not know the policy
        kw.update(policy=policy, dispatch_within=a.dispatch_within)
    t0 = time.perf_counter()
    sc = Scenario(a.seed, start, a.speed, a.rate, **kw)  # type: ignore[arg-type]
    limit = span.total_seconds()
    events = []
    while sc.peek_time() < limit:
        events.append(sc.next_event()[1])
    t1 = time.perf_counter()
    states, refused = replay_all(events, policy, cal)
    t2 = time.perf_counter()
    now = max(e.occurred_at for e in events)
    since = start + timedelta(days=a.warm_days) / a.speed
    r = realism(events, states, now, since)
    print(f"seed {a.seed}  rate {a.rate}/s  speed {a.speed}  profile {a.profile}  {a.days} simulated days "
          f"({span.total_seconds():.0f} wall s from {start:%Y-%m-%d %H:%M})")
    print(f"events {len(events)}  generated in {t1 - t0:.1f} s, replayed in {t2 - t1:.1f} s")
    print(f"refused by the lifecycle    {len(refused)}" + (f"  e.g. {refused[0]}" if refused else ""))
    for line in r.lines():
        print(line)


if __name__ == "__main__":
    main()
