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
from tests.integration.wall_figures import write
from sinks.schema import cleanup_open_cases, migrate
from sinks.store import get_client
from fengqiao.settings import Settings

pytestmark = pytest.mark.integration

SH = ZoneInfo("Asia/Shanghai")


def snap(case_id: str, version: int, closed: bool = False, merged: str = "", due_hours: int = 5) -> CaseSnapshot:
    now = datetime.now(SH)
    phase = "merged" if merged else "closed" if closed else "open"
    return CaseSnapshot(case_id=case_id, version=version, status="archived" if closed else "merged" if merged else "signed",
                        phase=phase, sign_status="met", resolve_status="pending" if phase == "open" else "dropped",
                        topic="邻里纠纷", urgency="normal", region_code="130102", prefecture_code="130100",
                        received_at=now - timedelta(hours=1), sign_due_at=now + timedelta(hours=1),
                        resolve_due_at=now + timedelta(hours=due_hours),
                        closed_at=now if closed else None, merged_into=merged, updated_at=now)


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


def test_a_store_from_before_the_judgement_columns_gets_them_from_the_domain(store: tuple[Any, str]) -> None:
    """An existing store: old rows (no phase) of a case answered and waiting for evaluation,
    past its resolve due instant, were counted 已超期; after `migrate` it is 待评价."""
    from sinks.schema import JUDGEMENT

    client, db = store
    for table, cols in JUDGEMENT.items():
        for name, _ in cols:
            client.command(f"ALTER TABLE {db}.{table} DROP COLUMN {name}")
    now = datetime.now(SH)
    old = [("W", "replied", True, now - timedelta(hours=1)), ("U", "assigned", None, now - timedelta(hours=1))]
    cols = ["case_id", "version", "status", "region_code", "prefecture_code", "received_at", "assigned_at",
            "resolve_due_at", "resolved_on_time", "replied_at", "updated_at"]
    rows = [[cid, 3, status, "130102", "130100", now - timedelta(days=2), now - timedelta(days=2), due, met,
             now - timedelta(days=1) if met else None, now] for cid, status, met, due in old]
    client.insert(f"{db}.cases", rows, column_names=cols)
    client.insert(f"{db}.open_cases", [[r[0], r[1], r[2], "130102", "130100", r[7], now, 0] for r in rows],
                  column_names=["case_id", "version", "status", "region_code", "prefecture_code", "resolve_due_at",
                                "updated_at", "is_deleted"])
    migrate(client, db)
    migrate(client, db)  # harmless again
    got = client.query(f"SELECT case_id, phase, resolve_status FROM {db}.cases FINAL ORDER BY case_id").result_rows
    assert got == [("U", "open", "pending"), ("W", "awaiting_evaluation", "met")]
    [b] = queries.case_board(client, db)
    assert (b["open"], b["awaiting"], b["overdue"]) == (1, 1, 1)
