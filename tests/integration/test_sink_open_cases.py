"""`open_cases`: the small current-state table the wall's open-case tiles read.

The sink writes every case snapshot to `cases` and to `open_cases` (closed or
merged → is_deleted = 1); FINAL hides deleted rows, the periodic cleanup drops
them, and `migrate` fills the table once for a store from before it existed.
Real chDB (the session's path), no broker needed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboard import queries
from fengqiao.records import CaseSnapshot
from sinks.rows import COLUMNS, map_case
from sinks.schema import cleanup_open_cases, migrate
from sinks.store import get_client
from fengqiao.settings import Settings

pytestmark = pytest.mark.integration

SH = ZoneInfo("Asia/Shanghai")


def snap(case_id: str, version: int, closed: bool = False, merged: str = "", due_hours: int = 5) -> CaseSnapshot:
    now = datetime.now(SH)
    return CaseSnapshot(case_id=case_id, version=version, status="closed" if closed else "signed",
                        topic="邻里纠纷", urgency="normal", region_code="130102", prefecture_code="130100",
                        received_at=now - timedelta(hours=1), sign_due_at=now + timedelta(hours=1),
                        resolve_due_at=now + timedelta(hours=due_hours),
                        closed_at=now if closed else None, merged_into=merged, updated_at=now)


def write(client: Any, db: str, snaps: list[CaseSnapshot]) -> None:
    """What the sink does with these snapshots: one column-oriented insert per table."""
    tables: dict[str, list[tuple]] = {}
    for s in snaps:
        out = map_case(s.to_json())
        assert not isinstance(out, str)
        for table, _key, row in out:
            tables.setdefault(table, []).append(row)
    for table, rows in tables.items():
        client.insert(f"{db}.{table}", list(zip(*rows)), column_names=list(COLUMNS[table]), column_oriented=True)


@pytest.fixture
def store(session_chdb_url: str, tmp_path) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    client = get_client(Settings(clickhouse_url=session_chdb_url, data_dir=tmp_path))
    db = "t_open_" + uuid.uuid4().hex[:8]
    migrate(client, db)
    return client, db


def test_closed_and_merged_cases_leave_the_board_and_cleanup_drops_them(store: tuple[Any, str]) -> None:
    client, db = store
    write(client, db, [snap("A", 1), snap("B", 1), snap("C", 1), snap("D", 1, due_hours=48)])
    write(client, db, [snap("A", 2, closed=True), snap("C", 2, merged="B")])  # separate parts, unmerged
    board = queries.case_board(client, db)
    assert [(r["prefecture_code"], r["open"], r["due24"]) for r in board] == [("130100", 2, 1)]
    assert [r["case_id"] for r in queries.countdown(client, db)] == ["B", "D"]
    assert client.query(f"SELECT count() FROM {db}.open_cases").result_rows[0][0] == 6
    cleanup_open_cases(client, db)
    assert client.query(f"SELECT case_id FROM {db}.open_cases ORDER BY case_id").result_columns[0] == ["B", "D"]
    assert queries.case_board(client, db) == board
    write(client, db, [snap("A", 3)])  # re-opened: back on the board
    assert queries.case_board(client, db)[0]["open"] == 3


def test_migrate_fills_open_cases_of_an_existing_store_once(store: tuple[Any, str]) -> None:
    client, db = store
    write(client, db, [snap("A", 1), snap("B", 1), snap("B", 2, closed=True)])
    client.command(f"TRUNCATE TABLE {db}.open_cases")  # a store from before open_cases existed
    migrate(client, db)
    migrate(client, db)  # harmless again
    assert client.query(f"SELECT case_id, is_deleted FROM {db}.open_cases FINAL").result_rows == [("A", 0)]
    assert queries.case_board(client, db)[0]["open"] == 1
