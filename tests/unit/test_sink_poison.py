"""The batching sink's poison isolation, month chunking and store-down state (no broker, no store:
the insert is a plain function that refuses what a ClickHouse table would refuse)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any, Sequence

import pytest

from fengqiao.vocab import TZ
from sinks.batching import MAX_PARTITIONS_PER_INSERT, TP, BatchingSink, partition_chunks
from sinks.health import SinkHealth, read_state, stale_reason, state_path, write_state
from sinks.rows import COLUMNS, TableRow

pytestmark = pytest.mark.unit

TPX = TP("t.stats", 0)
IDX = COLUMNS["region_stats"].index("intake_1h")


class Store:
    """Refuses a negative UInt32 (like ClickHouse's DataError); `down` raises a connection error."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.rows: list[tuple] = []
        self.down = 0

    def __call__(self, table: str, cols: Sequence[str], data: list[Sequence[Any]], token: str | None) -> None:
        self.calls.append(len(data[0]))
        if self.down:
            self.down -= 1
            raise ConnectionRefusedError("store down")
        rows = list(zip(*data))
        if any(r[IDX] < 0 for r in rows if table == "region_stats"):
            raise ValueError("UInt32 out of range")
        self.rows.extend(rows)


def stats_row(i: int, intake: int) -> TableRow:
    row = tuple(intake if c == "intake_1h" else 0 for c in COLUMNS["region_stats"])
    return TableRow("region_stats", ("s", i), row)


def sink(store: Store, **kw: Any) -> tuple[BatchingSink, list[Any], list[dict]]:
    dead: list[Any] = []
    commits: list[dict] = []
    s = BatchingSink(insert=store, commit=commits.append, send_dead=dead.extend, batch_rows=10_000,
                     batch_seconds=60, backoff_initial=0.001, backoff_max=0.002, **kw)
    return s, dead, commits


def test_one_refused_row_among_1000_goes_to_the_dlq_and_the_rest_lands() -> None:
    store = Store()
    s, dead, commits = sink(store)
    for i in range(1000):
        s.add(TPX, 100 + i, [stats_row(i, -1 if i == 637 else i)], raw=b"raw-%d" % i)
    assert s.flush() == 999
    assert len(store.rows) == 999
    assert [(d.topic, d.partition, d.offset) for d in dead] == [("t.stats", 0, 737)]
    assert dead[0].raw_bytes() == b"raw-637" and "拒绝" in dead[0].error and "refused" in dead[0].error
    assert commits == [{TPX: 1100}]  # committed after the good rows landed
    assert len(store.calls) <= 2 * 11 + 1  # bisection, not one insert per row
    assert s.stats.poison_rows == 1 and s.health.failing_since is None


def test_refused_rows_that_may_hold_contact_data_are_sealed() -> None:
    store = Store()
    s, dead, _ = sink(store, pii_key="k" * 16)
    s.add(TPX, 5, [stats_row(0, -1)], raw=b'{"citizen": {"phone": "13812345678"}}')
    s.add(TPX, 6, [stats_row(1, 1)], raw=b"ok")
    s.flush()
    assert dead[0].raw_encoding == "sealed" and "13812345678" not in dead[0].to_json().decode()


def test_a_store_that_is_down_is_retried_unchanged_and_reported() -> None:
    store = Store()
    store.down = 3
    states: list[tuple[float | None, int]] = []
    s, dead, commits = sink(store, on_health=lambda h: states.append((h.failing_since, h.attempts)))
    for i in range(50):
        s.add(TPX, i, [stats_row(i, i)], raw=b"x")
    assert s.flush() == 50
    assert store.calls == [50, 50, 50, 50]  # the same batch, never split, nothing dead-lettered
    assert not dead and commits == [{TPX: 50}]
    assert [a for _, a in states][:3] == [1, 2, 3] and states[-1] == (None, 0)
    assert s.health.last_insert_at is not None and s.health.last_error.startswith("ConnectionRefusedError")


def test_stop_while_the_store_is_down_commits_nothing() -> None:
    from sinks.batching import SinkStopped

    store = Store()
    store.down = 10**6
    stop = threading.Event()
    s, _, commits = sink(store, stop=stop)
    s.add(TPX, 0, [stats_row(0, 1)])
    stop.set()
    with pytest.raises(SinkStopped):
        s.flush()
    assert commits == []


def test_a_backfill_of_many_months_is_inserted_in_chunks_of_at_most_100_months() -> None:
    start = datetime(2015, 1, 15, tzinfo=TZ)
    col = COLUMNS["events"].index("occurred_at")
    rows = []
    for m in range(250):
        at = (start + timedelta(days=31 * m)).replace(day=15)
        rows.append(tuple(at if i == col else 0 for i in range(len(COLUMNS["events"]))))
    chunks = partition_chunks("events", rows, list(range(250)))  # type: ignore[arg-type]
    months = [{(r[col].year, r[col].month) for r in c} for c, _ in chunks]
    assert len(chunks) == 3 and all(len(m) <= MAX_PARTITIONS_PER_INSERT for m in months)
    assert sorted(o for _, origins in chunks for o in origins) == list(range(250))
    assert len(partition_chunks("region_stats", rows, list(range(250)))) == 1  # not partitioned by month


def test_the_month_is_the_tables_own_time_zone() -> None:
    col = COLUMNS["events"].index("occurred_at")
    from datetime import timezone

    # 16:30 UTC on the last day of a month is already the next month in Asia/Shanghai
    at = [datetime(2020, m, 28, tzinfo=timezone.utc) + timedelta(days=3, hours=16, minutes=30) for m in range(1, 13)]
    rows = [tuple(a if i == col else 0 for i in range(len(COLUMNS["events"]))) for a in at * 10]
    assert len(partition_chunks("events", rows, list(range(len(rows))))) == 1  # type: ignore[arg-type]


def test_stale_reason_says_when_the_store_is_down_and_not_for_a_poison_row(tmp_path: Any) -> None:
    h = SinkHealth(updated_at=1000.0, last_insert_at=990.0)
    assert stale_reason(h, now=1001.0) == ""
    h.failed("insert into events", "OperationalError: refused", 1000.0)
    h.updated_at = 1000.0
    assert stale_reason(h, now=1001.0) == ""  # one failed attempt that the retry may fix
    h.failed("insert into events", "OperationalError: refused", 1004.0)
    h.updated_at = 1004.0
    banner = stale_reason(h, now=1005.0)
    assert "数据库写入失败" in banner and "Store unavailable" in banner
    path = state_path(tmp_path)
    write_state(path, h)
    assert read_state(path) == h
    assert "无响应" in stale_reason(h, now=1004.0 + 60)
    h.running = False
    assert "已停止" in stale_reason(h, now=1005.0)
    assert read_state(tmp_path / "missing.json") is None and stale_reason(None) == ""


def test_store_errors_are_told_apart_from_refused_data() -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError, ProgrammingError

    from sinks.store import is_transient

    assert is_transient(OperationalError("connection refused")) and is_transient(ConnectionResetError())
    assert is_transient(DatabaseError("Code: 60. Table f.events does not exist", code=60))
    assert is_transient(DatabaseError("Code: 252. Too many parts (300). Merges are slower", code=252))
    assert is_transient(ProgrammingError("Unrecognized column 'x' in table f.events"))  # schema, not a row
    assert not is_transient(DatabaseError("Code: 252. Too many partitions for single INSERT block", code=252))
    assert not is_transient(DatabaseError("Code: 53. Type mismatch", code=53))
    assert not is_transient(DataError("Unable to create native array for column `intake_1h`"))
    assert not is_transient(ValueError("invalid literal for int()")) and not is_transient(TypeError("None"))
