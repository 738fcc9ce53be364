"""Every query the UI runs, in one place, with bound parameters.

Each function takes a clickhouse-connect client and the database name and
returns plain rows (list of dicts), so the benchmark and the tests call them
without Streamlit. The pages go through `fetch()`, which serialises access to
the shared embedded client (`store_lock`) and caches results for a few
seconds (`st.cache_data`), so several screens showing the wall share one
query set per refresh.

Current state (`cases`, `open_cases`, `alerts`, `region_stats`) is always read
with FINAL: a ReplacingMergeTree that has not merged yet would otherwise count a
case twice. The wall's phase tiles read `open_cases` (cases open or awaiting
evaluation only, kept small by the sink's cleanup) instead of a FINAL over every
case ever received;
queries by receipt date filter in PREWHERE, before FINAL merges, which is exact
because a case's `received_at` never changes between versions (it is set by its
`petition.received`). Times are Asia/Shanghai; "today" and "this week" are
computed by the server (`now()`), so every screen agrees; a caller may pass `now`
(the reconciliation test does, to compare with the domain at the same instant).

No lifecycle rule lives here: the queries count the judgement the domain wrote into
every snapshot (`phase`, `sign_status`, `resolve_status` and their instants), with the
conditions of `fengqiao.domain.phase` / `fengqiao.domain.metrics` written once below
(`OVERDUE`, `RATE_SQL`) and tested against the domain on the same snapshots.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from fengqiao.domain import metrics, repeat
from fengqiao.domain.metrics import Rate
from fengqiao.vocab import TZ as _ZONE
from fengqiao.vocab import TZ_NAME, TZ_SQL
from sinks.store import get_client, store_lock

TZ = TZ_NAME  # bound as {tz:String}; a parameter's type cannot be bound, so TZ_SQL is interpolated there
Rows = list[dict[str, Any]]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

NOW = f"ifNull({{now:Nullable(DateTime64(3, {TZ_SQL}))}}, now64(3, {TZ_SQL}))"
COUNTED = "phase != 'merged'"  # merged duplicates are never counted as cases
IS_OPEN = "phase = 'open'"
SIGN_LATE_NOW = f"(sign_status = 'pending' AND sign_due_at < {NOW})"
RESOLVE_LATE_NOW = f"(resolve_status = 'pending' AND resolve_due_at < {NOW})"
OVERDUE = f"({IS_OPEN} AND ({SIGN_LATE_NOW} OR {RESOLVE_LATE_NOW}))"  # phase.is_overdue
DUE24 = (f"({IS_OPEN} AND NOT {OVERDUE} AND ((sign_status = 'pending' AND sign_due_at < {NOW} + INTERVAL 24 HOUR)"
         f" OR (resolve_status = 'pending' AND resolve_due_at < {NOW} + INTERVAL 24 HOUR)))")  # metrics.due_within


def _decided(t: str) -> str:  # phase.target_decided
    return (f"({t}_status = 'met' OR ({t}_status = 'dropped' AND {t}_ended_at > {t}_due_at)"
            f" OR ({t}_status = 'pending' AND {t}_due_at < {NOW}))")


def _on_time(t: str) -> str:  # phase.target_on_time
    return f"({t}_status = 'met' AND {t}_ended_at IS NOT NULL AND ({t}_due_at IS NULL OR {t}_ended_at <= {t}_due_at))"


# (denominator, numerator) of each of the domain's rates (fengqiao.domain.metrics.RATES)
RATE_SQL: dict[str, tuple[str, str]] = {
    "response": (_decided("sign"), _on_time("sign")),
    "on_time": (_decided("resolve"), _on_time("resolve")),
    "resolution": ("1", "resolve_status = 'met'"),
    "satisfaction": ("last_rating != ''", "last_rating IN ('satisfied', 'basically_satisfied')"),
    "online": ("1", "resolved_online"),
    "return": ("assign_count > 0", "return_count > 0"),
    "reopen": ("resolve_met_count > 0", "reopen_count > 0"),
    # flagged by the repeat agent (fengqiao.domain.repeat) into `repeats`; `$db` is the database
    "repeat": ("1", "(repeat_complaint OR case_id IN (SELECT case_id FROM $db.repeats))"),
}
assert list(RATE_SQL) == [r.name for r in metrics.RATES], "every domain rate has its SQL, in order"
_RATE_COLUMNS = ",\n                   ".join(
    f"countIf({den}) AS {name}_den, countIf(({den}) AND ({num})) AS {name}_num" for name, (den, num) in RATE_SQL.items())


def rate_columns(db: str) -> str:
    """Every rate's `<rate>_num` / `<rate>_den` count columns over `db`'s `cases` rows."""
    return _RATE_COLUMNS.replace("$db", _db(db))


def rates_of(row: dict[str, Any]) -> dict[str, Rate]:
    """The domain's `Rate`s from a row holding `<rate>_num` / `<rate>_den` counts."""
    return {name: Rate(int(row.get(f"{name}_num") or 0), int(row.get(f"{name}_den") or 0)) for name in RATE_SQL}


