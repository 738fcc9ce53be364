"""The ClickHouse read model (database `fengqiao` by default), created at start.

Every statement is idempotent (`IF NOT EXISTS`), so re-running is harmless.
Current-state tables are ReplacingMergeTree with an explicit version column:
readers must use `FINAL` (or argMax) so unmerged rows are never double-counted.
Times are DateTime64(3, 'Asia/Shanghai').
"""

from __future__ import annotations

from typing import Any

from fengqiao.vocab import TZ_SQL as TZ  # DDL types cannot take a bound parameter: the literal, interpolated once

DT = f"DateTime64(3, {TZ})"
NDT = f"Nullable(DateTime64(3, {TZ}))"

# the domain's judgement (fengqiao.domain.phase), written by the streams worker into every
# snapshot; stores created before these columns existed get them from `migrate`
JUDGEMENT: dict[str, tuple[tuple[str, str], ...]] = {
    "cases": (("phase", "LowCardinality(String)"), ("sign_status", "LowCardinality(String)"),
              ("sign_ended_at", NDT), ("resolve_status", "LowCardinality(String)"),
              ("resolve_ended_at", NDT), ("assign_count", "UInt16"), ("resolve_met_count", "UInt16")),
    "open_cases": (("phase", "LowCardinality(String)"), ("sign_status", "LowCardinality(String)"),
                   ("resolve_status", "LowCardinality(String)")),
}


def _judgement(table: str) -> str:
    return "".join(f"\n        {name} {typ}," for name, typ in JUDGEMENT[table])


