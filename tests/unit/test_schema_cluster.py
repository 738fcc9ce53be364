"""Cluster mode's DDL (`FENGQIAO_CLICKHOUSE__CLUSTER`), rendered and checked without a server: chDB
cannot run ON CLUSTER, but its parser (`formatQuery`, in a child process: one chDB engine per
process) says whether ClickHouse reads each statement. Embedded mode's DDL is unchanged."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from fengqiao.settings import Settings
from sinks.cluster import LOCAL, SHARD_KEYS, cluster_cleanup, replicated_engine
from sinks.schema import CLEANUP_TABLES, TABLES, ddl

pytestmark = pytest.mark.unit

CL = "fq_cluster"


def test_embedded_ddl_is_the_plain_schema() -> None:
    stmts = ddl("fengqiao")
    assert ddl("fengqiao", None) == stmts
    text = "\n".join(stmts)
    assert "ON CLUSTER" not in text and "Replicated" not in text and "Distributed" not in text
    assert stmts[0] == "CREATE DATABASE IF NOT EXISTS fengqiao"
    for name in TABLES:
        assert f"CREATE TABLE IF NOT EXISTS fengqiao.{name} (" in text
        assert f"non_replicated_deduplication_window" in text


def test_every_table_is_replicated_local_plus_distributed_on_the_cluster() -> None:
    stmts = ddl("fengqiao", CL)
    assert stmts[0] == f"CREATE DATABASE IF NOT EXISTS fengqiao ON CLUSTER {CL}"
    assert all(f" ON CLUSTER {CL}" in s for s in stmts)
    for name, body in TABLES.items():
        engine = re.search(r"ENGINE = (\w+)", body).group(1)  # type: ignore[union-attr]
        local = next(s for s in stmts if s.startswith(f"CREATE TABLE IF NOT EXISTS fengqiao.{name}{LOCAL} "))
        assert f"ENGINE = Replicated{engine}('/clickhouse/tables/{{shard}}/{{database}}/{{table}}', '{{replica}}'" in local
        assert "replicated_deduplication_window = 1000" in local and "non_replicated" not in local
        assert ("allow_experimental_replacing_merge_with_cleanup = 1" in local) == (name in CLEANUP_TABLES)
        dist = next(s for s in stmts if s.startswith(f"CREATE TABLE IF NOT EXISTS fengqiao.{name} "))
        assert dist.endswith(f"ENGINE = Distributed({CL}, fengqiao, {name}{LOCAL}, cityHash64({SHARD_KEYS[name]}))")
        assert f"AS fengqiao.{name}{LOCAL}" in dist
        assert stmts.index(local) < stmts.index(dist)  # the Distributed table copies the local one's columns
        assert SHARD_KEYS[name] in body.split("ORDER BY")[1]  # all versions of one row on one shard


def test_engine_arguments_are_kept_after_path_and_replica() -> None:
    assert replicated_engine(") ENGINE = ReplacingMergeTree(version, is_deleted)\n    ORDER BY case_id").startswith(
        ") ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', "
        "version, is_deleted)")
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\n" in \
        replicated_engine(") ENGINE = ReplacingMergeTree\n    ORDER BY command_id")
    with pytest.raises(ValueError):
        replicated_engine(") ENGINE = Memory")


def test_judgement_columns_reach_local_and_distributed_tables() -> None:
    stmts = ddl("fengqiao", CL)
    for table in ("cases", "cases_local"):
        assert f"ALTER TABLE fengqiao.{table} ON CLUSTER {CL} ADD COLUMN IF NOT EXISTS phase LowCardinality(String)" \
            in stmts
    assert cluster_cleanup("fengqiao", CL, "open_cases") == \
        f"OPTIMIZE TABLE fengqiao.open_cases_local ON CLUSTER {CL} FINAL CLEANUP"


def test_clickhouse_parses_every_cluster_statement() -> None:
    stmts = ddl("fengqiao", CL)
    code = ("import chdb, json, sys\n"
            "qs = json.load(sys.stdin)\n"
            "arr = ', '.join(\"'\" + q.replace('\\\\', '\\\\\\\\').replace(\"'\", \"\\\\'\") + \"'\" for q in qs)\n"
            "print(chdb.query(f'SELECT arrayMap(x -> formatQuery(x), [{arr}])', 'JSONCompact'))\n")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(stmts), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    formatted = json.loads(str(out.stdout))["data"][0][0]
    assert len(formatted) == len(stmts)
    assert all("ON CLUSTER" in f for f in formatted)


def test_a_cluster_needs_a_server_and_a_plain_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FENGQIAO_CLICKHOUSE_URL", raising=False)
    monkeypatch.setenv("FENGQIAO_CLICKHOUSE__CLUSTER", CL)
    with pytest.raises(ValueError, match="ON CLUSTER"):
        Settings()
    monkeypatch.setenv("FENGQIAO_CLICKHOUSE_URL", "http://fengqiao:pw@clickhouse:8123")
    assert Settings().clickhouse.cluster == CL
    monkeypatch.setenv("FENGQIAO_CLICKHOUSE__CLUSTER", "x; DROP DATABASE fengqiao")
    with pytest.raises(ValueError):
        Settings()
