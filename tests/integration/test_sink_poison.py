"""The sink isolates poison and survives a store outage (real broker, real chDB in this process).

Issue 11: "a sink batch whose insert fails is retried unchanged for ever: one bad row stops all
ingestion", e.g. a backfill with more than 100 months in one batch ("Too many partitions for
single INSERT block"). Now: a backfill lands in several inserts, a row the store refuses becomes a
dead letter (the rest lands, offsets committed after it), and a store that is not there is retried
with backoff while the state file tells the wall the data is stale.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Callable

import pytest

from fengqiao.records import RegionStats
from fengqiao.settings import Settings, SinkSettings
from fengqiao.vocab import TZ
from sinks.health import read_state, stale_reason, state_path
from sinks.runner import ensure_topics
from sinks.schema import migrate
from sinks.store import get_client, store_lock
from tests.factories import event_messages
from tests.integration.test_sink import committed, final_count, produce, query, read_dead_letters, sink_thread, wait_until

pytestmark = pytest.mark.integration

MONTHS = 130  # more than ClickHouse's 100 partitions per insert block


def one_batch(settings_factory: Callable[..., Settings]) -> Settings:
    """Settings whose sink flushes everything it read in one batch."""
    return settings_factory(sink=SinkSettings(group_id=f"sink-{uuid.uuid4().hex[:8]}", batch_rows=100_000,
                                              batch_seconds=1.5))


def backfill(count: int, seed: int) -> list[tuple[bytes, bytes]]:
    """Events spread over `MONTHS` months of history (a migration from the old platform)."""
    out = []
    for i, (key, value) in enumerate(event_messages(seed=seed, count=count)):
        ev = json.loads(value)
        month = i % MONTHS
        ev["occurred_at"] = datetime(2012 + month // 12, 1 + month % 12, 10, 9, 30, tzinfo=TZ).isoformat()
        out.append((key, json.dumps(ev, ensure_ascii=False).encode()))
    return out


def stats(region: str, intake_24h: int) -> bytes:
    return RegionStats(region_code=region, region_level="county", as_of=datetime.now(TZ), intake_1h=1,
                       intake_24h=intake_24h, open_now=1, overdue_now=0).to_json()


def test_a_backfill_lands_a_refused_row_is_dead_lettered_and_an_outage_is_waited_out(
        settings_factory: Callable[..., Settings]) -> None:
    s = one_batch(settings_factory)
    db = s.clickhouse_database
    path = state_path(s.data_dir)
    events = backfill(2 * MONTHS, seed=31)
    later = event_messages(seed=33, count=300)
    poison = stats("130104", 2**40)  # valid record, but UInt32 cannot hold it: the store refuses the row
    good_stats = [(b"130102", stats("130102", 5)), (b"130103", stats("130103", 6)), (b"130105", stats("130105", 7))]
    ensure_topics(s)
    produce(s, s.topics.events, events)
    produce(s, s.topics.stats, [good_stats[0], (b"130102", poison), *good_stats[1:]])
    with sink_thread(s):
        # 1. a backfill of 130 months in one batch lands (several inserts); the refused row alone is dead-lettered
        wait_until(lambda: final_count(s) >= len(events), what="the backfill in ClickHouse")
        wait_until(lambda: final_count(s, "region_stats") >= 3, what="the good stats rows")
        wait_until(lambda: committed(s) == len(events), what="offsets committed")
        months = query(s, f"SELECT uniqExact(toYYYYMM(occurred_at)) FROM {db}.events")[0][0]
        assert months == MONTHS and final_count(s) == len(events)
        assert sorted(r[0] for r in query(s, f"SELECT region_code FROM {db}.region_stats FINAL")) == [
            "130102", "130103", "130105"]
        health = read_state(path)
        assert health is not None and health.poison_rows == 1 and stale_reason(health) == ""  # a bad row is no outage

        # 2. the store loses the table (restored from an old backup, a bad migration): retried, the wall is told
        with store_lock():
            get_client(s).command(f"DROP TABLE {db}.events SYNC")
        produce(s, s.topics.events, later)
        wait_until(lambda: "数据库写入失败" in stale_reason(read_state(path)), timeout=30, what="a stale banner")
        health = read_state(path)
        assert health is not None and health.attempts >= 2 and "events" in health.failing_step
        with store_lock():
            migrate(get_client(s), db)  # the store is back
        wait_until(lambda: final_count(s) >= len(later), what="the held batch, inserted unchanged")
        wait_until(lambda: committed(s) == len(events) + len(later), what="offsets committed")
        wait_until(lambda: stale_reason(read_state(path)) == "", timeout=15, what="the banner gone")
    assert final_count(s) == len(later)  # nothing lost during the outage
    letters = read_dead_letters(s, 1)
    assert len(letters) == 1, [d.error for d in letters]  # the outage made no dead letters
    d = letters[0]
    assert d.topic == s.topics.stats and d.partition is not None and d.offset is not None
    assert "拒绝" in d.error and "refused" in d.error and "region_stats" in d.error
    assert d.raw_bytes() == poison
    assert not read_state(path).running  # type: ignore[union-attr]
