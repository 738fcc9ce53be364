"""Benchmark: the wall's full query set per refresh on a big embedded store.

Generates (once per data dir) 10 million events, 1 million cases (plus 200 k
newer versions of some of them, left unmerged so FINAL has work to do) and
50 k alerts with `INSERT … SELECT … FROM numbers()`, then times
`dashboard.queries.wall_snapshot` (what one refresh of the wall runs) and each
query alone. Prints p50/p95; the goal is a full refresh under 300 ms p95.

    .venv/bin/python bench/bench_wall.py [--data-dir /tmp/fq-bench] [--runs 30] [--events 10000000]
        [--optimize] [--compare old/queries.py]

`--compare` times another version of the query module on the same store, interleaved
with the current one (before/after ratios on a noisy machine).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import queries  # noqa: E402
from fengqiao import regions as rg  # noqa: E402
from fengqiao.settings import Settings  # noqa: E402
from fengqiao.vocab import TZ_SQL  # noqa: E402
from sinks.schema import OPEN_CASE_COLUMNS, cleanup_open_cases, migrate  # noqa: E402
from sinks.store import get_client  # noqa: E402

DAYS = 90


def _codes() -> str:
    return "[" + ",".join(f"'{r.code}'" for r in rg.counties()) + "]"


def _pref_expr(region: str) -> str:
    return f"concat(substring({region}, 1, 4), '00')"


def generate(client, db: str, events: int, cases: int) -> None:
    codes = _codes()
    region = f"arrayElement({codes}, (cityHash64(cid) % length({codes})) + 1)"
    t0 = time.perf_counter()
    chunk = 2_000_000
    for start in range(0, events, chunk):
        n = min(chunk, events - start)
        client.command(f"""
            INSERT INTO {db}.events
            SELECT generateUUIDv4(number) AS event_id,
                   if(number % 10 = 0, 'petition.received',
                      arrayElement(['case.assigned','case.signed','case.replied','case.evaluated',
                                    'case.callback','case.extended','case.returned','case.archived','case.escalated'],
                                   number % 9 + 1)) AS event_type,
                   concat('B', toString(intDiv(number, 10) % {cases})) AS cid,
                   now64(3, {TZ_SQL}) - toIntervalMillisecond((cityHash64(cid) % ({DAYS} * 86400000))
                       - (number % 10) * 60000) AS occurred_at,
                   occurred_at AS ingested_at,
                   {region} AS region_code, {_pref_expr('region_code')} AS prefecture_code,
                   arrayElement(['hotline','web','app','wechat','qrcode','window','open311'], number % 7 + 1),
                   'citizen', arrayElement(['consult','help','dispute','report','complaint','suggestion'], number % 6 + 1),
                   '劳资纠纷', 'normal', '', '{{}}', 0, number
            FROM numbers({start}, {n})""")
    t1 = time.perf_counter()
    generate_cases(client, db, cases, region)
    t2 = time.perf_counter()
    client.command(f"""
        INSERT INTO {db}.alerts (alert_id, dedup_key, version, kind, stage, level, severity, state, case_id,
            region_code, prefecture_code, raised_at, updated_at, message)
        SELECT concat('A', toString(number)), concat('sla:B', toString(number)), 1,
               arrayElement(['sla','sla','sla','hotspot','class_case'], number % 5 + 1),
               arrayElement(['reminder','warning','overdue','escalation'], number % 4 + 1), 0,
               arrayElement(['info','warning','critical'], number % 3 + 1),
               arrayElement(['firing','acknowledged','resolved','silenced'], number % 4 + 1),
               concat('B', toString(number * 13)), {region.replace('cid', 'toString(number)')} AS region_code,
               {_pref_expr('region_code')},
               now64(3, {TZ_SQL}) - toIntervalSecond(number * 11),
               now64(3, {TZ_SQL}) - toIntervalSecond(number * 11), '基准测试告警'
        FROM numbers(50000)""")
    t3 = time.perf_counter()
    print(f"generated {events:,} events in {t1 - t0:.1f} s ({events / (t1 - t0):,.0f} rows/s), "
          f"{cases * 6 // 5:,} case rows in {t2 - t1:.1f} s, 50,000 alerts in {t3 - t2:.1f} s")


def generate_cases(client, db: str, cases: int, region: str) -> None:
    """Every case (v1), then a newer version of every 5th (v2), each also written to
    `open_cases` as the sink does (closed → is_deleted = 1). After v1 the sink's periodic
    cleanup is applied; v2 stays unmerged in both tables, so FINAL has work to do."""
    client.command(f"TRUNCATE TABLE {db}.cases")
    client.command(f"TRUNCATE TABLE {db}.open_cases")
    open_cols = ", ".join(OPEN_CASE_COLUMNS[:-1])
    for version, frac in ((1, 1), (2, 5)):  # every case, then a newer version of every 5th
        client.command(f"""
            INSERT INTO {db}.cases (case_id, version, status, category, topic, urgency, channel, region_code,
                prefecture_code, department, level, received_at, assigned_at, signed_at, closed_at,
                sign_due_at, resolve_due_at, return_count, reopen_count, last_rating, signed_on_time,
                resolved_on_time, resolved_online, updated_at, phase, sign_status, sign_ended_at, resolve_status,
                resolve_ended_at, assign_count, resolve_met_count)
            SELECT concat('B', toString(number)) AS cid, {version},
                   if(((number % 10) < 7 OR rec < now() - INTERVAL 30 DAY) AS closed, 'archived', 'signed'),
                   arrayElement(['consult','help','dispute','report','complaint','suggestion'], number % 6 + 1),
                   arrayElement(['劳资纠纷','物业管理','邻里纠纷','征地拆迁','婚姻家庭','环境污染'], number % 6 + 1),
                   arrayElement(['urgent','pressing','normal','normal'], number % 4 + 1),
                   arrayElement(['hotline','web','app','wechat','qrcode','window','open311'], number % 7 + 1),
                   {region} AS region_code, {_pref_expr('region_code')},
                   concat('部门', toString(number % 300)), 'county',
                   now64(3, {TZ_SQL}) - toIntervalMillisecond(cityHash64(cid) % ({DAYS} * 86400000)) AS rec,
                   rec + toIntervalMinute(5), rec + toIntervalHour(number % 30),
                   if(closed, rec + toIntervalHour(number % 400), NULL),
                   rec + toIntervalHour(24), rec + toIntervalDay(number % 15 + 1),
                   number % 17 = 0, number % 23 = 0,
                   if(closed, arrayElement(['satisfied','basically_satisfied','dissatisfied'], number % 3 + 1), ''),
                   number % 30 < 24, if(closed, number % 10 < 8, NULL), number % 13 = 0, rec,
                   if(closed, 'closed', 'open'), 'met', rec + toIntervalHour(number % 30),
                   if(closed, 'met', 'pending'), if(closed, rec + toIntervalHour(number % 400), NULL), 1, toUInt16(closed)
            FROM numbers({cases}) WHERE number % {frac} = 0""")
        client.command(f"""
            INSERT INTO {db}.open_cases ({open_cols}, is_deleted)
            SELECT {open_cols}, phase NOT IN ('open', 'awaiting_evaluation') FROM {db}.cases
            WHERE version = {version}""")
        if version == 1:
            cleanup_open_cases(client, db)


def _norm(rows: list[dict]) -> list[str]:
    """Rows in a stable order, without the fields that tick with the clock."""
    return sorted(repr(sorted((k, v) for k, v in r.items() if k != "seconds_left")) for r in rows)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/tmp/fq-bench-wall")
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--optimize", action="store_true",
                    help="merge the current-state tables first (the state background merges reach)")
    ap.add_argument("--regen-cases", action="store_true",
                    help="regenerate only cases/open_cases in a cached store (after a schema change)")
    ap.add_argument("--compare", type=Path, default=None,
                    help="another version of dashboard/queries.py to time on the same store, interleaved")
    args = ap.parse_args()
    settings = Settings(data_dir=Path(args.data_dir), clickhouse_url="")
    client = get_client(settings)
    db = settings.clickhouse_database
    migrate(client, db)
    have = client.query(f"SELECT count() FROM {db}.events").result_rows[0][0]
    if have < args.events:
        client.command(f"TRUNCATE TABLE {db}.events")
        client.command(f"TRUNCATE TABLE {db}.cases")
        client.command(f"TRUNCATE TABLE {db}.alerts")
        generate(client, db, args.events, args.cases)
    elif args.regen_cases:
        codes = _codes()
        generate_cases(client, db, args.cases, f"arrayElement({codes}, (cityHash64(cid) % length({codes})) + 1)")
    if args.optimize:
        for table in ("cases", "alerts"):
            client.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
        cleanup_open_cases(client, db)
    rows = {t: client.query(f"SELECT count() FROM {db}.{t}").result_rows[0][0]
            for t in ("events", "cases", "open_cases", "alerts")}
    parts = client.query(f"SELECT table, count() FROM system.parts WHERE database = '{db}' AND active GROUP BY table"
                         ).result_rows
    print(f"store: {rows} (active parts {dict(parts)})")
    sets = {"now": queries}
    if args.compare:
        spec = importlib.util.spec_from_file_location("queries_compare", args.compare)
        other = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(other)  # type: ignore[union-attr]
        sets = {"compare": other, "now": queries}
    for mod in sets.values():
        a, b = mod.wall_snapshot(client, db), queries.wall_snapshot(client, db)  # warm-up + same answers
        for name in a:
            if name != "freshness" and _norm(a[name]) != _norm(b.get(name, [])):
                print(f"  note: {name} differs between the query sets (or the clock moved a second)")
    full: dict[str, list[float]] = {k: [] for k in sets}
    each: dict[str, dict[str, list[float]]] = {k: {n: [] for n in m.WALL_QUERIES} for k, m in sets.items()}
    for _ in range(args.runs):
        for label, mod in sets.items():  # interleaved, so noise hits both alike
            t = time.perf_counter()
            for name, fn in mod.WALL_QUERIES.items():
                q0 = time.perf_counter()
                fn(client, db)
                each[label][name].append((time.perf_counter() - q0) * 1000)
            full[label].append((time.perf_counter() - t) * 1000)
    for label, mod in sets.items():
        c0 = time.perf_counter()
        mod.county_board(client, db, "130900")
        drill = (time.perf_counter() - c0) * 1000
        xs = full[label]
        print(f"\n[{label}] wall full refresh ({len(mod.WALL_QUERIES)} queries, {args.runs} runs): "
              f"p50 {statistics.median(xs):.0f} ms, p95 {pct(xs, 95):.0f} ms, max {max(xs):.0f} ms "
              f"(goal < 300 ms p95)")
        for name, ys in each[label].items():
            print(f"  {name:15s} p50 {statistics.median(ys):6.1f} ms  p95 {pct(ys, 95):6.1f} ms")
        print(f"  county_board (drill-down, once) {drill:.1f} ms")

if __name__ == "__main__":
    main()
