"""Topic administration with kafka-python: the project's topics, each with its config,
created by one function every process calls at start-up (`ensure_project_topics`: the
streams worker, which adds its internal topics, the sink, the gateway, the simulator,
`fengqiao up`, the tests).

Idempotent on purpose: every part may call it in any order, and a topic someone else just
created is fine. Existing topics are left as they are (partitions, replication, configs).

Replication (issue 11): `settings.topics.replication_factor` / `min_insync_replicas`; unset,
the cluster's own configuration: its brokers' `default.replication.factor` and
`min.insync.replicas` where they were set (DescribeConfigs), else the count of registered
brokers, fenced ones included (1/1 for one, 2/1 for two, 3/2 for three or more,
`choose_replication`). Never the brokers alive now: a process starting while one of three
nodes is down must not create a topic with 2 copies. A missing topic whose copies the live
brokers cannot hold waits for them, then fails with a clear error. Producers use acks=all,
so a write is acknowledged only once `min.insync.replicas` copies hold it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from broker.wire import metadata_brokers, parse_bootstrap

if TYPE_CHECKING:
    from fengqiao.settings import Settings

_TOPIC_ALREADY_EXISTS = 36
INTERNAL_SUFFIXES = ("case-ops", "alert-index", "stat-parts", "early", "repeat", "beat")


class TopicError(Exception):
    """A topic could not be created; str() is one line."""


@dataclass(frozen=True)
class Replication:
    """Copies of each partition, and how many must hold a write before acks=all answers."""

    factor: int
    min_insync: int

    def topic_configs(self) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync)}

    @classmethod
    def from_settings(cls, settings: "Settings", brokers: int | None = None) -> "Replication":
        """From the settings; what they leave unset from `brokers` (unknown: one broker)."""
        t = settings.topics
        return choose_replication(brokers or t.replication_factor or 1, t.replication_factor, t.min_insync_replicas)


def choose_replication(brokers: int, factor: int | None = None, min_insync: int | None = None) -> Replication:
    """1/1 for one broker, 2/1 for two, 3/2 for three or more; `factor` / `min_insync` override."""
    if brokers < 1:
        raise TopicError(f"集群没有可用的 broker / the cluster reports no broker ({brokers})")
    from broker.cluster import copies  # the cluster's own rule, defined once

    default_f, default_m = copies(brokers)
    f = factor if factor is not None else default_f
    m = min_insync if min_insync is not None else (default_m if factor is None else max(1, f - 1))
    if f < 1 or m < 1:
        raise TopicError(f"副本数与最小同步副本数须为正 / replication factor {f} and min.insync.replicas {m} must be >= 1")
    if f > brokers:
        raise TopicError(f"副本数 {f} 超过 broker 数 {brokers} / replication factor {f} exceeds the {brokers} "
                         f"broker(s) of the cluster (set FENGQIAO_TOPICS__REPLICATION_FACTOR)")
    if m > f:
        raise TopicError(f"最小同步副本数 {m} 超过副本数 {f} / min.insync.replicas {m} exceeds the replication "
                         f"factor {f}: every acks=all write would fail")
    return Replication(f, m)


@dataclass(frozen=True)
class ClusterView:
    """What the cluster says of itself: brokers registered (fenced too) and up, and the copies its
    brokers' configuration asks for (None: left at Kafka's default)."""

    registered: int
    alive: int
    default_factor: int | None = None
    default_min_insync: int | None = None

    def replication(self, factor: int | None = None, min_insync: int | None = None) -> Replication:
        """The settings' values, else the cluster's configured ones, else from the registered count."""
        if factor is None and self.default_factor is not None:
            factor = self.default_factor
            min_insync = min_insync if min_insync is not None else self.default_min_insync
        return choose_replication(self.registered, factor, min_insync)


def describe_cluster(admin: object) -> ClusterView:
    """The registered and live brokers (DescribeCluster lists fenced ones) and the explicitly
    configured `default.replication.factor` / `min.insync.replicas` of a live one."""
    brokers = admin.describe_cluster().get("brokers") or []  # type: ignore[attr-defined]
    alive = [b for b in brokers if not b.get("is_fenced")]
    view = ClusterView(len(brokers), len(alive))
    if not alive:
        return view
    from kafka.admin import ConfigResource, ConfigResourceType

    keys = {"default.replication.factor": None, "min.insync.replicas": None}
    node = str(alive[0].get("broker_id", alive[0].get("node_id")))
    try:
        got = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, node, dict(keys))],  # type: ignore[attr-defined]
                                     config_filter="all")["broker"][node]
    except Exception:  # noqa: BLE001 - not authorised or an old broker: the registered count decides
        return view

    def configured(key: str) -> int | None:
        c = got.get(key) or {}
        return int(c["value"]) if c.get("value") and c.get("config_source") != "DEFAULT_CONFIG" else None

    return ClusterView(view.registered, view.alive, configured("default.replication.factor"),
                       configured("min.insync.replicas"))


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str]


def internal_topics(app_id: str) -> dict[str, str]:
    """The streams worker's internal, co-partitioned topics, by role."""
    return {x: f"{app_id}-{x}" for x in INTERNAL_SUFFIXES}


