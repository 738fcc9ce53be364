"""Every topic a worker needs exists with its partitions before its agents start (issue 13:
a fresh worker once found the `early` table's changelog with 0 partitions), and the watchdog's
broker probe tells a live broker from a dead port, on the real broker."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from broker.local import free_port
from broker.topics import Replication, ensure_topics, topic_partitions
from fengqiao.settings import Settings, StreamsSettings
from streams.main import app_topics, ensure_app_topics
from streams.runtime import build_runtime
from streams.watchdog import Watchdog

pytestmark = pytest.mark.integration


def _runtime(settings_factory: Callable[..., Settings]) -> tuple[Settings, object]:
    s = settings_factory(streams=StreamsSettings(app_id=f"wt-{uuid.uuid4().hex[:8]}", store="memory://"))
    return s, build_runtime(s, store="memory://").app


def test_the_changelogs_and_the_assignor_topic_are_created_before_the_agents(
        settings_factory: Callable[..., Settings]) -> None:
    s, app = _runtime(settings_factory)
    parts, compacted = app_topics(app)
    app_id = s.streams.app_id
    assert {f"{app_id}-{t}-changelog" for t in ("cases", "alert-owner", "early")} <= compacted
    assert {f"{app_id}-case-ops", f"{app_id}-early", s.topics.events} <= set(parts)
    assert parts[f"{app_id}-__assignor-__leader"] == 1
    assert {parts[t] for t in parts if not t.endswith("__leader")} == {s.topics.partitions}
    ensure_app_topics(s, app, Replication(1, 1))
    assert topic_partitions(s.kafka_bootstrap, list(parts)) == parts


def test_a_changelog_with_another_partition_count_stops_the_worker(settings_factory: Callable[..., Settings]) -> None:
    s, app = _runtime(settings_factory)
    early = f"{s.streams.app_id}-early-changelog"
    ensure_topics(s.kafka_bootstrap, [early], 1)
    with pytest.raises(SystemExit, match=f"{early} 1 \\(want {s.topics.partitions}\\)"):
        ensure_app_topics(s, app, Replication(1, 1))


def test_the_broker_probe_tells_a_live_broker_from_a_dead_port(kafka_bootstrap: str) -> None:
    assert Watchdog(kafka_bootstrap).reachable()
    assert not Watchdog(f"127.0.0.1:{free_port()}").reachable()
    assert Watchdog(f"127.0.0.1:{free_port()},{kafka_bootstrap}").reachable()  # one node of several
