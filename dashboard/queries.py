"""Every query the UI runs, in one place, with bound parameters.

Each function takes a clickhouse-connect client and the database name and
returns plain rows (list of dicts), so the benchmark and the tests call them
without Streamlit. The pages go through `fetch()`, which serialises access to
the shared embedded client (`store_lock`) and caches results for a few
seconds (`st.cache_data`), so several screens showing the wall share one
query set per refresh.

Current state (`cases`, `open_cases`, `alerts`, `region_stats`) is always read
with FINAL: a ReplacingMergeTree that has not merged yet would otherwise count a
case twice. The wall's open-case tiles read `open_cases` (open cases only, kept
small by the sink's cleanup) instead of a FINAL over every case ever received;
queries by receipt date filter in PREWHERE, before FINAL merges, which is exact
because a case's `received_at` never changes between versions (it is set by its
`petition.received`). Times are Asia/Shanghai; "today" and "this week" are
computed by the server (`now()`), so every screen agrees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from sinks.store import get_client, store_lock

TZ = "Asia/Shanghai"
Rows = list[dict[str, Any]]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

OPEN = "closed_at IS NULL AND merged_into = ''"


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


def intake_today(client: Any, db: str) -> Rows:
    """Today's new petitions by channel (distinct event ids: duplicates not counted)."""
    return _rows(
        client,
        f"""SELECT channel, uniqExact(event_id) AS n
            FROM {_db(db)}.events
            WHERE event_type = 'petition.received'
              AND toDate(occurred_at) = toDate(now(), {{tz:String}})
            GROUP BY channel ORDER BY n DESC""",
        {"tz": TZ},
    )


def case_board(client: Any, db: str) -> Rows:
    """Open, due within 24 h and overdue cases per prefecture (current state)."""
    return _rows(
        client,
        f"""SELECT prefecture_code,
                   count() AS open,
                   countIf(resolve_due_at >= now() AND resolve_due_at < now() + INTERVAL 24 HOUR) AS due24,
                   countIf(resolve_due_at < now()) AS overdue
            FROM {_db(db)}.open_cases FINAL
            GROUP BY prefecture_code""",
    )


def county_board(client: Any, db: str, prefecture_code: str) -> Rows:
    """The same board for one city's county-level units (drill-down)."""
    return _rows(
        client,
        f"""SELECT region_code, count() AS open, countIf(resolve_due_at < now()) AS overdue
            FROM {_db(db)}.open_cases FINAL
            WHERE prefecture_code = {{p:String}}
            GROUP BY region_code""",
        {"p": prefecture_code},
    )


