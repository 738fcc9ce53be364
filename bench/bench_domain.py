"""Throughput of the domain core on one core: events/s through the state machine,
deadlines/s (due + stage instants), pending-stage schedules/s, state JSON round trips/s.

    .venv/bin/python bench/bench_domain.py [--cases 20000]

Events are parsed once beforehand (parsing is the contract's cost, measured elsewhere).
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from datetime import datetime, timedelta

from fengqiao.contract import parse_event
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import CaseState, apply, snapshot
from fengqiao.domain.policy import load_policy
from fengqiao.domain.sla import deadline, pending_stages, targets_for
from fengqiao.vocab import SCHEMA_VERSION
from fengqiao.vocab import TZ as CST

CATS = ["consult", "help", "dispute", "report", "complaint", "suggestion"]
URG = ["urgent", "pressing", "normal"]


def _e(cid: str, etype: str, at: datetime, payload: dict) -> object:
    return parse_event({"schema_version": SCHEMA_VERSION, "event_id": str(uuid.uuid4()), "event_type": etype, "case_id": cid,
                        "occurred_at": at.isoformat(), "region_code": "130123", "channel": "web", "payload": payload})


def case_events(i: int, rng: random.Random) -> list:
    cid = f"B{i}"
    at = datetime(2026, 1, 5, 8, tzinfo=CST) + timedelta(minutes=rng.randrange(0, 300 * 24 * 60))
    step = lambda: timedelta(minutes=rng.randrange(10, 600))  # noqa: E731
    evs = [_e(cid, "petition.received", at, {"category": rng.choice(CATS), "topic": "邻里纠纷",
                                            "urgency": rng.choice(URG), "title": "t", "content": "c"})]
    dept = {"department": "乡镇综治中心"}
    for etype, payload in (("case.assigned", {**dept, "level": "township"}), ("case.signed", dept),
                           ("case.replied", {**dept, "result": "r", "resolved": True}),
                           ("case.evaluated", {"rating": rng.choice(["satisfied", "basically_satisfied", "dissatisfied"])})):
        at += step()
        evs.append(_e(cid, etype, at, payload))
    if evs[-1].payload.rating != "dissatisfied":
        at += step()
        evs.append(_e(cid, "case.archived", at, {}))
    return evs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=20000)
    args = ap.parse_args()
    rng = random.Random(7)
    policy, cal = load_policy(), load_calendar()
    cases = [case_events(i, rng) for i in range(args.cases)]
    n_events = sum(len(c) for c in cases)

    t0 = time.perf_counter()
    states = []
    for evs in cases:
        s = None
        for e in evs:
            s = apply(s, e, policy, cal)
        states.append(s)
    t1 = time.perf_counter()
    print(f"apply:            {n_events / (t1 - t0):>10,.0f} events/s   ({n_events} events, {args.cases} cases)")

    t0 = time.perf_counter()
    for s, evs in zip(states, cases):
        apply(s, evs[1], policy, cal)  # duplicate: ignored
    t1 = time.perf_counter()
    print(f"duplicate check:  {args.cases / (t1 - t0):>10,.0f} events/s")

    starts = [(datetime(2026, 1, 1, tzinfo=CST) + timedelta(seconds=rng.randrange(0, 360 * 86400)),
               rng.choice(CATS), rng.choice(URG)) for _ in range(args.cases)]
    t0 = time.perf_counter()
    for st, c, u in starts:
        deadline(st, policy.targets(c, u).resolve, cal)
    t1 = time.perf_counter()
    print(f"deadline (due):   {len(starts) / (t1 - t0):>10,.0f} deadlines/s")

    t0 = time.perf_counter()
    for st, c, u in starts:
        targets_for(c, u, st, policy, cal, level="township")
    t1 = time.perf_counter()
    print(f"targets_for:      {2 * len(starts) / (t1 - t0):>10,.0f} deadlines/s with stages + escalations "
          f"({len(starts) / (t1 - t0):,.0f} cases/s, 2 targets each)")

    open_states = [apply(None, c[0], policy, cal) for c in cases]
    t0 = time.perf_counter()
    for s in open_states:
        pending_stages(s, policy, cal)
    t1 = time.perf_counter()
    print(f"pending_stages:   {len(open_states) / (t1 - t0):>10,.0f} cases/s")

    t0 = time.perf_counter()
    blobs = [json.dumps(s.to_dict(), ensure_ascii=False) for s in states]
    for b in blobs:
        CaseState.from_dict(json.loads(b))
    t1 = time.perf_counter()
    print(f"state JSON r/t:   {len(blobs) / (t1 - t0):>10,.0f} states/s   (mean {sum(map(len, blobs)) / len(blobs):.0f} bytes)")

    t0 = time.perf_counter()
    for s in states:
        snapshot(s)
    t1 = time.perf_counter()
    print(f"snapshot:         {len(states) / (t1 - t0):>10,.0f} snapshots/s")


if __name__ == "__main__":
    main()
