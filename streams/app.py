"""Build the Faust app (nothing else here: agents, tables and views register on it).

At-least-once processing (faust's `exactly_once` has open duplicate bugs, DESIGN.md
section 5); every consumer downstream is idempotent by `event_id` / `dedup_key`.
"""

from __future__ import annotations

from pathlib import Path

import faust

from fengqiao.settings import Settings
from streams import faust_fixes


def rocksdb_available() -> bool:
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_store(wanted: str) -> str:
    """`rocksdb://` when rocksdict is installed, else `memory://` (changelog recovery still works)."""
    if wanted.startswith("rocksdb") and not rocksdb_available():
        return "memory://"
    return wanted


def build_app(settings: Settings, workdir: Path | None = None, web_port: int | None = None,
              store: str | None = None, replication_factor: int = 1) -> faust.App:
    s = settings.streams
    faust_fixes.before_build()
    datadir = workdir or (settings.data_dir / "streams" / s.app_id)
    Path(datadir).parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = faust.App(
        s.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=resolve_store(store or s.store),
        datadir=str(datadir),
        autodiscover=False,
        processing_guarantee="at_least_once",
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=replication_factor,  # of the topics faust creates (changelogs)
        topic_allow_declare=True,
        web_enabled=True,
        web_port=web_port or s.web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        broker_commit_every=10000,  # commits go by the 1 s interval (each flushes the producer)
        broker_commit_interval=1.0,
        stream_buffer_maxsize=4096,
        producer_linger=0.02,  # fewer, larger produce requests; alert p99 stays far below 1 s
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        producer_max_batch_size=256 * 1024,
        table_standby_replicas=0,
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,  # acks=all: a write counts once min.insync.replicas copies hold it
    )
    faust_fixes.install(app)
    return app