TABLES: dict[str, str] = {
    # one row per event_id (duplicates collapse on merge; read with FINAL or uniqExact)
    "events": f"""
        event_id UUID,
        event_type LowCardinality(String),
        case_id String,
        occurred_at {DT},
        ingested_at {DT},
        region_code LowCardinality(String),
        prefecture_code LowCardinality(String),
        channel LowCardinality(String),
        actor_role LowCardinality(String),
        category LowCardinality(String),
        topic LowCardinality(String),
        urgency LowCardinality(String),
        department String,
        payload String,
        kafka_partition UInt16,
        kafka_offset UInt64
    ) ENGINE = ReplacingMergeTree(ingested_at)
    PARTITION BY toYYYYMM(occurred_at)
    ORDER BY (event_type, toDate(occurred_at), event_id)""",
    # current state of each case: CaseSnapshot rows from petitions.cases, newest version wins
    "cases": f"""
        case_id String,
        version UInt32,
        status LowCardinality(String),{_judgement("cases")}
        category LowCardinality(String),
        topic LowCardinality(String),
        urgency LowCardinality(String),
        channel LowCardinality(String),
        region_code LowCardinality(String),
        prefecture_code LowCardinality(String),
        department String,
        level LowCardinality(String),
        formal_petition Bool,
        received_at {NDT},
        assigned_at {NDT},
        signed_at {NDT},
        replied_at {NDT},
        closed_at {NDT},
        sign_due_at {NDT},
        resolve_due_at {NDT},
        calendar_estimated Bool,
        return_count UInt16,
        reopen_count UInt16,
        escalation_level UInt8,
        first_rating LowCardinality(String),
        last_rating LowCardinality(String),
        signed_on_time Nullable(Bool),
        resolved_on_time Nullable(Bool),
        resolved_online Bool,
        merged_into String,
        repeat_complaint Bool,
        updated_at {DT}
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY case_id""",
    # the cases not yet concluded, for the wall (board, countdown, drill-down): phase 'open' and
    # 'awaiting_evaluation' (every query names the phase it counts; 待评价 is a tile of its own, and
    # overdue and the countdown count phase 'open' only). The sink writes every snapshot here too,
    # a closed or merged one with is_deleted = 1; FINAL hides deleted rows and
    # `cleanup_open_cases` drops them, so FINAL stays cheap however many cases were ever closed
    "open_cases": f"""
        case_id String,
        version UInt32,
        status LowCardinality(String),{_judgement("open_cases")}
        topic LowCardinality(String),
        urgency LowCardinality(String),
        region_code LowCardinality(String),
        prefecture_code LowCardinality(String),
        department String,
        received_at {NDT},
        signed_at {NDT},
        sign_due_at {NDT},
        resolve_due_at {NDT},
        escalation_level UInt8,
        updated_at {DT},
        is_deleted UInt8
    ) ENGINE = ReplacingMergeTree(version, is_deleted)
    ORDER BY case_id""",
    # current state of each alert (newest version wins)
    "alerts": f"""
        alert_id String,
        dedup_key String,
        version UInt32,
        kind LowCardinality(String),
        stage LowCardinality(String),
        level UInt8,
        severity LowCardinality(String),
        state LowCardinality(String),
        case_id String,
        case_ids Array(String),
        region_code LowCardinality(String),
        prefecture_code LowCardinality(String),
        department String,
        target LowCardinality(String),
        due_at {NDT},
        raised_at {DT},
        updated_at {DT},
        acknowledged_by String,
        acknowledged_at {NDT},
        silenced_until {NDT},
        note String,
        message String
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY alert_id""",
    # every change of every alert: the audit trail
    "alert_log": f"""
        alert_id String,
        version UInt32,
        dedup_key String,
        state LowCardinality(String),
        stage LowCardinality(String),
        level UInt8,
        severity LowCardinality(String),
        updated_at {DT},
        acknowledged_by String,
        note String,
        message String
    ) ENGINE = ReplacingMergeTree
    ORDER BY (alert_id, version)""",
    # latest rolling counts per region from petitions.stats
    "region_stats": f"""
        region_code LowCardinality(String),
        region_level LowCardinality(String),
        as_of {DT},
        intake_1h UInt32,
        intake_24h UInt32,
        open_now UInt32,
        overdue_now UInt32,
        by_category_24h Map(String, UInt32),
        by_channel_24h Map(String, UInt32)
    ) ENGINE = ReplacingMergeTree(as_of)
    ORDER BY region_code""",
    # operator commands (acks, silences, escalations, contact reveals): audited
    "commands": f"""
        command_id UUID,
        type LowCardinality(String),
        issued_at {DT},
        officer_id String,
        alert_id String,
        case_id String,
        body String
    ) ENGINE = ReplacingMergeTree
    ORDER BY command_id""",
    # repeat petitions (假性整改, fengqiao.domain.repeat): one row per repeat petition from
    # petitions.repeats, linked to the earlier case; a phone match (version 2) wins over an address one
    "repeats": f"""
        case_id String,
        version UInt8,
        earlier_case_id String,
        earlier_department String,
        basis LowCardinality(String),
        topic LowCardinality(String),
        region_code LowCardinality(String),
        received_at {DT},
        concluded_at {DT}
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY case_id""",
    # masked contact data and its sealed (encrypted) clear form, one row per case
    "contacts": f"""
        case_id String,
        name_masked String,
        phone_masked String,
        phone_hash String,
        sealed String,
        updated_at {DT}
    ) ENGINE = ReplacingMergeTree(updated_at)
    ORDER BY case_id""",
}


# The sink sends an `insert_deduplication_token` with every batch, so that a retried
# insert that did land is not stored twice; a non-replicated MergeTree honours the
# token only with a deduplication window (DESIGN.md section 5).
DEDUP_WINDOW = 1000

# tables whose deleted rows `OPTIMIZE ... FINAL CLEANUP` may drop (an experimental MergeTree setting)
CLEANUP_TABLES = ("open_cases",)

OPEN_CASE_COLUMNS = ("case_id", "version", "status", "phase", "sign_status", "resolve_status", "topic", "urgency", "region_code", "prefecture_code",
                     "department", "received_at", "signed_at", "sign_due_at", "resolve_due_at",
                     "escalation_level", "updated_at", "is_deleted")


