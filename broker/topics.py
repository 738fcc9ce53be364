"""Topic administration with kafka-python: create what is missing, wait for a broker.

Idempotent on purpose: every part may call `ensure_topics` at start-up, in any order,
and a topic someone else just created is fine.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from broker.wire import metadata_brokers, parse_bootstrap

_TOPIC_ALREADY_EXISTS = 36


class TopicError(Exception):
    """A topic could not be created; str() is one line."""


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


def ensure_topics(bootstrap: str, names: list[str], partitions: int,
                  compacted: Iterable[str] = (), timeout: float = 30.0) -> None:
    """Create the topics of `names` (and `compacted`) that don't exist yet, replication 1.

    Topics in `compacted` get `cleanup.policy=compact`. Existing topics are left as they
    are (their partition count is not changed). Returns once every topic has leaders.
    """
    from kafka import KafkaAdminClient

    compacted = list(compacted)
    wanted = list(dict.fromkeys([*names, *compacted]))
    if not wanted:
        return
    wait_for_broker(bootstrap, timeout)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="fengqiao-topics",
                             request_timeout_ms=int(timeout * 1000))
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            spec = {
                t: {"num_partitions": partitions, "replication_factor": 1,
                    "configs": {"cleanup.policy": "compact"} if t in compacted else {}}
                for t in missing
            }
            result = admin.create_topics(spec, timeout_ms=int(timeout * 1000), raise_errors=False)
            failures = [f"{t.get('name')}: {t.get('error_message') or t.get('error_code')}"
                        for t in result.get("topics", [])
                        if t.get("error_code") not in (0, _TOPIC_ALREADY_EXISTS)]
            if failures:
                raise TopicError(f"创建主题失败 / could not create topics: {'; '.join(failures)}")
        _wait_for_leaders(admin, wanted, timeout)
    finally:
        admin.close()


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
