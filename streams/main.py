"""`fengqiao streams`: run one Faust worker with settings from the environment.

Topics are created up front with the configured partition count (the events topic and
the internal topics must be co-partitioned); faust's Worker handles SIGTERM/SIGINT with
a clean shutdown (commit offsets, flush the producer, close the stores).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fengqiao.settings import Settings

log = logging.getLogger("fengqiao.streams")


def ensure_topics(settings: Settings) -> None:
    """Create the contract and internal topics with `settings.topics.partitions` partitions."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    app_id = settings.streams.app_id
    n = settings.topics.partitions
    names = settings.all_topics() + [f"{app_id}-{x}" for x in ("case-ops", "alert-index", "stat-parts", "early")]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id=f"{app_id}-admin")
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(name, n, 1) for name in names if name not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
        meta = admin.describe_topics([settings.topics.events])
        parts = len(meta[0]["partitions"]) if meta else n
        if parts != n:
            raise SystemExit(
                f"error: topic {settings.topics.events} has {parts} partitions, settings say {n}: internal topics "
                f"must be co-partitioned / 事件主题分区数 {parts} 与配置 {n} 不一致")
    finally:
        admin.close()


def run_worker(settings: Settings, workdir: Path | None = None, web_port: int | None = None) -> None:
    import faust

    from streams.app import resolve_store
    from streams.runtime import build_runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ensure_topics(settings)
    rt = build_runtime(settings, workdir=workdir, web_port=web_port)
    rt.live = True
    log.info("streams: app %s, store %s, policy %s, web port %s", settings.streams.app_id,
             resolve_store(settings.streams.store), settings.streams.policy_profile, rt.app.conf.web_port)
    worker = faust.Worker(rt.app, loglevel="INFO", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