def ddl(database: str, cluster: str | None = None) -> list[str]:
    """The statements that create (or bring up to date) the read model: plain tables, or with
    `cluster` Replicated local tables and Distributed ones ON CLUSTER (`sinks.cluster`)."""
    if cluster:
        from sinks.cluster import cluster_ddl

        return cluster_ddl(database, cluster, TABLES, JUDGEMENT, DEDUP_WINDOW, CLEANUP_TABLES)
    stmts = [f"CREATE DATABASE IF NOT EXISTS {database}"]
    for name, body in TABLES.items():
        extra = ", allow_experimental_replacing_merge_with_cleanup = 1" if name in CLEANUP_TABLES else ""
        stmts.append(f"CREATE TABLE IF NOT EXISTS {database}.{name} ({body}\n"
                     f"    SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}{extra}")
        # tables created before the setting existed get it too (a no-op when set)
        stmts.append(f"ALTER TABLE {database}.{name} MODIFY SETTING non_replicated_deduplication_window = {DEDUP_WINDOW}")
        for col, typ in JUDGEMENT.get(name, ()):  # and the judgement columns (a no-op when there)
            stmts.append(f"ALTER TABLE {database}.{name} ADD COLUMN IF NOT EXISTS {col} {typ}")
    return stmts


def migrate(client: Any, database: str = "fengqiao", cluster: str | None = None) -> None:
    """Create the database and every table; harmless to run again.

    A store from before the judgement columns existed gets them filled from each case's
    stored row (`judge_legacy_rows`); one from before `open_cases` existed gets it filled
    once from `cases FINAL` (the open ones); later snapshots reach both tables through the sink.
    """
    for stmt in ddl(database, cluster):
        client.command(stmt)
    judge_legacy_rows(client, database)
    backfill_open_cases(client, database)


def judge_legacy_rows(client: Any, database: str) -> int:
    """Rows written before the judgement columns existed (phase '') get them from the domain
    (`legacy_judgement`), re-inserted at the same version (the later insert wins) into
    `cases` and `open_cases` (where a case no longer open, e.g. awaiting evaluation, leaves)."""
    from fengqiao.records import CaseSnapshot
    from sinks.rows import COLUMNS, case_row, open_case_row

    res = client.query(f"SELECT * FROM {database}.cases FINAL WHERE phase = ''")
    if not res.result_rows:
        return 0
    names = res.column_names
    snaps = []
    for row in res.result_rows:
        d = {k: v for k, v in zip(names, row) if v is not None and k not in dict(JUDGEMENT["cases"])}
        snaps.append(CaseSnapshot.model_validate(d))
    for table, fn in (("cases", case_row), ("open_cases", open_case_row)):
        client.insert(f"{database}.{table}", [fn(s) for s in snaps], column_names=list(COLUMNS[table]))
    return len(snaps)


def backfill_open_cases(client: Any, database: str) -> None:
    """Fill an empty `open_cases` from `cases` (a no-op when it has rows or `cases` has none)."""
    empty = client.query(f"SELECT count() = 0 FROM {database}.open_cases").result_rows[0][0]
    if not empty or not client.query(f"SELECT count() > 0 FROM {database}.cases").result_rows[0][0]:
        return
    cols = ", ".join(OPEN_CASE_COLUMNS[:-1])
    client.command(
        f"INSERT INTO {database}.open_cases ({cols}, is_deleted) SELECT {cols}, 0 "
        f"FROM {database}.cases FINAL WHERE phase IN ('open', 'awaiting_evaluation')")


def cleanup_open_cases(client: Any, database: str, cluster: str | None = None) -> None:
    """Merge `open_cases` into one part, dropping closed cases (is_deleted = 1).

    FINAL merges every part, so a deleted row goes only together with all older
    versions of its case that were stored; a version older still that arrives
    afterwards (re-delivered out of order) would show the case open until its
    newer snapshot is re-read. Cheap: the table holds open cases plus what
    closed since the last cleanup. The sink runs it every minute or so.
    """
    if cluster:
        from sinks.cluster import cluster_cleanup

        client.command(cluster_cleanup(database, cluster, "open_cases"))
        return
    client.command(f"OPTIMIZE TABLE {database}.open_cases FINAL CLEANUP")