def _now(now: datetime | None) -> dict[str, Any]:
    """The `now` parameter: the server's clock unless the caller passes an instant."""
    return {"now": now.astimezone(_ZONE) if now is not None else None}


def _db(db: str) -> str:
    """Database names cannot be bound parameters: allow identifiers only."""
    if not _IDENT.match(db):
        raise ValueError(f"invalid database name 数据库名无效: {db!r}")
    return db


def _rows(client: Any, sql: str, params: dict[str, Any] | None = None) -> Rows:
    res = client.query(sql, parameters=params or {})
    cols = res.column_names
    return [dict(zip(cols, r)) for r in res.result_rows]


# ---------------------------------------------------------------- the wall

def freshness(client: Any, db: str) -> Rows:
    """Last ingested event (recent partitions only) and the server's clock."""
    return _rows(
        client,
        f"""SELECT max(ingested_at) AS last_ingest, max(occurred_at) AS last_event,
                   now64(3, {{tz:String}}) AS now, count() AS recent
            FROM {_db(db)}.events
            WHERE occurred_at >= now() - INTERVAL 2 DAY""",
        {"tz": TZ},
    )


def intake_today(client: Any, db: str, now: datetime | None = None) -> Rows:
    """Today's new petitions by channel (counted cases: a merged duplicate is not a new one;
    `metrics.intake_by_channel`)."""
    return _rows(
        client,
        f"""SELECT channel, count() AS n
            FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at, {{tz:String}}) = toDate({NOW}, {{tz:String}})
            WHERE {COUNTED}
            GROUP BY channel ORDER BY n DESC, channel""",
        {"tz": TZ, **_now(now)},
    )


def case_board(client: Any, db: str, now: datetime | None = None) -> Rows:
    """Per prefecture: 在办 (open), 待评价 (awaiting evaluation), 24 小时内到期 (open, not
    overdue, next pending deadline within 24 h) and 已超期 (open, a target pending past due)."""
    return _rows(
        client,
        f"""SELECT prefecture_code,
                   countIf({IS_OPEN}) AS open,
                   countIf(phase = 'awaiting_evaluation') AS awaiting,
                   countIf({DUE24}) AS due24,
                   countIf({OVERDUE}) AS overdue
            FROM {_db(db)}.open_cases FINAL
            GROUP BY prefecture_code""",
        _now(now),
    )


def county_board(client: Any, db: str, prefecture_code: str, now: datetime | None = None) -> Rows:
    """The same board for one city's county-level units (drill-down)."""
    return _rows(
        client,
        f"""SELECT region_code, countIf({IS_OPEN}) AS open, countIf(phase = 'awaiting_evaluation') AS awaiting,
                   countIf({OVERDUE}) AS overdue
            FROM {_db(db)}.open_cases FINAL
            WHERE prefecture_code = {{p:String}}
            GROUP BY region_code""",
        {"p": prefecture_code, **_now(now)},
    )


def rates(client: Any, db: str, now: datetime | None = None) -> Rows:
    """Every rate's counts for cases received today and earlier this week (Mon–yesterday);
    the week is the sum of both rows."""
    return _rows(
        client,
        f"""SELECT if(toDate(received_at, {{tz:String}}) = toDate({NOW}, {{tz:String}}), 'today', 'earlier') AS period,
                   count() AS received,
                   {rate_columns(db)}
            FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at, {{tz:String}}) BETWEEN toMonday({NOW}, {{tz:String}}) AND toDate({NOW}, {{tz:String}})
            WHERE {COUNTED}
            GROUP BY period""",
        {"tz": TZ, **_now(now)},
    )


