"""The local broker manager against a real Kafka 4.3 broker of its own (not the shared one).

One broker is started for the module on a free port in a temporary data folder, so these
tests never touch the broker at FENGQIAO_KAFKA_BOOTSTRAP that other tests use.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker import cluster, local
from broker.local import BrokerError, BrokerInfo
from broker.topics import ensure_topics, wait_for_broker
from broker.wire import metadata_brokers

from tests.netutil import free_port, port_free

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("broker") / "kafka"
    yield data_dir
    local.stop(data_dir, grace=10)  # whatever a failing test left running


@pytest.fixture(scope="module")
def running(broker_dir: Path) -> BrokerInfo:
    return local.start(port=free_port(), data_dir=broker_dir, timeout=90)


def test_start_reports_a_live_broker(running: BrokerInfo, broker_dir: Path) -> None:
    assert metadata_brokers("127.0.0.1", running.port) == [(1, "127.0.0.1", running.port)]
    assert running.log_file.is_file() and running.log_file.parent == broker_dir
    assert (broker_dir / "server.properties").read_text().count("process.roles=broker,controller") == 1
    seen = local.status(broker_dir)
    assert seen is not None and (seen.pid, seen.port) == (running.pid, running.port)


def test_status_lists_the_single_broker_as_node_1(running: BrokerInfo, broker_dir: Path) -> None:
    assert [(n.node_id, n.pid, n.port, n.state) for n in cluster.status(broker_dir)] == [
        (1, running.pid, running.port, "running")]
    assert cluster.status(broker_dir.parent / "never-started") == []


def test_a_cluster_is_refused_in_a_single_broker_folder(running: BrokerInfo, broker_dir: Path) -> None:
    with pytest.raises(BrokerError) as err:
        cluster.start(3, free_port(), broker_dir, timeout=30)
    assert "\n" not in str(err.value) and "single-node broker" in str(err.value)
    assert not cluster.is_cluster(broker_dir)


def test_start_again_is_idempotent(running: BrokerInfo, broker_dir: Path) -> None:
    again = local.start(port=running.port, data_dir=broker_dir, timeout=30)
    assert (again.pid, again.port) == (running.pid, running.port)


def test_start_on_another_port_of_a_running_dir_is_refused(running: BrokerInfo, broker_dir: Path) -> None:
    with pytest.raises(BrokerError) as err:
        local.start(port=free_port(), data_dir=broker_dir, timeout=30)
    assert "\n" not in str(err.value) and str(running.port) in str(err.value)


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(BrokerError) as err:
            local.start(port=port, data_dir=tmp_path / "busy", timeout=30)
    message = str(err.value)
    assert "\n" not in message
    assert f"port {port}" in message and "in use" in message
    assert local.status(tmp_path / "busy") is None


def test_a_broker_dying_at_start_up_gives_its_reason(tmp_path: Path) -> None:
    data_dir = tmp_path / "broken"
    (data_dir / "kraft-logs").mkdir(parents=True)
    # storage formatted for another node id: Kafka refuses to start
    (data_dir / "kraft-logs" / "meta.properties").write_text(
        "version=1\nnode.id=2\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\ndirectory.id=BBBBBBBBBBBBBBBBBBBBBB\n")
    port = free_port()
    with pytest.raises(BrokerError) as err:
        local.start(port=port, data_dir=data_dir, timeout=60)
    message = str(err.value)
    assert "\n" not in message
    assert "exited during start-up" in message and "node id" in message
    assert local.status(data_dir) is None and port_free(port)


def test_a_broker_not_answering_in_time_is_stopped(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(BrokerError) as err:
        local.start(port=port, data_dir=tmp_path / "slow", timeout=0)
    message = str(err.value)
    assert "\n" not in message and f"did not answer on 127.0.0.1:{port}" in message
    assert local.status(tmp_path / "slow") is None and port_free(port)


def test_produce_consume_round_trip(running: BrokerInfo) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"broker-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(running.bootstrap, [topic], partitions=2)
    producer = KafkaProducer(bootstrap_servers=running.bootstrap, acks="all")
    try:
        producer.send(topic, key=b"k", value="枫桥 hello".encode()).get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=running.bootstrap, auto_offset_reset="earliest",
                             group_id=f"g-{topic}", consumer_timeout_ms=30000)
    try:
        got = next(iter(consumer), None)  # the first message, or None after 30 s of silence
    finally:
        consumer.close()
    assert got is not None and (got.key, got.value) == (b"k", "枫桥 hello".encode())


def test_ensure_topics_is_idempotent_and_compacts(running: BrokerInfo) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    base = f"ens-{uuid.uuid4().hex[:8]}"
    names, compacted = [f"{base}.events", f"{base}.alerts"], [f"{base}.cases"]
    ensure_topics(running.bootstrap, names, partitions=3, compacted=compacted)
    ensure_topics(running.bootstrap, names, partitions=3, compacted=compacted)  # no error
    admin = KafkaAdminClient(bootstrap_servers=running.bootstrap)
    try:
        described = {d["name"]: d for d in admin.describe_topics([*names, *compacted])}
        assert {n: len(d["partitions"]) for n, d in described.items()} == {n: 3 for n in [*names, *compacted]}
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, compacted[0]),
                                          ConfigResource(ConfigResourceType.TOPIC, names[0])])
    finally:
        admin.close()
    policy = {name: cfg.get("cleanup.policy", {}).get("value", "delete")
              for name, cfg in configs["topic"].items()}
    assert policy == {compacted[0]: "compact", names[0]: "delete"}


def test_wait_for_broker_times_out_with_one_line() -> None:
    port = free_port()
    with pytest.raises(TimeoutError) as err:
        wait_for_broker(f"127.0.0.1:{port}", timeout=0.5)
    assert "\n" not in str(err.value) and str(port) in str(err.value)


def test_stop_frees_the_port_and_status_is_none(running: BrokerInfo, broker_dir: Path) -> None:
    assert local.stop(broker_dir) is True
    assert port_free(running.port)
    assert metadata_brokers("127.0.0.1", running.port, timeout=1.0) is None
    assert local.status(broker_dir) is None
    assert not (broker_dir / "broker.json").exists()
    assert local.stop(broker_dir) is False
    assert [(n.node_id, n.port, n.state) for n in cluster.status(broker_dir)] == [(1, running.port, "stopped")]
    log = running.log_file.read_text("utf-8")
    assert "Beginning controlled shutdown" in log  # SIGTERM, not SIGKILL
    assert "[BrokerServer id=1] shut down completed" in log


def test_java_version_parsing() -> None:
    assert local._java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert local._java_major('java version "1.8.0_292"') == 8
    assert local._java_major('openjdk version "21" 2023-09-19') == 21
    assert local._java_major("no version here") is None