def project_topics(settings: "Settings", worker: bool = False) -> list[TopicSpec]:
    """Every topic the project uses, with its own config: the contract topics
    (`petitions.cases` compacted: one snapshot per case is what matters) and, for the streams
    worker (`worker`), its internal ones; all with `settings.topics.partitions` partitions.
    The internal topics are named after the worker's app id and must match its partition
    count, so only a worker creates them (a gateway with other settings would not)."""
    t = settings.topics
    names = settings.all_topics() + (list(internal_topics(settings.streams.app_id).values()) if worker else [])
    return [TopicSpec(n, t.partitions, {"cleanup.policy": "compact"} if n == t.cases else {}) for n in names]


def ensure_project_topics(settings: "Settings", timeout: float = 30.0, worker: bool = False) -> Replication:
    """Create the project's missing topics with their configs; returns the replication used.

    `worker` (the streams worker): its internal topics too, and refuse to go on when the
    events topic or an internal one has another partition count than the settings
    (co-partitioning)."""
    t = settings.topics
    specs = project_topics(settings, worker)
    rep = _ensure(settings.kafka_bootstrap, specs, t.replication_factor, t.min_insync_replicas, timeout)
    if worker:
        names = [t.events, *internal_topics(settings.streams.app_id).values()]
        wrong = {n: p for n, p in topic_partitions(settings.kafka_bootstrap, names, timeout).items()
                 if p != t.partitions}
        if wrong:
            listed = ", ".join(f"{n} {p}" for n, p in wrong.items())
            raise TopicError(f"主题分区数与配置 {t.partitions} 不一致 / topics with another partition count than the "
                             f"settings' {t.partitions} ({listed}): the worker's topics must be co-partitioned")
    return rep


def wait_for_broker(bootstrap: str, timeout: float = 60.0) -> None:
    """Block until one of the bootstrap servers answers a Metadata request.

    Raises TimeoutError (one line) when none answered within `timeout` seconds.
    """
    servers = parse_bootstrap(bootstrap)
    if not servers:
        raise ValueError(f"empty bootstrap address: {bootstrap!r}")
    deadline = time.monotonic() + timeout
    while True:
        for host, port in servers:
            if metadata_brokers(host, port, timeout=2.0):
                return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"Kafka 无响应 / no Kafka broker answered at {bootstrap} within {timeout:.0f} s")
        time.sleep(0.2)