def firing_alerts(client: Any, db: str, limit: int = 30) -> Rows:
    """The ticker: firing alerts, most severe and newest first (messages carry no personal data)."""
    return _rows(
        client,
        f"""SELECT alert_id, kind, stage, level, severity, region_code, prefecture_code,
                   case_id, message, raised_at, updated_at
            FROM {_db(db)}.alerts FINAL
            WHERE state = 'firing'
            ORDER BY multiIf(severity = 'critical', 0, severity = 'warning', 1, 2), updated_at DESC
            LIMIT {{limit:UInt32}}""",
        {"limit": limit},
    )


def countdown(client: Any, db: str, limit: int = 12, now: datetime | None = None) -> Rows:
    """Open cases, not overdue, by their next pending deadline (sign first on a tie) within
    7 days (`fengqiao.domain.phase.next_deadline`)."""
    sign_first = ("sign_status = 'pending' AND (resolve_status != 'pending' OR resolve_due_at IS NULL"
                  " OR sign_due_at <= resolve_due_at)")
    return _rows(
        client,
        f"""SELECT case_id, region_code, topic, urgency, department, target, due_at,
                   dateDiff('second', {NOW}, due_at) AS seconds_left
            FROM (
                SELECT case_id, region_code, topic, urgency, department,
                       if({sign_first}, 'sign', 'resolve') AS target,
                       assumeNotNull(if(target = 'sign', sign_due_at, resolve_due_at)) AS due_at
                FROM {_db(db)}.open_cases FINAL
                WHERE {IS_OPEN} AND NOT {OVERDUE}
                  AND (sign_status = 'pending' OR resolve_status = 'pending')
            )
            WHERE due_at < {NOW} + INTERVAL 7 DAY
            ORDER BY due_at ASC, case_id ASC
            LIMIT {{limit:UInt32}}""",
        {"limit": limit, **_now(now)},
    )


def early_warnings(client: Any, db: str, limit: int = 10) -> Rows:
    """Hotspots (未诉先办) and class cases (类案) that are still live."""
    return _rows(
        client,
        f"""SELECT alert_id, kind, severity, state, region_code, length(case_ids) AS cases,
                   message, raised_at
            FROM {_db(db)}.alerts FINAL
            WHERE kind IN ('hotspot', 'class_case') AND state IN ('firing', 'acknowledged')
            ORDER BY raised_at DESC
            LIMIT {{limit:UInt32}}""",
        {"limit": limit},
    )


def intake_trend(client: Any, db: str, now: datetime | None = None) -> Rows:
    """New petitions (counted cases) per hour over the last 24 hours, every hour present (0
    where none came), so the chart's bars show the current hour from the first minute of a
    new store (`metrics.intake_by_hour`)."""
    return _rows(
        client,
        f"""SELECT formatDateTime(h, '%m-%d %H:00', {{tz:String}}) AS hour, n FROM (
                SELECT toStartOfHour(received_at, {{tz:String}}) AS h, count() AS n
                FROM {_db(db)}.cases FINAL
                PREWHERE received_at >= toStartOfHour({NOW}, {{tz:String}}) - INTERVAL 23 HOUR
                     AND received_at <= {NOW}
                WHERE {COUNTED}
                GROUP BY h
                ORDER BY h WITH FILL
                    FROM toStartOfHour({NOW}, {{tz:String}}) - INTERVAL 23 HOUR
                    TO toStartOfHour({NOW}, {{tz:String}}) + INTERVAL 1 HOUR STEP INTERVAL 1 HOUR)""",
        {"tz": TZ, **_now(now)},
    )


WALL_QUERIES: dict[str, Callable[..., Rows]] = {
    "freshness": freshness,
    "intake_today": intake_today,
    "case_board": case_board,
    "rates": rates,
    "firing_alerts": firing_alerts,
    "countdown": countdown,
    "early_warnings": early_warnings,
    "intake_trend": intake_trend,
}


def wall_snapshot(client: Any, db: str, now: datetime | None = None) -> dict[str, Rows]:
    """The wall's full query set for one refresh (what the benchmark times)."""
    timed = {"intake_today", "case_board", "rates", "countdown", "intake_trend"}
    return {name: fn(client, db, now=now) if name in timed else fn(client, db) for name, fn in WALL_QUERIES.items()}


# ---------------------------------------------------------------- the officer console

