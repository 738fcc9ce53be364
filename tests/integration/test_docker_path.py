"""The Docker path: the same sink round-trip against testcontainers' Kafka and ClickHouse.

Runs only where a Docker engine is reachable and FENGQIAO_TEST_DOCKER=1; these
machines have no engine, so here it is skipped with that reason.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def _docker_reason() -> str | None:
    if os.environ.get("FENGQIAO_TEST_DOCKER") != "1":
        return "FENGQIAO_TEST_DOCKER is not 1 (the Docker path is opt-in)"
    try:
        import docker  # testcontainers' dependency

        docker.from_env().ping()
    except Exception as exc:  # no engine, no socket, no permission
        return f"no reachable Docker engine: {exc.__class__.__name__}"
    return None


@pytest.mark.skipif(_docker_reason() is not None, reason=_docker_reason() or "")
def test_events_land_in_clickhouse_server_via_testcontainers(unique_topics) -> None:
    from testcontainers.clickhouse import ClickHouseContainer
    from testcontainers.kafka import KafkaContainer

    from fengqiao.settings import Settings
    from producers.kafka_out import produce_events
    from producers.simulator import generate_events
    from sinks.runner import run_sink
    from sinks.store import get_client

    with KafkaContainer("apache/kafka:4.3.0") as kafka, ClickHouseContainer("clickhouse/clickhouse-server:25.8") as ch:
        url = ch.get_connection_url().replace("clickhouse://", "http://").replace(":9000", ":8123")
        settings = Settings(kafka_bootstrap=kafka.get_bootstrap_server(), clickhouse_url=url, topics=unique_topics)
        events = generate_events(seed=3, count=300)
        produce_events(settings, events)
        stop = threading.Event()
        worker = threading.Thread(target=run_sink, args=(settings, stop), daemon=True)
        worker.start()
        client = get_client(settings)
        deadline = time.monotonic() + 120
        n = 0
        while time.monotonic() < deadline:
            try:
                n = client.query("SELECT uniqExact(event_id) FROM fengqiao.events").result_rows[0][0]
            except Exception:
                n = 0
            if n == len(events):
                break
            time.sleep(1)
        stop.set()
        worker.join(30)
        assert n == len(events)
