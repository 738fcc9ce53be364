"""Demo and test data written straight into the read model (no broker needed).

Used by the page tests, the browser tests (seeded from a separate process
BEFORE the wall starts, since chDB allows one process per data path) and for
trying the wall without the pipeline:

    FENGQIAO_DATA_DIR=/tmp/x python -m dashboard.seed --cases 400

The histories are the simulator's (`producers.scenario`, default SLA profile, real
time): one source of what a case's history looks like, each replayed through the
domain lifecycle into the snapshots the streams worker would publish, and every event
mapped to rows by the sink's own `sinks.rows.map_event`. Contact data is stored masked
(139****5678); the first case also has a sealed clear form (for the reveal) and a clear
phone number in its free text, which every page must mask.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, time, timedelta
from typing import Any

from fengqiao import privacy
from fengqiao import regions as rg
from fengqiao.contract import Envelope, parse_event
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import CaseState, snapshot
from fengqiao.domain.phase import Phase, phase_of
from fengqiao.domain.policy import load_policy
from fengqiao.settings import DEV_PII_KEY
from fengqiao.vocab import STAGE_ZH
from fengqiao.vocab import TZ as SH
from producers.scenario import Scenario
from producers.sim_check import replay_all
from sinks.rows import COLUMNS, case_row, map_event, open_case_row
from sinks.schema import migrate

SPAN, RECENT = timedelta(days=6), timedelta(hours=10)
MASKED_PHONE = "139****5678"
CLEAR_PHONE = "13912345678"  # only ever inside a payload's free text (must be masked on display) and sealed
FIRING_ALERT_ID = "alert-demo-firing-1"


def seed(client: Any, db: str, cases: int = 300, seed: int = 7, now: datetime | None = None,
         pii_key: str = DEV_PII_KEY) -> dict[str, Any]:
    """Write `cases` simulated cases (their events, snapshots and masked contacts) and some alerts."""
    now = now or datetime.now(SH)
    migrate(client, db)
    events = history(cases, seed, now, pii_key)
    states, refused = replay_all(events, load_policy(), load_calendar())
    assert not refused, refused[0]  # the simulator only writes histories the lifecycle accepts
    received = [e.case_id for e in events if e.event_type == "petition.received"]
    first = _first_case(events, states, pii_key)
    ids = [first, *(c for c in received if c != first)]
    rows: dict[str, list[tuple[Any, ...]]] = {"events": [], "contacts": []}
    for offset, ev in enumerate(events):
        mapped = map_event(ev.to_json(), 0, offset, ev.occurred_at, pii_key)
        assert not isinstance(mapped, str), mapped
        for r in mapped:
            rows[r.table].append(r.row)
        if ev.case_id == first and ev.event_type == "petition.received":  # the clear number stays in the text:
            rows["events"][-1] = (*rows["events"][-1][:13], _with_clear_phone(ev), *rows["events"][-1][14:])
    client.insert(f"{db}.events", rows["events"], column_names=list(COLUMNS["events"]))
    client.insert(f"{db}.contacts", rows["contacts"], column_names=list(COLUMNS["contacts"]))
    # what the sink writes for every snapshot: `cases`, and `open_cases` for the wall's board
    snaps = {cid: snapshot(st) for cid, st in states.items()}
    client.insert(f"{db}.cases", [case_row(c) for c in snaps.values()], column_names=list(COLUMNS["cases"]))
    client.insert(f"{db}.open_cases", [open_case_row(c) for c in snaps.values()],
                  column_names=list(COLUMNS["open_cases"]))
    alerts = []
    open_ids = [c for c in ids if snaps[c].phase == Phase.open]
    for k, cid in enumerate([first, *(c for c in open_ids if c != first)][:8]):
        region = snaps[cid].region_code
        stage = ["escalation", "overdue", "warning", "reminder"][k % 4]  # the first: critical and newest
        sev = {"reminder": "info", "warning": "warning", "overdue": "critical", "escalation": "critical"}[stage]
        aid = FIRING_ALERT_ID if k == 0 else f"alert-demo-{k}"
        alerts.append(_alert(aid, f"sla:{cid}:resolve:{stage}:0", "sla", stage, sev, "firing", cid, [],
                             region, now - timedelta(minutes=k * 7),
                             f"{rg.name_of(region)} {snaps[cid].topic}案件 {STAGE_ZH[stage]}"))
    for k, kind in enumerate(["hotspot", "class_case", "hotspot"]):
        region = snaps[ids[10 + k]].region_code
        alerts.append(_alert(f"alert-demo-ew-{k}", f"{kind}:{region}:{k}", kind, "", "warning", "firing", "",
                             ids[10:14], region, now - timedelta(minutes=5 + k),
                             f"{rg.name_of(region)} {snaps[ids[10 + k]].topic} "
                             + ("诉求量激增" if kind == "hotspot" else "类案聚集")))
    insert_alerts(client, db, alerts)
    return {"cases": len(ids), "case_ids": ids, "firing_alert": FIRING_ALERT_ID}


def history(cases: int, seed: int, now: datetime, pii_key: str = DEV_PII_KEY) -> list[Envelope]:
    """The events, up to `now`, of `cases` cases from the simulator (`producers.scenario`, the
    same traffic `fengqiao simulate` sends): two thirds received over the last six days, a
    third over the last ten hours (or since midnight), so today's figures are never empty."""
    recent = cases // 3
    since_midnight = now - datetime.combine(now.astimezone(SH).date(), time(0), SH)
    window = max(min(RECENT, since_midnight), timedelta(minutes=5))
    evs = _cases_from(seed, now - SPAN, now, cases - recent, pii_key, curve=True)
    evs += _cases_from(seed + 1, now - window, now, recent, pii_key, curve=False)
    evs.sort(key=lambda e: e.occurred_at)  # stable: each case keeps its own order
    return evs