def alert_queue(client: Any, db: str, prefecture: str = "", stage: str = "", state: str = "",
                limit: int = 200) -> Rows:
    """Alerts filtered by prefecture, stage and state ('' = any)."""
    return _rows(
        client,
        f"""SELECT alert_id, dedup_key, kind, stage, level, severity, state, region_code, prefecture_code,
                   case_id, department, target, due_at, raised_at, updated_at,
                   acknowledged_by, acknowledged_at, silenced_until, note, message, version
            FROM {_db(db)}.alerts FINAL
            WHERE ({{p:String}} = '' OR prefecture_code = {{p:String}})
              AND ({{stage:String}} = '' OR stage = {{stage:String}})
              AND ({{state:String}} = '' OR state = {{state:String}})
            ORDER BY multiIf(state = 'firing', 0, state = 'silenced', 1, state = 'acknowledged', 2, 3),
                     multiIf(severity = 'critical', 0, severity = 'warning', 1, 2), updated_at DESC
            LIMIT {{limit:UInt32}}""",
        {"p": prefecture, "stage": stage, "state": state, "limit": limit},
    )


def alert_state(client: Any, db: str, alert_id: str) -> Rows:
    return _rows(
        client,
        f"""SELECT alert_id, state, version, acknowledged_by, note, silenced_until
            FROM {_db(db)}.alerts FINAL WHERE alert_id = {{a:String}}""",
        {"a": alert_id},
    )


def alert_history(client: Any, db: str, alert_id: str) -> Rows:
    """The audit trail of one alert."""
    return _rows(
        client,
        f"""SELECT version, state, stage, level, severity, updated_at, acknowledged_by, note, message
            FROM {_db(db)}.alert_log FINAL WHERE alert_id = {{a:String}} ORDER BY version""",
        {"a": alert_id},
    )


def case_summary(client: Any, db: str, case_id: str) -> Rows:
    return _rows(
        client,
        f"""SELECT case_id, status, category, topic, urgency, channel, region_code, department, level,
                   received_at, sign_due_at, resolve_due_at, closed_at, return_count, reopen_count,
                   escalation_level, last_rating, calendar_estimated
            FROM {_db(db)}.cases FINAL WHERE case_id = {{c:String}}""",
        {"c": case_id},
    )


def case_timeline(client: Any, db: str, case_id: str) -> Rows:
    """Every event of one case, in the order it happened (payload as stored: masked contact data only)."""
    return _rows(
        client,
        f"""SELECT event_id, event_type, occurred_at, channel, actor_role, department, payload
            FROM {_db(db)}.events FINAL WHERE case_id = {{c:String}}
            ORDER BY occurred_at, ingested_at""",
        {"c": case_id},
    )


def contact(client: Any, db: str, case_id: str) -> Rows:
    """Masked contact data and the sealed clear form (revealed only by an officer, audited)."""
    return _rows(
        client,
        f"""SELECT case_id, name_masked, phone_masked, sealed
            FROM {_db(db)}.contacts FINAL WHERE case_id = {{c:String}}""",
        {"c": case_id},
    )


# ---------------------------------------------------------------- leadership

_GROUPS = {"prefecture": "prefecture_code", "county": "region_code", "department": "department"}


def rankings(client: Any, db: str, by: str, start: date, end: date, now: datetime | None = None) -> Rows:
    """Every rate's counts per prefecture/county/department for the cases received between
    `start` and `end` (inclusive), plus the open overdue ones; rank with `metrics.rank`. By
    department, a repeat petition counts for the department that concluded its earlier case
    (`repeat.department_rate`)."""
    col = _GROUPS[by]
    rows = _ranking_rows(client, db, col, start, end, now)
    if by == "department":
        attributed = {r["key"]: int(r["n"]) for r in department_repeats(client, db, start, end)}
        for r in rows:
            rate = repeat.department_rate(attributed.get(r["key"], 0), int(r["repeat_den"]))
            r["repeat_num"], r["repeat_den"] = rate.num, rate.den
    return rows


def department_repeats(client: Any, db: str, start: date, end: date) -> Rows:
    """Repeat petitions received between `start` and `end` (counted cases) per department that
    concluded the earlier case (`repeat.department_repeats`; a phone match wins: FINAL)."""
    return _rows(
        client,
        f"""SELECT earlier_department AS key, count() AS n
            FROM {_db(db)}.repeats FINAL
            WHERE earlier_department != '' AND case_id IN (
                SELECT case_id FROM {_db(db)}.cases FINAL
                PREWHERE toDate(received_at, {{tz:String}}) BETWEEN {{d0:Date}} AND {{d1:Date}}
                WHERE {COUNTED})
            GROUP BY key""",
        {"d0": start, "d1": end, "tz": TZ},
    )


