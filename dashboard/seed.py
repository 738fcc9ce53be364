"""Demo and test data written straight into the read model (no broker needed).

Used by the page tests, the browser tests (seeded from a separate process
BEFORE the wall starts, since chDB allows one process per data path) and for
trying the wall without the pipeline:

    FENGQIAO_DATA_DIR=/tmp/x python -m dashboard.seed --cases 400

Contact data is stored masked (139****5678); the first case also has a sealed
clear form (for the reveal) and a clear phone number in its free text, which
every page must mask.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from fengqiao import privacy
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import replay, snapshot
from fengqiao.domain.policy import load_policy
from fengqiao.records import CaseSnapshot
from fengqiao.settings import DEV_PII_KEY
from fengqiao import regions as rg
from fengqiao.vocab import SCHEMA_VERSION, STAGE_ZH
from fengqiao.vocab import TZ as SH
from sinks.rows import COLUMNS, case_row, open_case_row
from sinks.schema import migrate

CHANNELS = ["hotline", "web", "app", "wechat", "qrcode", "window", "open311"]
CATEGORIES = ["consult", "help", "dispute", "report", "complaint", "suggestion"]
TOPICS = ["劳资纠纷", "物业管理", "邻里纠纷", "征地拆迁", "婚姻家庭", "环境污染"]
DEPTS = ["县社会矛盾纠纷调处中心", "街道综治中心", "乡镇司法所", "县人社局", "县住建局", "县生态环境局"]
MASKED_PHONE = "139****5678"
CLEAR_PHONE = "13912345678"  # only ever inside a payload's free text (must be masked on display) and sealed
FIRING_ALERT_ID = "alert-demo-firing-1"
SEED_NS = uuid.UUID("5eed0000-0000-5000-8000-000000000001")


def seed(client: Any, db: str, cases: int = 300, seed: int = 7, now: datetime | None = None,
         pii_key: str = DEV_PII_KEY) -> dict[str, Any]:
    """Write `cases` cases with their received events, some alerts and masked contacts."""
    rnd = random.Random(seed)
    now = now or datetime.now(SH)
    migrate(client, db)
    counties = rg.counties()  # zones too: they have no shape and count at their city
    ev_rows, case_snaps, contact_rows = [], [], []
    ids = []
    for i in range(cases):
        cid = f"C{seed:02d}{i:06d}"
        ids.append(cid)
        region = rnd.choice(counties)
        received = now - timedelta(minutes=rnd.randint(1, 60 * 24 * 6))
        if i < cases // 3:
            received = now - timedelta(minutes=rnd.randint(1, 600))  # a third today
        received = min(received, now - timedelta(minutes=1))
        channel, cat, topic = rnd.choice(CHANNELS), rnd.choice(CATEGORIES), rnd.choice(TOPICS)
        urgency = rnd.choice(["urgent", "pressing", "normal", "normal"])
        dept = rnd.choice(DEPTS)
        closed = rnd.random() < 0.35
        signed = closed or rnd.random() < 0.5
        rating = rnd.choice(["satisfied", "basically_satisfied", "dissatisfied", ""]) if closed else ""
        payload = {"category": cat, "topic": topic, "urgency": urgency, "title": f"{topic}求助",
                   "content": f"{topic}相关诉求" + (f"，联系电话{CLEAR_PHONE}" if i == 0 else ""),
                   "citizen": {"name": "张**", "phone": MASKED_PHONE}}
        ev_rows.append([uuid.uuid4(), "petition.received", cid, received, received, region.code,
                        region.parent_code, channel, "citizen", cat, topic, urgency, "",
                        json.dumps(payload, ensure_ascii=False), 0, i])
        ev_rows.append([uuid.uuid4(), "case.assigned", cid, received + timedelta(seconds=30),
                        received + timedelta(seconds=30), region.code, region.parent_code, "internal",
                        "platform", "", "", "", dept, json.dumps({"department": dept, "level": "county"},
                                                                 ensure_ascii=False), 0, cases + i])
        steps: list[tuple[timedelta, str, dict[str, Any]]] = [
            (timedelta(seconds=30), "case.assigned", {"department": dept, "level": "county"})]
        if signed:
            steps.append((timedelta(minutes=20), "case.signed", {"department": dept}))
        if closed:
            steps.append((timedelta(hours=3), "case.replied", {"department": dept, "result": "已办理", "resolved": True}))
            if rating:
                steps.append((timedelta(hours=4), "case.evaluated", {"rating": rating}))
            if rnd.random() < 0.5 and rating != "dissatisfied":
                steps.append((timedelta(hours=5), "case.archived", {}))
        case_snaps.append(_snapshot(cid, region.code, channel, {k: v for k, v in payload.items() if k != "citizen"},
                                    received, [st for st in steps if received + st[0] < now]))
        sealed = privacy.seal({"name": "张三丰", "phone": CLEAR_PHONE}, pii_key) if i == 0 else ""
        contact_rows.append([cid, "张**", MASKED_PHONE, "", sealed, now])
    case_rows = [case_row(c) for c in case_snaps]
    client.insert(f"{db}.events", ev_rows, column_names=[
        "event_id", "event_type", "case_id", "occurred_at", "ingested_at", "region_code", "prefecture_code",
        "channel", "actor_role", "category", "topic", "urgency", "department", "payload",
        "kafka_partition", "kafka_offset"])
    # what the sink writes for every snapshot: `cases`, and `open_cases` for the wall's board
    client.insert(f"{db}.cases", case_rows, column_names=list(COLUMNS["cases"]))
    client.insert(f"{db}.open_cases", [open_case_row(c) for c in case_snaps], column_names=list(COLUMNS["open_cases"]))
    client.insert(f"{db}.contacts", contact_rows,
                  column_names=["case_id", "name_masked", "phone_masked", "phone_hash", "sealed", "updated_at"])
    alerts = []
    for k in range(8):
        cid = ids[k]
        region = case_snaps[k].region_code
        stage = ["escalation", "overdue", "warning", "reminder"][k % 4]  # the first: critical and newest
        sev = {"reminder": "info", "warning": "warning", "overdue": "critical", "escalation": "critical"}[stage]
        aid = FIRING_ALERT_ID if k == 0 else f"alert-demo-{k}"
        alerts.append(_alert(aid, f"sla:{cid}:resolve:{stage}:0", "sla", stage, sev, "firing", cid, [],
                             region, now - timedelta(minutes=k * 7),
                             f"{rg.name_of(region)} {case_snaps[k].topic}案件 {STAGE_ZH[stage]}"))
    for k, kind in enumerate(["hotspot", "class_case", "hotspot"]):
        region = case_snaps[10 + k].region_code
        alerts.append(_alert(f"alert-demo-ew-{k}", f"{kind}:{region}:{k}", kind, "", "warning", "firing", "",
                             ids[10:14], region, now - timedelta(minutes=5 + k),
                             f"{rg.name_of(region)} {TOPICS[k]} " + ("诉求量激增" if kind == "hotspot" else "类案聚集")))
    insert_alerts(client, db, alerts)
    return {"cases": cases, "case_ids": ids, "firing_alert": FIRING_ALERT_ID}


def _snapshot(cid: str, region: str, channel: str, payload: dict[str, Any], received: datetime,
              steps: list[tuple[timedelta, str, dict[str, Any]]]) -> CaseSnapshot:
    """A case's snapshot as the streams worker writes it: its history through the lifecycle."""
    evs = [{"schema_version": SCHEMA_VERSION, "event_id": str(uuid.uuid5(SEED_NS, f"{cid}:{n}")), "event_type": etype,
            "case_id": cid, "occurred_at": (received + delay).isoformat(), "region_code": region,
            "channel": channel if etype == "petition.received" else "internal", "payload": body}
           for n, (delay, etype, body) in enumerate([(timedelta(0), "petition.received", payload), *steps])]
    state = replay(evs, load_policy(), _calendar())
    assert state is not None
    return snapshot(state)


@lru_cache(maxsize=1)
def _calendar() -> Any:
    return load_calendar()


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
