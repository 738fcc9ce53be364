"""The read model's SQL against the domain's definitions: the same snapshots, written the
way the sink writes them into real chDB, give every wall tile, ranking row and report
figure the domain computes (`fengqiao.domain.metrics`). No broker needed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
import pytest

from fengqiao.contract import parse_event
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import snapshot
from fengqiao.domain.policy import load_policy
from fengqiao.settings import Settings
from fengqiao.vocab import TZ
from producers.simulator import generate_events
from sinks.schema import migrate
from sinks.store import get_client
from tests.integration.streams_harness import received
from tests.integration.wall_figures import differences, from_domain, from_sql, replay_all, write

pytestmark = pytest.mark.integration


def test_sql_counts_what_the_domain_counts(session_chdb_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = get_client(Settings(clickhouse_url=session_chdb_url, data_dir=tmp_path))
    db = "t_metrics_" + uuid.uuid4().hex[:8]
    migrate(client, db)
    start = datetime(2026, 11, 2, 8, 0, tzinfo=TZ)
    events = generate_events(21, 6000, start, 1.0, rate=0.004)
    half, _ = replay_all(events[: len(events) // 2], load_policy(), load_calendar())
    states, _ = replay_all(events, load_policy(), load_calendar())
    write(client, db, [snapshot(s) for s in half.values()])  # older versions in other parts: FINAL must pick
    snaps = [snapshot(s) for s in states.values()]
    write(client, db, snaps)
    last = max(e.occurred_at for e in events)
    for now in (last + timedelta(minutes=5), last + timedelta(days=2), last - timedelta(days=3)):
        domain, sql = from_domain(snaps, now), from_sql(client, db, now)
        assert not differences(domain, sql), "\n".join(differences(domain, sql))
        assert domain["board"] and domain["countdown"] and any(domain["rates"]["week"][1].values())


def test_the_24_hour_trend_shows_the_first_minute(session_chdb_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A young store drew an empty trend for its first hour (one point draws no line): now
    every hour of the 24 is a bar, the current one holding the first petition."""
    client = get_client(Settings(clickhouse_url=session_chdb_url, data_dir=tmp_path))
    db = "t_trend_" + uuid.uuid4().hex[:8]
    migrate(client, db)
    now = datetime.now(TZ)
    at = max(now - timedelta(seconds=30), now.replace(minute=0, second=0, microsecond=0))
    states, _ = replay_all([parse_event(received("FIRST", at))], load_policy(), load_calendar())
    write(client, db, [snapshot(s) for s in states.values()])
    from dashboard import queries

    trend = queries.intake_trend(client, db, now=now)
    assert len(trend) == 24 and trend[-1] == {"hour": now.strftime("%m-%d %H:00"), "n": 1}
    assert sum(r["n"] for r in trend) == 1