def repeat_links(client: Any, db: str, case_ids: list[str]) -> Rows:
    """The earlier case each of `case_ids` repeats (only the repeats), for the link every screen
    shows (`repeat.link_label`: 重复投诉 · 关联 <earlier case id>)."""
    if not case_ids:
        return []
    return _rows(
        client,
        f"""SELECT case_id, earlier_case_id, earlier_department, basis, concluded_at
            FROM {_db(db)}.repeats FINAL WHERE case_id IN {{ids:Array(String)}}""",
        {"ids": list(case_ids)},
    )


def _ranking_rows(client: Any, db: str, col: str, start: date, end: date, now: datetime | None) -> Rows:
    return _rows(
        client,
        f"""SELECT {col} AS key, count() AS cases,
                   {rate_columns(db)},
                   countIf({OVERDUE}) AS overdue_open
            FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at, {{tz:String}}) BETWEEN {{d0:Date}} AND {{d1:Date}}
            WHERE {COUNTED} AND {col} != ''
            GROUP BY key ORDER BY key""",
        {"d0": start, "d1": end, "tz": TZ, **_now(now)},
    )


def period_totals(client: Any, db: str, start: date, end: date, now: datetime | None = None) -> Rows:
    """One row for a period (the reports' headline): received, each phase, overdue, and every
    rate's counts."""
    return _rows(
        client,
        f"""SELECT count() AS received, countIf({IS_OPEN}) AS open,
                   countIf(phase = 'awaiting_evaluation') AS awaiting, countIf(phase = 'closed') AS closed,
                   countIf({OVERDUE}) AS overdue,
                   {rate_columns(db)}
            FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at, {{tz:String}}) BETWEEN {{d0:Date}} AND {{d1:Date}}
            WHERE {COUNTED}""",
        {"d0": start, "d1": end, "tz": TZ, **_now(now)},
    )


def daily_intake(client: Any, db: str, start: date, end: date) -> Rows:
    """Cases received per day, and how many of them have their resolve target met."""
    return _rows(
        client,
        f"""SELECT toDate(received_at, {{tz:String}}) AS day, count() AS n,
                   countIf(resolve_status = 'met') AS resolved
            FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at, {{tz:String}}) BETWEEN {{d0:Date}} AND {{d1:Date}}
            WHERE {COUNTED}
            GROUP BY day ORDER BY day""",
        {"d0": start, "d1": end, "tz": TZ},
    )


def mix(client: Any, db: str, start: date, end: date, column: str) -> Rows:
    """Counts by category / topic / channel for a period."""
    if column not in ("category", "topic", "channel", "urgency"):
        raise ValueError(column)
    return _rows(
        client,
        f"""SELECT {column} AS key, count() AS n FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at, {{tz:String}}) BETWEEN {{d0:Date}} AND {{d1:Date}}
            WHERE {COUNTED}
            GROUP BY key ORDER BY n DESC LIMIT 12""",
        {"d0": start, "d1": end, "tz": TZ},
    )


# ---------------------------------------------------------------- the dispatcher's desk (派单)

AWAITING_DISPATCH = ("received", "returned", "reopened")  # fengqiao.domain.case.DISPATCHABLE


def dispatch_queue(client: Any, db: str, unplaced_after_seconds: float, limit: int = 200) -> Rows:
    """Cases waiting for the dispatcher, oldest first: returned ones (退回, with the department
    that returned it and its reason, for 派单异议审核), re-opened ones (再转办), and received ones
    the rules did not place within `unplaced_after_seconds` (the worker's auto-dispatch delay).
    `returns` is the case's 推诿 count. The small `open_cases` picks the ids, `cases` has the
    rest. Only identifiers and labels: no personal data."""
    return _rows(
        client,
        f"""SELECT c.case_id AS case_id, c.status AS status, c.category AS category, c.topic AS topic,
                   c.urgency AS urgency, c.region_code AS region_code, c.level AS level,
                   c.received_at AS received_at, c.updated_at AS waiting_since, c.return_count AS returns,
                   r.department AS returned_by, r.reason AS return_reason
            FROM (SELECT * FROM {_db(db)}.cases FINAL
                  PREWHERE case_id IN (SELECT case_id FROM {_db(db)}.open_cases FINAL
                                       WHERE status IN {{st:Array(String)}})
                  WHERE status IN {{st:Array(String)}}
                    AND (status != 'received' OR updated_at < now64(3) - toIntervalMillisecond({{ms:UInt64}}))) AS c
            LEFT JOIN (SELECT case_id, argMax(department, occurred_at) AS department,
                              argMax(JSONExtractString(payload, 'reason'), occurred_at) AS reason
                       FROM {_db(db)}.events FINAL WHERE event_type = 'case.returned'
                       GROUP BY case_id) AS r ON r.case_id = c.case_id
            ORDER BY c.updated_at, c.case_id LIMIT {{n:UInt32}}""",
        {"st": list(AWAITING_DISPATCH), "ms": int(unplaced_after_seconds * 1000), "n": limit},
    )


