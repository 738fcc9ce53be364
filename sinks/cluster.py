"""The read model on a ClickHouse cluster (`FENGQIAO_CLICKHOUSE__CLUSTER`): Replicated and Distributed tables.

Each table of `sinks.schema.TABLES` becomes two, both created `ON CLUSTER <name>`:
`<table>_local`, the same columns and sorting key on Replicated*MergeTree (Keeper path
`/clickhouse/tables/{shard}/{database}/{table}`, replica `{replica}`: the server's macros), and
`<table>`, a Distributed table over it sharded by the row's key (`SHARD_KEYS`), so every version of
one case, alert or event lands on one shard and FINAL / ReplacingMergeTree collapse it there.
The Distributed table keeps the plain name, so the sink's inserts and the wall's queries are the
same in every mode. Inserts should be synchronous (`distributed_foreground_insert`, set by
`sinks.store.get_client`): the sink commits its Kafka offsets only after the shards wrote the batch;
subqueries over Distributed tables run globally (`distributed_product_mode`), which several shards need.
Replicated tables dedupe a retried insert by its block or `insert_deduplication_token` within
`replicated_deduplication_window` blocks. chDB cannot run ON CLUSTER: the embedded store keeps
`sinks.schema`'s plain tables (the settings refuse a cluster without a server).
"""

from __future__ import annotations

import re

LOCAL = "_local"
KEEPER_PATH = "/clickhouse/tables/{shard}/{database}/{table}"  # macros expanded by the server
REPLICA = "{replica}"

# the column each table's rows are sharded by (the first of its sorting key that names one row)
SHARD_KEYS: dict[str, str] = {
    "events": "event_id", "cases": "case_id", "open_cases": "case_id", "alerts": "alert_id",
    "alert_log": "alert_id", "region_stats": "region_code", "commands": "command_id", "repeats": "case_id",
    "contacts": "case_id",
}

_ENGINE = re.compile(r"ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?")


def replicated_engine(body: str) -> str:
    """`ENGINE = XMergeTree(args)` in a table body → `ENGINE = ReplicatedXMergeTree('<path>', '{replica}', args)`."""
    def repl(m: re.Match[str]) -> str:
        args = ", ".join(a for a in (f"'{KEEPER_PATH}'", f"'{REPLICA}'", (m.group(2) or "").strip()) if a)
        return f"ENGINE = Replicated{m.group(1)}({args})"

    out, n = _ENGINE.subn(repl, body, count=1)
    if n != 1:
        raise ValueError(f"no MergeTree engine in the table body: {body[-120:]!r}")
    return out


def cluster_ddl(database: str, cluster: str, tables: dict[str, str], judgement: dict[str, tuple[tuple[str, str], ...]],
                dedup_window: int, cleanup_tables: tuple[str, ...]) -> list[str]:
    """Every statement, in order, for `database` on `cluster`; each idempotent like the plain schema's."""
    on = f"ON CLUSTER {cluster}"
    stmts = [f"CREATE DATABASE IF NOT EXISTS {database} {on}"]
    for name, body in tables.items():
        if name not in SHARD_KEYS:
            raise ValueError(f"table {name} has no shard key in sinks.cluster.SHARD_KEYS")
        local = f"{database}.{name}{LOCAL}"
        extra = ", allow_experimental_replacing_merge_with_cleanup = 1" if name in cleanup_tables else ""
        stmts.append(f"CREATE TABLE IF NOT EXISTS {local} {on} ({replicated_engine(body)}\n"
                     f"    SETTINGS replicated_deduplication_window = {dedup_window}{extra}")
        stmts.append(f"ALTER TABLE {local} {on} MODIFY SETTING replicated_deduplication_window = {dedup_window}")
        cols = judgement.get(name, ())
        for col, typ in cols:
            stmts.append(f"ALTER TABLE {local} {on} ADD COLUMN IF NOT EXISTS {col} {typ}")
        stmts.append(f"CREATE TABLE IF NOT EXISTS {database}.{name} {on} AS {local}\n"
                     f"    ENGINE = Distributed({cluster}, {database}, {name}{LOCAL}, cityHash64({SHARD_KEYS[name]}))")
        for col, typ in cols:  # a Distributed table created before a column existed gets it too
            stmts.append(f"ALTER TABLE {database}.{name} {on} ADD COLUMN IF NOT EXISTS {col} {typ}")
    return stmts


def cluster_cleanup(database: str, cluster: str, table: str) -> str:
    """OPTIMIZE runs on the replicated local tables (a Distributed table cannot merge)."""
    return f"OPTIMIZE TABLE {database}.{table}{LOCAL} ON CLUSTER {cluster} FINAL CLEANUP"
