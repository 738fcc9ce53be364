"""A local Kafka cluster: several combined KRaft nodes (broker + controller) on 127.0.0.1.

`start(nodes=3, port=P, data_dir=D)` runs node 1..3 with client ports P, P+1, P+2, each in
its own folder `D/node-<id>` (config, storage, log, pid, as a single broker has). The
controller ports are free ports picked at the first start and kept, with the shared
cluster id, in `D/cluster.json`: the quorum is static (`controller.quorum.voters`), so a
node always comes back on the same ports. Every topic, the internal ones included, gets
3 copies and `min.insync.replicas` 2 (server properties), so acks=all writes go on with
one node down. `start` again launches only the nodes that are not running.

A folder without `cluster.json` holds one broker (broker/local.py), exactly as before:
`status` and `stop` speak of it as node 1.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from broker import local
from broker.local import HOST, BrokerError, BrokerInfo, NodeConfig

CLUSTER_FILE = "cluster.json"
RUNNING, DEAD, STOPPED = "running", "dead", "stopped"


@dataclass(frozen=True)
class NodeStatus:
    """One node as `kafka status` shows it; `started`: this call launched it."""

    node_id: int
    port: int | None
    state: str  # running | dead (recorded pid gone: killed or crashed) | stopped
    pid: int | None = None
    controller_port: int | None = None
    log_file: Path | None = None
    started: bool = False

    def as_json(self) -> dict[str, object]:
        return {"node_id": self.node_id, "pid": self.pid, "port": self.port, "state": self.state,
                "controller_port": self.controller_port,
                "log_file": str(self.log_file) if self.log_file else None}


@dataclass(frozen=True)
class Layout:
    """What `cluster.json` records: the shared id and each node's ports."""

    cluster_id: str
    nodes: tuple[NodeConfig, ...]
    version: str

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{n.port}" for n in self.nodes)


def copies(nodes: int) -> tuple[int, int]:
    """Replication factor and min.insync.replicas of a cluster of `nodes`: 3/2 from three on."""
    factor = min(3, nodes)
    return factor, max(1, factor - 1)


def is_cluster(data_dir: Path) -> bool:
    return (Path(data_dir) / CLUSTER_FILE).is_file()


def node_dir(data_dir: Path, node_id: int) -> Path:
    return Path(data_dir) / f"node-{node_id}"


# ------------------------------------------------------------------ public API
def start(nodes: int | None, port: int | None, data_dir: Path, timeout: float = 120.0, *,
          heap: str = local.CLUSTER_HEAP, version: str = local.KAFKA_VERSION) -> list[NodeStatus]:
    """Start the missing nodes of the folder's cluster (creating it: `nodes` >= 2), or, in a
    folder of one broker and `nodes` unset or 1, that broker as broker/local.py does."""
    data_dir = Path(data_dir).resolve()
    if not is_cluster(data_dir) and (nodes or 1) == 1:
        info = local.start(port=port or 9092, data_dir=data_dir, timeout=timeout, version=version)
        return [_running(1, info)]
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerError(f"无法创建数据目录 / cannot create data folder {data_dir}: {exc.strerror}") from None
    with local.locked(data_dir / ".lock"):
        layout = _layout(data_dir, nodes, port, version)
        with ExitStack() as locks:
            for n in layout.nodes:
                node_dir(data_dir, n.node_id).mkdir(exist_ok=True)
                locks.enter_context(local.locked(node_dir(data_dir, n.node_id) / ".lock"))
            return _start_missing(data_dir, layout, timeout, heap)


def status(data_dir: Path) -> list[NodeStatus]:
    """Every node of the folder (a folder of one broker: node 1); [] if nothing was ever set up."""
    data_dir = Path(data_dir).resolve()
    layout = _read_layout(data_dir)
    if layout is None:
        if local.configured_port(data_dir) is None and local.recorded(data_dir) is None:
            return []
        controller = local.read_json(data_dir / "ports.json").get("controller_port")
        return [_node_status(1, data_dir, local.configured_port(data_dir), controller)]
    return [_node_status(n.node_id, node_dir(data_dir, n.node_id), n.port, n.controller_port)
            for n in layout.nodes]


def stop(data_dir: Path, grace: float = local.STOP_GRACE_SECONDS) -> int:
    """Stop every node: SIGTERM to all at once (each shuts down while the quorum still stands),
    SIGKILL after `grace` s. Returns how many were running."""
    data_dir = Path(data_dir).resolve()
    layout = _read_layout(data_dir)
    if layout is None:
        return int(local.stop(data_dir, grace=grace))
    with local.locked(data_dir / ".lock"):
        dirs = [node_dir(data_dir, n.node_id) for n in layout.nodes]
        running = [(d, info) for d in dirs if (info := local.status(d)) is not None]
        deadline = time.monotonic() + grace
        for _, info in running:
            local.signal_stop(info.pid)
        for d, info in running:
            local.terminate(info.pid, grace=max(0.0, deadline - time.monotonic()))
        for d in dirs:
            local.clear_state(d)
        for _, info in running:
            local.wait_port_released(info.port, 5.0)
        return len(running)