def returns_by_department(client: Any, db: str, days: int = 30, limit: int = 20) -> Rows:
    """推诿: returns per department over the last `days` days, most first, with how many cases."""
    return _rows(
        client,
        f"""SELECT department, count() AS returns, uniqExact(case_id) AS cases, max(occurred_at) AS last_at
            FROM {_db(db)}.events FINAL
            WHERE event_type = 'case.returned' AND occurred_at >= now() - toIntervalDay({{d:UInt32}})
            GROUP BY department ORDER BY returns DESC, department LIMIT {{n:UInt32}}""",
        {"d": days, "n": limit},
    )


# ---------------------------------------------------------------- the department desk (承办单位)

DESK_CASE_COLUMNS = ("case_id, status, phase, topic, urgency, region_code, department, received_at, signed_at,"
                     " sign_status, sign_due_at, resolve_status, resolve_due_at, escalation_level")


def department_cases(client: Any, db: str, departments: list[str], regions: list[str], limit: int = 500,
                     now: datetime | None = None) -> Rows:
    """The open cases (phase open) assigned to any of `departments` within `regions` (county or
    prefecture codes; empty: every region), nearest pending deadline first (overdue ones, already
    past it, at the top); `due_at` / `target` as `phase.next_deadline` picks."""
    sign_first = ("sign_status = 'pending' AND (resolve_status != 'pending' OR resolve_due_at IS NULL"
                  " OR sign_due_at <= resolve_due_at)")
    return _rows(
        client,
        f"""SELECT *, if({sign_first}, 'sign', if(resolve_status = 'pending', 'resolve', '')) AS target,
                   if(target = 'sign', sign_due_at, if(target = 'resolve', resolve_due_at, NULL)) AS due_at,
                   dateDiff('second', {NOW}, due_at) AS seconds_left
            FROM (SELECT {DESK_CASE_COLUMNS} FROM {_db(db)}.open_cases FINAL
                  WHERE {IS_OPEN} AND department IN {{d:Array(String)}}
                    AND (empty({{r:Array(String)}}) OR has({{r:Array(String)}}, region_code)
                         OR has({{r:Array(String)}}, prefecture_code)))
            ORDER BY isNull(due_at), due_at ASC, case_id ASC
            LIMIT {{limit:UInt32}}""",
        {"d": list(departments), "r": list(regions), "limit": limit, **_now(now)},
    )


def early_warning_alerts(client: Any, db: str, regions: list[str], limit: int = 500) -> Rows:
    """Live hotspot / class-case alerts of `regions` (county or prefecture codes; empty: every region)."""
    return _rows(
        client,
        f"""SELECT alert_id, dedup_key, kind, severity, state, region_code, case_ids, message, raised_at,
                   acknowledged_by, acknowledged_at
            FROM {_db(db)}.alerts FINAL
            WHERE kind IN ('hotspot', 'class_case') AND state IN ('firing', 'acknowledged')
              AND (empty({{r:Array(String)}}) OR has({{r:Array(String)}}, region_code)
                   OR has({{r:Array(String)}}, prefecture_code))
            ORDER BY raised_at DESC, alert_id LIMIT {{limit:UInt32}}""",
        {"r": list(regions), "limit": limit},
    )


def member_facts(client: Any, db: str, case_ids: list[str]) -> Rows:
    """Topic and current department of each of `case_ids` (an alert's members; primary-key reads)."""
    if not case_ids:
        return []
    return _rows(
        client,
        f"""SELECT case_id, topic, department FROM {_db(db)}.cases FINAL
            WHERE case_id IN {{ids:Array(String)}}""",
        {"ids": list(dict.fromkeys(case_ids))},
    )