def _cases_from(seed: int, start: datetime, end: datetime, n: int, pii_key: str, curve: bool) -> list[Envelope]:
    """The first `n` cases a scenario receives from `start`, with their events before `end`."""
    span = (end - start).total_seconds()
    sc = Scenario(seed, start, 1.0, max(1.3 * n / span, 1e-6), pii_key=pii_key, curve=curve, policy=load_policy(),
                  surge_every=1e12)  # no surges: the few early-warning alerts below are written directly
    evs = []
    while sc.peek_time() < span:
        evs.append(sc.next_event()[1])
    keep = [e.case_id for e in evs if e.event_type == "petition.received"][:n]
    wanted = set(keep)
    return [e for e in evs if e.case_id in wanted]


def _first_case(events: list[Envelope], states: dict[str, CaseState], pii_key: str) -> str:
    """The case the console shows first (the newest critical alert's): the latest one still open,
    made to carry a sealed contact and a clear phone number in its free text."""
    open_ = [e for e in events if e.event_type == "petition.received" and _phase(states[e.case_id]) == Phase.open]
    ev = (open_ or [e for e in events if e.event_type == "petition.received"])[-1]
    i = events.index(ev)
    raw = json.loads(ev.to_json())
    raw["payload"]["content"] = raw["payload"]["content"][:3900] + f"，联系电话{CLEAR_PHONE}"
    raw["payload"]["citizen"] = privacy.protect_citizen({"name": "张三丰", "phone": CLEAR_PHONE}, pii_key,
                                                        seal_clear=True)
    events[i] = parse_event(raw)
    return ev.case_id


def _phase(state: CaseState) -> Phase:
    return phase_of(state.status, state.resolved, bool(state.merged_into))


def _with_clear_phone(ev: Envelope) -> str:
    """The payload column as a careless writer would store it (the sink scrubs free text; the
    pages must mask what they show all the same): the text unscrubbed, the sealed form dropped."""
    return ev.payload.model_dump_json(exclude_none=True, exclude={"citizen": {"sealed"}})  # type: ignore[attr-defined]


def _alert(aid: str, dedup: str, kind: str, stage: str, sev: str, state: str, cid: str, cids: list[str],
           region: str, at: datetime, message: str, version: int = 1, by: str = "", note: str = "") -> dict:
    return {"alert_id": aid, "dedup_key": dedup, "version": version, "kind": kind, "stage": stage, "level": 0,
            "severity": sev, "state": state, "case_id": cid, "case_ids": cids, "region_code": region,
            "prefecture_code": rg.prefecture_of(region), "department": "", "target": "resolve" if cid else "",
            "due_at": at + timedelta(hours=2) if cid else None, "raised_at": at, "updated_at": at,
            "acknowledged_by": by, "acknowledged_at": at if by else None, "silenced_until": None,
            "note": note, "message": message}


def insert_alerts(client: Any, db: str, alerts: list[dict]) -> None:
    """Write alert states into `alerts` and the audit trail `alert_log`."""
    cols = list(alerts[0].keys())
    client.insert(f"{db}.alerts", [[a[c] for c in cols] for a in alerts], column_names=cols)
    log_cols = ["alert_id", "version", "dedup_key", "state", "stage", "level", "severity", "updated_at",
                "acknowledged_by", "note", "message"]
    client.insert(f"{db}.alert_log", [[a[c] for c in log_cols] for a in alerts], column_names=log_cols)


def main() -> None:
    from fengqiao.settings import Settings
    from sinks.store import get_client

    ap = argparse.ArgumentParser(description="seed the read model with demo data")
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    settings = Settings()
    out = seed(get_client(settings), settings.clickhouse_database, cases=args.cases, seed=args.seed,
               pii_key=settings.pii_key)
    print(json.dumps({"cases": out["cases"], "firing_alert": out["firing_alert"]}))


if __name__ == "__main__":
    main()
