"""The local cluster's bookkeeping without a JVM: what `cluster.json` records, what a start
with other options is told, and how a node whose process is gone is reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from broker import cluster
from broker.local import BrokerError

pytestmark = pytest.mark.unit


def _record(folder: Path, port: int = 41000, nodes: int = 3) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"node_id": i + 1, "port": port + i, "controller_port": 42000 + i} for i in range(nodes)]
    (folder / cluster.CLUSTER_FILE).write_text(json.dumps({"cluster_id": "AAAAAAAAAAAAAAAAAAAAAA", "nodes": rows}))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_three_nodes_keep_three_copies_two_in_sync() -> None:
    assert [cluster.copies(n) for n in (1, 2, 3, 5)] == [(1, 1), (2, 1), (3, 2), (3, 2)]


def test_the_recorded_layout_is_a_static_quorum_of_every_node(tmp_path: Path) -> None:
    _record(tmp_path)
    assert cluster.read_bootstrap(tmp_path) == "127.0.0.1:41000,127.0.0.1:41001,127.0.0.1:41002"
    layout = cluster._read_layout(tmp_path)
    assert layout is not None
    assert {n.voters for n in layout.nodes} == {"1@127.0.0.1:42000,2@127.0.0.1:42001,3@127.0.0.1:42002"}
    assert [(n.node_id, n.replication, n.min_insync) for n in layout.nodes] == [(1, 3, 2), (2, 3, 2), (3, 3, 2)]
    assert layout.nodes[0].quorum.startswith("controller.quorum.voters=")


@pytest.mark.parametrize(("nodes", "port", "says"), [(2, None, "has 3 nodes, not 2"), (1, None, "not 1"),
                                                      (None, 45000, "ports from 41000, not 45000")])
def test_other_options_on_a_recorded_cluster_are_one_clear_line(tmp_path: Path, nodes: int | None,
                                                                port: int | None, says: str) -> None:
    _record(tmp_path)
    with pytest.raises(BrokerError) as err:
        cluster.start(nodes, port, tmp_path)
    assert "\n" not in str(err.value) and says in str(err.value)


def test_ports_beyond_the_range_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BrokerError) as err:
        cluster.start(3, 65534, tmp_path / "c")
    assert "invalid ports 65534..65536" in str(err.value)
    assert not cluster.is_cluster(tmp_path / "c")


def test_a_node_whose_process_is_gone_is_dead_the_others_stopped(tmp_path: Path) -> None:
    _record(tmp_path)
    node2 = cluster.node_dir(tmp_path, 2)
    node2.mkdir()
    pid = _dead_pid()
    (node2 / "broker.json").write_text(json.dumps({"port": 41001, "pid": pid, "log_file": str(node2 / "broker.log"),
                                                   "controller_port": 42001, "data_dir": str(node2)}))
    rows = [n.as_json() for n in cluster.status(tmp_path)]
    assert [(r["node_id"], r["pid"], r["port"], r["state"]) for r in rows] == [
        (1, None, 41000, "stopped"), (2, pid, 41001, "dead"), (3, None, 41002, "stopped")]
    assert cluster.stop(tmp_path) == 0
    assert not (node2 / "broker.json").exists()  # stop forgets the dead one
