"""Shared fixtures.

The README's test command starts one real Kafka broker for the whole run and
exports `FENGQIAO_KAFKA_BOOTSTRAP`; integration tests use it (no mocks) and
isolate themselves with unique topic names (`settings_factory`).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator

import pytest

from fengqiao.settings import Settings, Topics

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def _broker_reachable(bootstrap: str) -> bool:
    host, _, port = bootstrap.partition(":")
    try:
        with socket.create_connection((host, int(port or 9092)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The broker the test command started; integration tests fail loudly without it."""
    bootstrap = os.environ.get("FENGQIAO_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    if not _broker_reachable(bootstrap):
        pytest.fail(f"no Kafka broker at {bootstrap}: run the tests through scripts/test.sh")
    return bootstrap


@pytest.fixture
def unique_topics() -> Topics:
    """Fresh topic names for one test, so tests never see each other's data."""
    tag = uuid.uuid4().hex[:8]
    return Topics(
        events=f"t{tag}.events",
        alerts=f"t{tag}.alerts",
        commands=f"t{tag}.commands",
        stats=f"t{tag}.stats",
        dlq=f"t{tag}.dlq",
        cases=f"t{tag}.cases",
        repeats=f"t{tag}.repeats",
        partitions=4,
    )


@pytest.fixture(scope="session")
def session_chdb_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """chDB allows ONE data path per process: the pytest process uses this one for
    the whole run, and tests isolate themselves by database name instead.
    A subprocess that owns a store (a sink, a wall) must get a path of its own."""
    return f"chdb://{tmp_path_factory.mktemp('chdb-session').resolve()}"


@pytest.fixture
def settings_factory(
    kafka_bootstrap: str, unique_topics: Topics, tmp_path: Path, session_chdb_url: str
) -> Callable[..., Settings]:
    """Build a Settings for this test: real broker, unique topics and database,
    own data dir, and the session's in-process chDB path."""
    database = "t_" + unique_topics.events.split(".")[0]

    def make(**overrides: object) -> Settings:
        base: dict[str, object] = {
            "kafka_bootstrap": kafka_bootstrap,
            "topics": unique_topics,
            "data_dir": tmp_path / "data",
            "clickhouse_url": session_chdb_url,
            "clickhouse_database": database,
        }
        base.update(overrides)
        return Settings(**base)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _contract_window_for_modelled_time() -> Iterator[None]:
    """In-process tests model their own time (fixed weeks of November 2026 and later), while the
    contract's default upper bound is the wall clock + 1 day. Here the window reaches far ahead;
    tests of the bound itself inject the default (`limits_in_effect(Limits())`). Subprocesses
    (workers, sinks, gateways) keep the real default."""
    from fengqiao.contract import Limits, limits_in_effect

    with limits_in_effect(Limits(ahead=timedelta(days=365 * 50))):
        yield
