"""`fengqiao streams`: run one Faust worker with settings from the environment.

Topics are created up front with the configured partition count (the events topic and
the internal topics must be co-partitioned); then, once the app is built and before any
agent starts, every topic it consumes or declares, faust's table changelogs and its
assignor topic included, is checked to exist with its partitions and leaders, created
when missing (issue 13: a worker once found the `early` changelog with 0 partitions and
never processed case-ops). faust's Worker handles SIGTERM/SIGINT with a clean shutdown
(commit offsets, flush the producer, close the stores). A stream that has not started
within a minute is reported on /health/; still so after three (`streams.watchdog`), it stops
the worker the same way and it exits with status 3, for its supervisor to start a fresh one.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fengqiao import logs
from fengqiao.settings import Settings
from streams import watchdog

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


def app_topics(app: Any) -> tuple[dict[str, int], set[str]]:
    """Every topic the built app consumes or declares with its partition count, and which of
    them are compacted (the tables' changelogs); the assignor's leader topic has one partition."""
    n = app.conf.topic_partitions
    parts: dict[str, int] = {}
    for agent in app.agents.values():
        for name in getattr(agent.channel, "topics", ()):
            parts[name] = getattr(agent.channel, "partitions", None) or n
    compacted = set()
    for table in app.tables.values():
        name = table.changelog_topic.get_topic_name()
        parts[name] = table.partitions or n
        compacted.add(name)
    parts[f"{app.conf.id}-__assignor-__leader"] = 1
    return parts, compacted


def ensure_app_topics(settings: Settings, app: Any, replication: "Replication", timeout: float = 60.0) -> None:
    """Create what `app_topics` lists and is missing, then refuse to start when one has another
    partition count. 0 (a broker whose metadata does not have a new topic yet: KRaft propagates
    it to each broker on its own) is asked again until `timeout`, then refused too."""
    from broker.topics import TopicError, ensure_topics, topic_partitions

    parts, compacted = app_topics(app)
    try:
        for count in sorted(set(parts.values())):
            names = [t for t, c in parts.items() if c == count]
            ensure_topics(settings.kafka_bootstrap, names, count, [t for t in names if t in compacted], timeout,
                          replication.factor, replication.min_insync)
        deadline = time.monotonic() + timeout
        while True:  # a broker other than the controller may not know a new topic yet: 0 partitions
            seen = topic_partitions(settings.kafka_bootstrap, list(parts), timeout)
            if all(seen.get(t, 0) for t in parts) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    except (TopicError, TimeoutError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    wrong = {t: seen.get(t, 0) for t, c in parts.items() if seen.get(t, 0) != c}
    if wrong:
        listed = ", ".join(f"{t} {c} (want {parts[t]})" for t, c in wrong.items())
        raise SystemExit(f"error: 主题分区数不对 / topics of the worker with the wrong partition count: {listed}")


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
    ensure_app_topics(settings, rt.app, replication)
    log.info("streams: app %s, store %s, policy %s, web port %s", settings.streams.app_id,
             resolve_store(settings.streams.store), settings.streams.policy_profile, rt.app.conf.web_port)
    worker = _Worker(rt.app, loglevel="INFO", quiet=True, redirect_stdouts=False)
    stalled: list[object] = []
    wd = watchdog.of(rt.app)
    if wd is not None:
        def _restart(stalls: list[watchdog.Stall]) -> None:
            if not stalled:
                stalled.extend(stalls)
                os.kill(os.getpid(), signal.SIGTERM)  # faust's clean shutdown: commit, flush, close

        wd.on_stall = _restart
    try:
        worker.execute_from_commandline()
    except SystemExit:
        if stalled:
            raise SystemExit(watchdog.EXIT_STALLED) from None
        raise