def department_warnings(client: Any, db: str, departments: list[str], regions: list[str],
                        limit: int = 500) -> Rows:
    """The live early warnings the routing rules (`fengqiao.domain.routing`) send to any of
    `departments`, within `regions`; each row names its topics and the departments it reaches."""
    from fengqiao.domain.routing import WarningFacts, hotspot_topic, load_warning_routes

    alerts = early_warning_alerts(client, db, regions, limit)
    facts = {r["case_id"]: r for r in member_facts(client, db, [c for a in alerts for c in a["case_ids"]])}
    routes, mine, out = load_warning_routes(), set(departments), []
    for row in alerts:
        members = [facts[c] for c in row["case_ids"] if c in facts]
        topic = hotspot_topic(row["dedup_key"]) if row["kind"] == "hotspot" else None
        topics = (topic,) if topic else tuple(dict.fromkeys(m["topic"] for m in members))
        reached = routes.departments(WarningFacts(row["kind"], row["region_code"], topics,
                                                  tuple(m["department"] for m in members)))
        if mine.intersection(reached):
            out.append({**row, "topics": topics, "routed_to": reached})
    return out


# ---------------------------------------------------------------- the callback desk (回访)

CONCLUDED_ON = """SELECT case_id, max(occurred_at) AS concluded_at FROM {db}.events FINAL
                  WHERE event_type IN ('case.replied', 'case.resolved_online') AND toDate(occurred_at) = {{day:Date}}
                    AND (event_type = 'case.resolved_online' OR JSONExtractBool(payload, 'resolved'))
                  GROUP BY case_id"""


def callback_candidates(client: Any, db: str, day: date) -> Rows:
    """The cases concluded as resolved on `day` (a resolved reply or an online answer that day, from
    the events: the list stays the same after a callback re-opens one) with their current state,
    for `fengqiao.domain.callback.draw`. Labels only: no personal data."""
    concluded = CONCLUDED_ON.format(db=_db(db))
    return _rows(
        client,
        f"""SELECT c.case_id AS case_id, c.status AS status, c.phase AS phase, c.topic AS topic,
                   c.category AS category, c.region_code AS region_code, c.department AS department,
                   c.formal_petition AS formal_petition, c.first_rating AS first_rating,
                   c.last_rating AS last_rating, c.reopen_count AS reopen_count, e.concluded_at AS concluded_at
            FROM ({concluded}) AS e
            INNER JOIN (SELECT case_id, status, phase, topic, category, region_code, department, formal_petition,
                               first_rating, last_rating, reopen_count
                        FROM {_db(db)}.cases FINAL
                        WHERE case_id IN (SELECT case_id FROM ({concluded}))) AS c ON c.case_id = e.case_id
            ORDER BY case_id""",
        {"day": day},
    )


def callbacks_of(client: Any, db: str, case_ids: list[str]) -> Rows:
    """The callbacks recorded for `case_ids` (`case.callback` events), oldest first."""
    if not case_ids:
        return []
    return _rows(
        client,
        f"""SELECT case_id, occurred_at, JSONExtractBool(payload, 'reached') AS reached,
                   JSONExtractString(payload, 'rating') AS rating
            FROM {_db(db)}.events FINAL
            WHERE event_type = 'case.callback' AND case_id IN {{ids:Array(String)}}
            ORDER BY occurred_at, case_id""",
        {"ids": list(case_ids)},
    )


QUERIES: dict[str, Callable[..., Rows]] = {
    **WALL_QUERIES,
    "repeat_links": repeat_links,
    "callback_candidates": callback_candidates,
    "callbacks_of": callbacks_of,
    "department_cases": department_cases,
    "early_warning_alerts": early_warning_alerts,
    "member_facts": member_facts,
    "department_warnings": department_warnings,
    "county_board": county_board,
    "alert_queue": alert_queue,
    "alert_state": alert_state,
    "alert_history": alert_history,
    "case_summary": case_summary,
    "case_timeline": case_timeline,
    "contact": contact,
    "rankings": rankings,
    "period_totals": period_totals,
    "daily_intake": daily_intake,
    "mix": mix,
    "dispatch_queue": dispatch_queue,
    "returns_by_department": returns_by_department,
}


# ---------------------------------------------------------------- cached access for the pages

def run(settings: Any, name: str, *args: Any) -> Rows:
    """Run one named query now, holding the store lock (the embedded sink shares the client)."""
    client = get_client(settings)
    with store_lock():
        return QUERIES[name](client, settings.clickhouse_database, *args)