def rates(client: Any, db: str) -> Rows:
    """响应率 / 解决率 / 满意率 counts for cases received today and earlier this week
    (Mon–yesterday); the week is the sum of both rows."""
    return _rows(
        client,
        f"""SELECT if(toDate(received_at) = toDate(now(), {{tz:String}}), 'today', 'earlier') AS period,
                   count() AS received,
                   countIf(signed_on_time) AS signed_on_time,
                   countIf(signed_at IS NOT NULL OR sign_due_at < now()) AS sign_base,
                   countIf(closed_at IS NOT NULL) AS resolved,
                   countIf(last_rating IN ('satisfied', 'basically_satisfied')) AS satisfied,
                   countIf(last_rating != '') AS evaluated
            FROM {_db(db)}.cases FINAL
            PREWHERE received_at >= toMonday(now(), {{tz:String}})
            WHERE merged_into = ''
            GROUP BY period""",
        {"tz": TZ},
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


def countdown(client: Any, db: str, limit: int = 12) -> Rows:
    """Open cases closest to missing a deadline (sign or resolve), not yet overdue."""
    return _rows(
        client,
        f"""SELECT case_id, region_code, topic, urgency, department, target, due_at,
                   dateDiff('second', now(), due_at) AS seconds_left
            FROM (
                SELECT case_id, region_code, topic, urgency, department,
                       if(signed_at IS NULL AND sign_due_at IS NOT NULL AND sign_due_at < resolve_due_at,
                          'sign', 'resolve') AS target,
                       assumeNotNull(if(target = 'sign', sign_due_at, resolve_due_at)) AS due_at
                FROM {_db(db)}.open_cases FINAL
                WHERE resolve_due_at >= now()
                  AND resolve_due_at < now() + INTERVAL 7 DAY
            )
            WHERE due_at >= now()
            ORDER BY due_at ASC
            LIMIT {{limit:UInt32}}""",
        {"limit": limit},
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


def intake_trend(client: Any, db: str) -> Rows:
    """New petitions per hour over the last 24 hours."""
    return _rows(
        client,
        f"""SELECT formatDateTime(toStartOfHour(occurred_at), '%m-%d %H:00', {{tz:String}}) AS hour,
                   uniqExact(event_id) AS n
            FROM {_db(db)}.events
            WHERE event_type = 'petition.received'
              AND occurred_at >= toStartOfHour(now()) - INTERVAL 23 HOUR
              AND toDate(occurred_at) >= yesterday() - 1
            GROUP BY hour ORDER BY hour""",
        {"tz": TZ},
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


def wall_snapshot(client: Any, db: str) -> dict[str, Rows]:
    """The wall's full query set for one refresh (what the benchmark times)."""
    return {name: fn(client, db) for name, fn in WALL_QUERIES.items()}


# ---------------------------------------------------------------- the officer console

def alert_queue(client: Any, db: str, prefecture: str = "", stage: str = "", state: str = "",
                limit: int = 200) -> Rows:
    """Alerts filtered by prefecture, stage and state ('' = any)."""
    return _rows(
        client,
        f"""SELECT alert_id, kind, stage, level, severity, state, region_code, prefecture_code,
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


def rankings(client: Any, db: str, by: str, start: date, end: date) -> Rows:
    """On-time, satisfaction, return and re-open rates per prefecture/county/department
    for cases received between `start` and `end` (inclusive)."""
    col = _GROUPS[by]
    return _rows(
        client,
        f"""SELECT {col} AS key, count() AS cases,
                   countIf(resolved_on_time) / greatest(countIf(resolved_on_time IS NOT NULL), 1) AS on_time_rate,
                   countIf(last_rating IN ('satisfied', 'basically_satisfied'))
                       / greatest(countIf(last_rating != ''), 1) AS satisfaction_rate,
                   countIf(return_count > 0) / count() AS return_rate,
                   countIf(reopen_count > 0) / count() AS reopen_rate,
                   countIf(closed_at IS NULL AND resolve_due_at < now()) AS overdue_open
            FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at) BETWEEN {{d0:Date}} AND {{d1:Date}}
            WHERE merged_into = '' AND {col} != ''
            GROUP BY key ORDER BY on_time_rate DESC, satisfaction_rate DESC, cases DESC""",
        {"d0": start, "d1": end},
    )


def period_totals(client: Any, db: str, start: date, end: date) -> Rows:
    """One row of totals and rates for a period (the reports' headline)."""
    return _rows(
        client,
        f"""SELECT count() AS received, countIf(closed_at IS NOT NULL) AS resolved,
                   countIf(signed_on_time) / greatest(countIf(signed_on_time IS NOT NULL), 1) AS response_rate,
                   countIf(closed_at IS NOT NULL) / greatest(count(), 1) AS resolution_rate,
                   countIf(last_rating IN ('satisfied', 'basically_satisfied'))
                       / greatest(countIf(last_rating != ''), 1) AS satisfaction_rate,
                   countIf(resolved_on_time) / greatest(countIf(resolved_on_time IS NOT NULL), 1) AS on_time_rate,
                   countIf(resolved_online) / greatest(count(), 1) AS online_rate,
                   countIf(return_count > 0) / greatest(count(), 1) AS return_rate,
                   countIf(reopen_count > 0) / greatest(count(), 1) AS reopen_rate,
                   countIf(repeat_complaint) / greatest(count(), 1) AS repeat_rate
            FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at) BETWEEN {{d0:Date}} AND {{d1:Date}}
            WHERE merged_into = ''""",
        {"d0": start, "d1": end},
    )


def daily_intake(client: Any, db: str, start: date, end: date) -> Rows:
    return _rows(
        client,
        f"""SELECT toDate(received_at) AS day, count() AS n, countIf(closed_at IS NOT NULL) AS resolved
            FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at) BETWEEN {{d0:Date}} AND {{d1:Date}}
            WHERE merged_into = ''
            GROUP BY day ORDER BY day""",
        {"d0": start, "d1": end},
    )


def mix(client: Any, db: str, start: date, end: date, column: str) -> Rows:
    """Counts by category / topic / channel for a period."""
    if column not in ("category", "topic", "channel", "urgency"):
        raise ValueError(column)
    return _rows(
        client,
        f"""SELECT {column} AS key, count() AS n FROM {_db(db)}.cases FINAL
            PREWHERE toDate(received_at) BETWEEN {{d0:Date}} AND {{d1:Date}}
            WHERE merged_into = ''
            GROUP BY key ORDER BY n DESC LIMIT 12""",
        {"d0": start, "d1": end},
    )


QUERIES: dict[str, Callable[..., Rows]] = {
    **WALL_QUERIES,
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
