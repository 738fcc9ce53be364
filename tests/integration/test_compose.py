"""docker/docker-compose.yml as Compose itself reads it, without a Docker engine: Debian's
`docker-compose` (1.29.2: `apt-get install docker-compose`, scripts/test.sh does it as root) and the
`docker compose` plugin where installed, each skipped with the reason when absent. Plus what needs
no binary: no secret in the compose file, and the ClickHouse cluster definition matches the
settings the services get (cluster name, macros, Keeper host)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
KAFKA = ("kafka-1", "kafka-2", "kafka-3")
APPS = ("streams-1", "streams-2", "sink-1", "sink-2", "wall", "gateway", "simulate")
SECRETS = ("FENGQIAO_PII_KEY", "FENGQIAO_COMMAND_KEY", "FENGQIAO_GATEWAY__API_KEYS", "CLICKHOUSE_PASSWORD",
           "FENGQIAO_CLICKHOUSE_URL")


def _compose_argv(which: str) -> list[str]:
    if which == "docker-compose":
        exe = shutil.which("docker-compose")
        if exe is None:
            pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
        return [exe]
    exe = shutil.which("docker")
    if exe is None:
        pytest.skip("docker is not installed")
    probe = subprocess.run([exe, "compose", "version"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"`docker compose` is not available (no compose plugin): {probe.stderr.strip()[:120]}")
    return [exe, "compose"]


@pytest.fixture(params=["docker-compose", "docker compose"])
def config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """`<compose> config` of the file with the env-file example standing in for the real secrets."""
    yaml = pytest.importorskip("yaml")
    argv = _compose_argv(request.param)
    env = {**os.environ, "FENGQIAO_ENV_FILE": ".env.example"}
    out = subprocess.run([*argv, "-f", str(COMPOSE), "config"], cwd=DOCKER, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(yaml.safe_load(out.stdout))


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {k: str(v) for k, v in env.items()}


def test_compose_accepts_the_file_with_three_kafka_nodes_two_workers_two_sinks(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(KAFKA + APPS + ("keeper", "clickhouse")) <= set(services)
    nodes = [_env(services[k]) for k in KAFKA]
    assert sorted(n["KAFKA_NODE_ID"] for n in nodes) == ["1", "2", "3"]
    assert len({n["KAFKA_CONTROLLER_QUORUM_VOTERS"] for n in nodes}) == 1
    assert len({n["CLUSTER_ID"] for n in nodes}) == 1
    assert {n["KAFKA_ADVERTISED_LISTENERS"] for n in nodes} == {f"PLAINTEXT://{k}:9092" for k in KAFKA}
    for name in APPS:
        env = _env(services[name])
        assert env["FENGQIAO_KAFKA_BOOTSTRAP"] == ",".join(f"{k}:9092" for k in KAFKA)
        assert env["FENGQIAO_CLICKHOUSE__CLUSTER"] == "fengqiao"
        assert "FENGQIAO_SINK__GROUP_ID" not in env and "FENGQIAO_STREAMS__APP_ID" not in env  # one group each
    assert services["sink-1"]["command"] == services["sink-2"]["command"] == ["sink"]
    assert services["streams-1"]["command"] == services["streams-2"]["command"] == ["streams"]


def test_no_secret_is_written_in_the_compose_file() -> None:
    text = COMPOSE.read_text("utf-8")
    for name in SECRETS:
        assert not re.search(rf"^\s*-?\s*{name}\s*[:=]", text, re.M), name
    example = (DOCKER / ".env.example").read_text("utf-8")
    assert all(f"{name}=<" in example or f"{name}='" in example or f"{name}=http://fengqiao:<" in example
               for name in SECRETS)


def test_the_cluster_definition_matches_the_services() -> None:
    root = ET.parse(DOCKER / "clickhouse" / "cluster.xml").getroot()
    cluster = root.find("remote_servers/fengqiao")
    assert cluster is not None  # the name the services get as FENGQIAO_CLICKHOUSE__CLUSTER
    replica = cluster.find("shard/replica")
    assert replica is not None and replica.findtext("host") == "clickhouse"
    assert replica.find("password").get("from_env") == "CLICKHOUSE_PASSWORD"  # type: ignore[union-attr]
    assert root.findtext("macros/shard") and root.findtext("macros/replica")
    assert root.findtext("zookeeper/node/host") == "keeper"
    keeper = ET.parse(DOCKER / "clickhouse" / "keeper.xml").getroot()
    assert keeper.findtext("keeper_server/tcp_port") == root.findtext("zookeeper/node/port")