# ------------------------------------------------------------------ internals
def _start_missing(data_dir: Path, layout: Layout, timeout: float, heap: str) -> list[NodeStatus]:
    java = local.find_java()
    libs = local.ensure_jars(layout.version)
    result: dict[int, NodeStatus] = {}
    missing: list[NodeConfig] = []
    for n in layout.nodes:
        folder = node_dir(data_dir, n.node_id)
        info = local.status(folder)
        if info is not None:
            result[n.node_id] = _running(n.node_id, info)
            continue
        local.clear_state(folder)
        local.check_port_free(n.port)
        if not local.port_free(n.controller_port):
            raise BrokerError(f"控制器端口 {n.controller_port} 已被占用 / controller port {n.controller_port} of "
                              f"node {n.node_id} is in use (recorded in {data_dir / CLUSTER_FILE}); stop what "
                              f"listens there, or start a new cluster in another --data-dir")
        missing.append(n)
    launched: list[tuple[NodeConfig, BrokerInfo]] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(missing))) as pool:  # format + launch side by side
            futures = [(n, pool.submit(local.launch_node, java, libs, node_dir(data_dir, n.node_id), n,
                                       layout.cluster_id, layout.version, heap)) for n in missing]
            errors = []
            for n, fut in futures:
                try:
                    launched.append((n, fut.result()))
                except Exception as exc:  # BrokerError, or an OSError writing its folder
                    errors.append(exc)
            if errors:
                raise errors[0]
        deadline = time.monotonic() + timeout
        for n, info in launched:  # all launched first: no node can start before a quorum exists
            local.wait_ready(info, max(1.0, deadline - time.monotonic()), brokers=len(layout.nodes))
            result[n.node_id] = _running(n.node_id, info, started=True)
    except BaseException:  # leave no half-started node; the ones already running stay
        for n, info in launched:
            local.terminate(info.pid, grace=5.0)
            local.clear_state(node_dir(data_dir, n.node_id))
        raise
    return [result[n.node_id] for n in layout.nodes]


def _layout(data_dir: Path, nodes: int | None, port: int | None, version: str) -> Layout:
    """The recorded layout (checked against the options), or a new one written to cluster.json."""
    layout = _read_layout(data_dir)
    if layout is not None:
        if nodes is not None and nodes != len(layout.nodes):
            raise BrokerError(f"该目录的集群有 {len(layout.nodes)} 个节点 / the cluster of {data_dir} has "
                              f"{len(layout.nodes)} nodes, not {nodes}; use another --data-dir")
        if port is not None and port != layout.nodes[0].port:
            raise BrokerError(f"该目录的集群使用端口 {layout.nodes[0].port} 起 / the cluster of {data_dir} uses "
                              f"ports from {layout.nodes[0].port}, not {port}; omit --port or use another --data-dir")
        return layout
    if (data_dir / "kraft-logs").exists() or local.configured_port(data_dir) is not None:
        raise BrokerError(f"该目录是单节点 broker / {data_dir} holds a single-node broker; "
                          f"use another --data-dir for a cluster of {nodes}")
    count, first = nodes or 1, port or 9092
    if count < 2:
        raise BrokerError(f"集群至少 2 个节点 / a cluster needs at least 2 nodes, not {count}")
    if first + count - 1 > 65535:
        raise BrokerError(f"端口无效 / invalid ports {first}..{first + count - 1}")
    clients = [first + i for i in range(count)]
    for p in clients:
        local.check_port_free(p)
    controllers: list[int] = []
    while len(controllers) < count:
        p = local.free_port()
        if p not in clients and p not in controllers:
            controllers.append(p)
    voters = ",".join(f"{i + 1}@{HOST}:{c}" for i, c in enumerate(controllers))
    factor, min_insync = copies(count)
    layout = Layout(local.new_cluster_id(), tuple(
        NodeConfig(port=clients[i], controller_port=controllers[i], node_id=i + 1, voters=voters,
                   replication=factor, min_insync=min_insync) for i in range(count)), version)
    record = {"cluster_id": layout.cluster_id, "version": version, "replication_factor": factor,
              "min_insync_replicas": min_insync,
              "nodes": [{"node_id": n.node_id, "port": n.port, "controller_port": n.controller_port}
                        for n in layout.nodes]}
    tmp = data_dir / f".{CLUSTER_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=2), "utf-8")
    tmp.replace(data_dir / CLUSTER_FILE)
    return layout


def _read_layout(data_dir: Path) -> Layout | None:
    raw = local.read_json(Path(data_dir) / CLUSTER_FILE)
    try:
        rows = [(int(n["node_id"]), int(n["port"]), int(n["controller_port"])) for n in raw["nodes"]]
        cluster_id, version = str(raw["cluster_id"]), str(raw.get("version", local.KAFKA_VERSION))
    except (KeyError, TypeError, ValueError):
        return None
    factor, min_insync = copies(len(rows))
    voters = ",".join(f"{i}@{HOST}:{c}" for i, _, c in rows)
    return Layout(cluster_id, tuple(NodeConfig(port=p, controller_port=c, node_id=i, voters=voters,
                                               replication=factor, min_insync=min_insync)
                                    for i, p, c in rows), version)


def read_bootstrap(data_dir: Path) -> str | None:
    """`host:port,...` of the folder's cluster (None: not a cluster)."""
    layout = _read_layout(Path(data_dir).resolve())
    return layout.bootstrap if layout else None


def _running(node_id: int, info: BrokerInfo, started: bool = False) -> NodeStatus:
    return NodeStatus(node_id, info.port, RUNNING, info.pid, info.controller_port or None, info.log_file, started)


def _node_status(node_id: int, folder: Path, port: int | None, controller_port: int | None) -> NodeStatus:
    info = local.status(folder)
    if info is not None:
        return _running(node_id, info)
    rec = local.recorded(folder)
    if rec is not None:  # recorded as started, its process gone
        return NodeStatus(node_id, rec.port, DEAD, rec.pid, rec.controller_port or controller_port, rec.log_file)
    log = folder / "broker.log"
    return NodeStatus(node_id, port, STOPPED, None, controller_port, log if log.is_file() else None)