def fetch(settings: Any, name: str, *args: Any, ttl: str = "fast") -> Rows:
    """Run a named query through Streamlit's cache (fast: 2 s for the wall, slow: 60 s for reports)."""
    import streamlit as st

    global _fast, _slow
    if _fast is None:
        @st.cache_data(ttl=2, show_spinner=False, max_entries=256)
        def _fast_fn(url: str, db: str, name: str, args: tuple, _settings: Any) -> Rows:
            return run(_settings, name, *args)

        @st.cache_data(ttl=60, show_spinner=False, max_entries=256)
        def _slow_fn(url: str, db: str, name: str, args: tuple, _settings: Any) -> Rows:
            return run(_settings, name, *args)

        _fast, _slow = _fast_fn, _slow_fn
    fn = _fast if ttl == "fast" else _slow
    return fn(settings.effective_clickhouse_url, settings.clickhouse_database, name, tuple(args), settings)


_fast: Any = None
_slow: Any = None


# ---------------------------------------------------------------- extension requests (申请延期 → 延期审批)
# The requests and decisions are signed workflow records in `commands` (fengqiao.records
# ExtensionRequestCommand / ExtensionDecisionCommand); a request without a decision is pending.
# Two decisions on one request (two dispatchers at once): the first counts.

def _extension_requests(db: str, where: str) -> str:
    return f"""SELECT toString(r.command_id) AS request_id, r.case_id AS case_id, r.officer_id AS requested_by,
                      r.issued_at AS requested_at, JSONExtractString(r.body, 'department') AS department,
                      JSONExtractUInt(r.body, 'days') AS days, JSONExtractString(r.body, 'reason') AS reason,
                      JSONExtractUInt(r.body, 'extensions_before') AS extensions_before,
                      if(d.d_request = '', 'pending', if(d.d_approved, 'approved', 'rejected')) AS state,
                      d.d_by AS decided_by, d.d_at AS decided_at, d.d_reason AS decision_reason
               FROM (SELECT command_id, case_id, officer_id, issued_at, body FROM {db}.commands FINAL
                     WHERE type = 'case.request_extension' AND {where}) AS r
               LEFT JOIN (SELECT JSONExtractString(body, 'request_id') AS d_request,
                                 argMin(officer_id, issued_at) AS d_by, min(issued_at) AS d_at,
                                 argMin(JSONExtractBool(body, 'approved'), issued_at) AS d_approved,
                                 argMin(JSONExtractString(body, 'reason'), issued_at) AS d_reason
                          FROM {db}.commands FINAL
                          WHERE type = 'case.decide_extension' AND {where}
                          GROUP BY d_request) AS d ON d.d_request = toString(r.command_id)"""


def extension_requests_of(client: Any, db: str, case_ids: list[str]) -> Rows:
    """Every extension request of `case_ids` with its state (pending / approved / rejected), newest first."""
    if not case_ids:
        return []
    return _rows(
        client,
        _extension_requests(_db(db), "case_id IN {ids:Array(String)}") + " ORDER BY requested_at DESC, request_id",
        {"ids": list(case_ids)},
    )


def pending_extensions(client: Any, db: str, regions: list[str], limit: int = 200) -> Rows:
    """The pending extension requests of cases in `regions` (empty: every region), oldest first, with
    the case's current department, status and resolve deadline (the dispatcher's 延期审批 list)."""
    requests = _extension_requests(_db(db), "1")
    return _rows(
        client,
        f"""SELECT q.*, c.region_code AS region_code, c.status AS case_status, c.department AS case_department,
                   c.resolve_due_at AS resolve_due_at
            FROM ({requests}) AS q
            INNER JOIN (SELECT case_id, region_code, prefecture_code, status, department, resolve_due_at
                        FROM {_db(db)}.cases FINAL
                        WHERE case_id IN (SELECT case_id FROM {_db(db)}.commands
                                          WHERE type = 'case.request_extension')) AS c ON c.case_id = q.case_id
            WHERE q.state = 'pending'
              AND (empty({{r:Array(String)}}) OR has({{r:Array(String)}}, c.region_code)
                   OR has({{r:Array(String)}}, c.prefecture_code))
            ORDER BY q.requested_at, q.request_id LIMIT {{n:UInt32}}""",
        {"r": list(regions), "n": limit},
    )


QUERIES.update(extension_requests_of=extension_requests_of, pending_extensions=pending_extensions)
