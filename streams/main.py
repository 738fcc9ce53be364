"""`fengqiao streams`: run one Faust worker with settings from the environment.

Topics are created up front with the configured partition count (the events topic and
the internal topics must be co-partitioned); faust's Worker handles SIGTERM/SIGINT with
a clean shutdown (commit offsets, flush the producer, close the stores).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fengqiao import logs
from fengqiao.settings import Settings

if TYPE_CHECKING:
    from broker.topics import Replication

log = logging.getLogger("fengqiao.streams")


def ensure_topics(settings: Settings) -> "Replication":
    """The project's topics (`broker.topics.ensure_project_topics`), co-partitioned or refuse."""
    from broker.topics import TopicError, ensure_project_topics

    try:
        return ensure_project_topics(settings, worker=True)
    except TopicError as exc:
        raise SystemExit(f"error: {exc}") from exc


def run_worker(settings: Settings, workdir: Path | None = None, web_port: int | None = None) -> None:
    import faust

    from streams.app import resolve_store
    from streams.runtime import build_runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logs.install()

    class _Worker(faust.Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            logs.install()  # faust replaced the root handlers: an outage is logged once, then at a bounded rate

    replication = ensure_topics(settings)
    rt = build_runtime(settings, workdir=workdir, web_port=web_port, replication=replication)
    log.info("streams: app %s, store %s, policy %s, web port %s", settings.streams.app_id,
             resolve_store(settings.streams.store), settings.streams.policy_profile, rt.app.conf.web_port)
    worker = _Worker(rt.app, loglevel="INFO", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
