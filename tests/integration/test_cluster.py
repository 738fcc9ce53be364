"""A local 3-node KRaft cluster through the CLI (`fengqiao kafka start --nodes 3`), on its own
free ports in a temporary folder: never the broker at FENGQIAO_KAFKA_BOOTSTRAP.

One test walks the life of the cluster, since each step needs the one before: three nodes
run; a project topic gets 3 copies and min.insync.replicas 2; acks=all writes and reads go
on after one node is SIGKILLed; status calls it dead; with that node down (fenced) a missing
topic is not created with fewer copies (the cluster's config says 3, not the live count); `kafka
start` brings back that node only, and the topic then gets its 3 copies; `kafka stop` stops all. The nodes are stopped in the fixture's teardown whatever fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker import cluster
from broker.topics import TopicError, _admin, describe_cluster, ensure_project_topics
from fengqiao.settings import Settings, StreamsSettings, Topics
from tests.netutil import port_free, three_free_ports

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

# what every node's server properties say, the internal topics included (issue 13)
CLUSTER_CONFIG = {"default.replication.factor": "3", "min.insync.replicas": "2",
                  "offsets.topic.replication.factor": "3", "transaction.state.log.replication.factor": "3",
                  "transaction.state.log.min.isr": "2", "share.coordinator.state.topic.replication.factor": "3"}


def _cli(data_home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FENGQIAO_DATA_DIR": str(data_home)}
    return subprocess.run([sys.executable, "-m", "fengqiao.cli", "kafka", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _nodes(data_home: Path, folder: Path) -> dict[int, dict]:
    out = _cli(data_home, "status", "--data-dir", str(folder), "--json")
    return {n["node_id"]: n for n in json.loads(out.stdout)["nodes"]}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "kafka-3"
    yield data_dir
    cluster.stop(data_dir, grace=15)  # whatever a failing step left running


def _round_trip(bootstrap: str, topic: str, tag: str, count: int = 20) -> None:
    """`count` acks=all writes, then a fresh consumer group reads every one of them back."""
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=20, request_timeout_ms=30000)
    try:
        for f in [producer.send(topic, key=f"{tag}-{i}".encode(), value=f"枫桥 {tag} {i}".encode())
                  for i in range(count)]:
            f.get(timeout=90)  # after a kill: until the dead node's partitions have new leaders
    finally:
        producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=f"g-{tag}-{uuid.uuid4().hex[:6]}", consumer_timeout_ms=60000)
    try:
        seen = set()
        for msg in consumer:
            if msg.key.decode().startswith(f"{tag}-"):
                seen.add(msg.key)
            if len(seen) == count:
                break
    finally:
        consumer.close()
    assert len(seen) == count


def _describe(bootstrap: str, topic: str) -> tuple[list[dict], dict[str, str], dict[str, str]]:
    """The topic's partitions, its min.insync.replicas, and node 1's broker settings."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        parts = admin.describe_topics([topic])[0]["partitions"]
        got = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, ["min.insync.replicas"]),
                                      ConfigResource(ConfigResourceType.BROKER, "1", list(CLUSTER_CONFIG))],
                                     config_filter="all")
    finally:
        admin.close()
    topic_cfg = {k: v["value"] for k, v in got["topic"][topic].items()}
    broker_cfg = {k: v["value"] for k, v in got["broker"]["1"].items()}
    return parts, topic_cfg, broker_cfg


def _settings(bootstrap: str, home: Path, tag: str) -> Settings:
    return Settings(kafka_bootstrap=bootstrap, data_dir=home,
                    topics=Topics(**{k: f"c{tag}.{k}" for k in
                                     ("events", "alerts", "commands", "stats", "dlq", "cases", "audit")},
                                  partitions=3),
                    streams=StreamsSettings(app_id=f"c{tag}"))


def _topics(bootstrap: str) -> set[str]:
    admin = _admin(bootstrap, 30)
    try:
        return set(admin.list_topics())  # type: ignore[attr-defined]
    finally:
        admin.close()  # type: ignore[attr-defined]