def ensure_topics(bootstrap: str, names: list[str], partitions: int, compacted: Iterable[str] = (),
                  timeout: float = 30.0, replication_factor: int | None = None,
                  min_insync_replicas: int | None = None) -> Replication:
    """Create the topics of `names` (and `compacted`, with `cleanup.policy=compact`) that don't
    exist yet; the same creator as `ensure_project_topics`, for ad-hoc topic lists."""
    compacted = list(compacted)
    wanted = list(dict.fromkeys([*names, *compacted]))
    specs = [TopicSpec(n, partitions, {"cleanup.policy": "compact"} if n in compacted else {}) for n in wanted]
    return _ensure(bootstrap, specs, replication_factor, min_insync_replicas, timeout)


def _admin(bootstrap: str, timeout: float) -> object:
    from kafka import KafkaAdminClient

    wait_for_broker(bootstrap, timeout)
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="fengqiao-topics",
                            request_timeout_ms=int(timeout * 1000))


def _ensure(bootstrap: str, specs: list[TopicSpec], factor: int | None, min_insync: int | None,
            timeout: float) -> Replication:
    """The one creator: replication from the settings or the cluster's configuration, then every
    missing topic with its configs plus `min.insync.replicas`; returns once every topic has leaders."""
    admin = _admin(bootstrap, timeout)
    deadline = time.monotonic() + timeout
    try:
        view = describe_cluster(admin)
        rep = view.replication(factor, min_insync)
        if not specs:
            return rep
        existing = set(admin.list_topics())  # type: ignore[attr-defined]
        missing = [t for t in specs if t.name not in existing]
        if missing:
            while view.alive < rep.factor:  # wait for the nodes that are down, never fewer copies
                if time.monotonic() >= deadline:
                    raise TopicError(
                        f"集群配置每分区 {rep.factor} 副本，但 {view.registered} 个 broker 中仅 {view.alive} 个在线，"
                        f"暂不能创建主题 / the cluster keeps {rep.factor} copies per partition and only {view.alive} "
                        f"of its {view.registered} brokers are up: cannot create {', '.join(t.name for t in missing)} "
                        f"now (start the missing node, e.g. `fengqiao kafka start --data-dir ...`)")
                time.sleep(1.0)
                view = describe_cluster(admin)
            spec = {t.name: {"num_partitions": t.partitions, "replication_factor": rep.factor,
                             "configs": {**rep.topic_configs(), **t.configs}} for t in missing}
            result = admin.create_topics(spec, timeout_ms=int(timeout * 1000), raise_errors=False)  # type: ignore[attr-defined]
            failures = [f"{t.get('name')}: {t.get('error_message') or t.get('error_code')}"
                        for t in result.get("topics", [])
                        if t.get("error_code") not in (0, _TOPIC_ALREADY_EXISTS)]
            if failures:
                raise TopicError(f"创建主题失败 / could not create topics: {'; '.join(failures)}")
        _wait_for_leaders(admin, [t.name for t in specs], timeout)
        return rep
    finally:
        admin.close()  # type: ignore[attr-defined]


def topic_partitions(bootstrap: str, topics: list[str], timeout: float = 30.0) -> dict[str, int]:
    admin = _admin(bootstrap, timeout)
    try:
        return {d.get("topic") or d.get("name"): len(d.get("partitions") or [])
                for d in admin.describe_topics(topics)}  # type: ignore[attr-defined]
    finally:
        admin.close()  # type: ignore[attr-defined]


def _wait_for_leaders(admin: object, topics: list[str], timeout: float) -> None:
    """Until every partition of `topics` has a leader (producers then don't see UNKNOWN_TOPIC)."""
    deadline = time.monotonic() + timeout
    while True:
        described = admin.describe_topics(topics)  # type: ignore[attr-defined]
        ready = {
            d.get("topic") or d.get("name")
            for d in described
            if d.get("error_code", 0) == 0 and d.get("partitions")
            and all(p.get("leader", p.get("leader_id", -1)) >= 0 for p in d["partitions"])
        }
        if all(t in ready for t in topics):
            return
        if time.monotonic() >= deadline:
            missing = ", ".join(t for t in topics if t not in ready)
            raise TopicError(f"主题未就绪 / topics without leaders after {timeout:.0f} s: {missing}")
        time.sleep(0.2)
