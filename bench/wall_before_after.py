"""Before/after of the wall's figures on the same simulated run (issue 10, A1).

Simulator events -> lifecycle replay (rejections skipped, as the worker does) -> the rows the
sink writes (sinks.rows.map_case) in a fresh chDB store -> the wall's tiles through the OLD
queries (dashboard/queries.py at commit 5a5a8a4, before issue 10) and the NEW ones.
Run: .venv/bin/python bench/wall_before_after.py
"""
import importlib.util, subprocess, sys, tempfile, uuid
from datetime import datetime, timedelta
sys.path.insert(0, ".")
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import snapshot
from fengqiao.domain.policy import load_policy
from fengqiao.vocab import TZ
from producers.simulator import generate_events
from sinks.rows import COLUMNS, map_event
from sinks.schema import migrate
from tests.integration.wall_figures import replay_all, write
import clickhouse_connect
from dashboard import queries as new

old_src = subprocess.run(["git", "show", "5a5a8a4:dashboard/queries.py"], capture_output=True, text=True, check=True).stdout
path = tempfile.mktemp(suffix="_old_queries.py"); open(path, "w").write(old_src)
spec = importlib.util.spec_from_file_location("old_queries", path); old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
client = clickhouse_connect.get_client(dsn=f"chdb://{tempfile.mkdtemp()}")


def tiles_old(db):
    b = old.case_board(client, db); r = {x["period"]: x for x in old.rates(client, db)}.get("today", {})
    pct = lambda a, d: f"{100 * r.get(a, 0) / r[d]:.1f}%" if r.get(d) else "—"
    return {"今日受理": sum(x["n"] for x in old.intake_today(client, db)), "在办案件": sum(x["open"] for x in b), "24小时内到期": sum(x["due24"] for x in b), "已超期": sum(x["overdue"] for x in b),
            "响应率(今日)": pct("signed_on_time", "sign_base"), "解决率(今日)": pct("resolved", "received"),
            "满意率(今日)": pct("satisfied", "evaluated"), "倒计时(前12)": len(old.countdown(client, db)),
            "24h趋势点数(非零)": sum(1 for x in old.intake_trend(client, db) if x["n"])}


def tiles_new(db):
    b = new.case_board(client, db); r = {x["period"]: new.rates_of(x) for x in new.rates(client, db)}.get("today", new.rates_of({}))
    return {"今日受理": sum(x["n"] for x in new.intake_today(client, db)), "在办": sum(x["open"] for x in b), "待评价": sum(x["awaiting"] for x in b), "24小时内到期": sum(x["due24"] for x in b),
            "已超期": sum(x["overdue"] for x in b), "响应率(今日)": r["response"].label(), "按期办结率(今日)": r["on_time"].label(),
            "解决率(今日)": r["resolution"].label(), "满意率(今日)": r["satisfaction"].label(),
            "倒计时(前12)": len(new.countdown(client, db)), "24h趋势柱(共/非零)": (len(t := new.intake_trend(client, db)), sum(1 for x in t if x["n"]))}


def run(title, events, profile):
    states, rejected = replay_all(events, load_policy(profile=profile), load_calendar())
    db = "ba_" + uuid.uuid4().hex[:6]; migrate(client, db); write(client, db, [snapshot(s) for s in states.values()])
    rows = [r.row for i, e in enumerate(events) for r in map_event(e.to_json(), 0, i, now) if r.table == "events"]
    client.insert(f"{db}.events", list(zip(*rows)), column_names=list(COLUMNS["events"]), column_oriented=True)
    print(f"\n## {title}: {len(events)} events, {len(states)} cases, {rejected} rejected by the lifecycle")
    print("before:", tiles_old(db)); print("after: ", tiles_new(db))


now = datetime.now(TZ)
# like `fengqiao up` (rate 3/s, speed 60, demo SLA profile), 25 minutes in
run("demo: rate 3, speed 60, demo profile, 25 min", [e for e in generate_events(7, 60000, now - timedelta(minutes=25), 60.0, rate=3.0, policy=load_policy(profile="demo")) if e.occurred_at <= now], "demo")
# the reconciliation test's traffic: three simulated weeks, default profile, ending 10 min ago
evs = generate_events(17, 20000, datetime(2026, 11, 2, 8, 0, tzinfo=TZ), 1.0, rate=0.0015)
days = (now - timedelta(minutes=10) - evs[-1].occurred_at).days
run("three weeks: rate 0.0015, speed 1, default profile", [e.model_copy(update={"occurred_at": e.occurred_at + timedelta(days=days)}) for e in evs], "default")