def _wait_fenced(bootstrap: str, timeout: float = 60) -> None:
    """Until the controller fenced the killed node (its session timed out): 3 registered, 2 up."""
    admin = _admin(bootstrap, 30)
    try:
        deadline = time.monotonic() + timeout
        while (view := describe_cluster(admin)).alive > 2:
            assert time.monotonic() < deadline, view
            time.sleep(0.5)
        assert (view.registered, view.default_factor, view.default_min_insync) == (3, 3, 2)
    finally:
        admin.close()  # type: ignore[attr-defined]


def test_three_nodes_survive_one_killed_and_restart_only_it(folder: Path, tmp_path: Path) -> None:
    home, port = tmp_path / "data", three_free_ports()
    t0 = time.monotonic()
    out = _cli(home, "start", "--nodes", "3", "--port", str(port), "--data-dir", str(folder), "--timeout", "180")
    assert out.returncode == 0, out.stderr
    started_s = time.monotonic() - t0
    nodes = _nodes(home, folder)
    assert {i: (n["port"], n["state"]) for i, n in nodes.items()} == {
        1: (port, "running"), 2: (port + 1, "running"), 3: (port + 2, "running")}
    bootstrap = cluster.read_bootstrap(folder)
    assert bootstrap == f"127.0.0.1:{port},127.0.0.1:{port + 1},127.0.0.1:{port + 2}"

    settings = _settings(bootstrap, home, uuid.uuid4().hex[:8])
    rep = ensure_project_topics(settings)
    assert (rep.factor, rep.min_insync) == (3, 2)
    topic = settings.topics.events
    parts, topic_cfg, broker_cfg = _describe(bootstrap, topic)
    assert [sorted(p["replica_nodes"]) for p in parts] == [[1, 2, 3]] * 3
    assert topic_cfg["min.insync.replicas"] == "2"
    assert {k: broker_cfg.get(k) for k in CLUSTER_CONFIG} == CLUSTER_CONFIG
    _round_trip(bootstrap, topic, "before")

    victim = nodes[2]["pid"]
    os.kill(victim, signal.SIGKILL)
    t_kill = time.monotonic()
    _round_trip(bootstrap, topic, "after-kill")  # 2 of 3 copies in sync: acks=all still answers
    recovered_s = time.monotonic() - t_kill
    after = _nodes(home, folder)
    assert after[2]["state"] == "dead" and after[2]["pid"] == victim
    assert [after[i]["state"] for i in (1, 3)] == ["running", "running"]
    assert _cli(home, "status", "--data-dir", str(folder)).returncode == 1  # not every node runs

    late = _settings(bootstrap, home, uuid.uuid4().hex[:8])  # a process starting while node 2 is down
    _wait_fenced(bootstrap)
    with pytest.raises(TopicError, match="only 2 of its 3 brokers are up"):
        ensure_project_topics(late, timeout=3)
    assert late.topics.events not in _topics(bootstrap)  # not created with 2 copies either

    t1 = time.monotonic()
    out = _cli(home, "start", "--data-dir", str(folder), "--timeout", "180")
    assert out.returncode == 0, out.stderr
    restart_s = time.monotonic() - t1
    assert [ln.split(":")[1].split()[0] for ln in out.stdout.splitlines() if ln.startswith("node ")] == [
        "already", "started", "already"]
    again = _nodes(home, folder)
    assert all(n["state"] == "running" for n in again.values())
    assert (again[1]["pid"], again[3]["pid"]) == (nodes[1]["pid"], nodes[3]["pid"])
    assert again[2]["pid"] != victim and again[2]["port"] == port + 1
    _round_trip(bootstrap, topic, "after-restart")
    assert ensure_project_topics(late) == rep
    assert [sorted(p["replica_nodes"]) for p in _describe(bootstrap, late.topics.events)[0]] == [[1, 2, 3]] * 3

    t2 = time.monotonic()
    out = _cli(home, "stop", "--data-dir", str(folder))
    stop_s = time.monotonic() - t2
    assert out.returncode == 0 and out.stdout.strip() == "kafka stopped"
    assert all(n["state"] == "stopped" for n in _nodes(home, folder).values())
    assert all(port_free(p) for p in (port, port + 1, port + 2))
    print(f"cluster: start {started_s:.1f} s, acks=all again {recovered_s:.1f} s after SIGKILL, "
          f"restart of one node {restart_s:.1f} s, stop {stop_s:.1f} s")
