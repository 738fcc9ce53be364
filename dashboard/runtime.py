"""What the Streamlit app shares across sessions: settings and the embedded sink.

`serve()` passes the settings through `FENGQIAO_*` variables; the app builds
its frozen `Settings` from them. In embedded mode (chDB, `wall.embedded_sink`)
this process owns the store and runs the sink in a background thread,
started once per process when the server starts (`dashboard.launch`); the queries
and the sink share one client, serialised by `sinks.store.store_lock()`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from fengqiao.settings import Settings

log = logging.getLogger("fengqiao.wall")


def settings() -> Settings:
    """Settings from the environment (cheap; not cached so tests can vary them)."""
    return Settings()


@dataclass
class SinkHandle:
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    error: str = ""


def _run(settings: Settings, handle: SinkHandle) -> None:
    try:
        from sinks.runner import run_sink

        run_sink(settings, handle.stop, handle.ready)
    except Exception as exc:  # the wall keeps serving and shows the banner
        handle.error = f"{type(exc).__name__}: {exc}"
        log.exception("embedded sink stopped")


_SINKS: dict[str, SinkHandle] = {}
_SINKS_LOCK = threading.Lock()


def embedded_sink(url: str, settings: Settings) -> SinkHandle:
    """Start the in-process sink once per process and store URL. A module-level registry, not
    `st.cache_resource`: `dashboard.launch` starts it with the server, before any session, and
    the pages then find the same sink (one process, one chDB path)."""
    with _SINKS_LOCK:
        handle = _SINKS.get(url)
        if handle is None:
            handle = _SINKS[url] = SinkHandle()
            handle.thread = threading.Thread(target=_run, args=(settings, handle), name="fengqiao-sink", daemon=True)
            handle.thread.start()
        return handle


def stop_sinks(timeout: float = 30.0) -> None:
    """Flush and commit every embedded sink (the server is stopping)."""
    with _SINKS_LOCK:
        handles = list(_SINKS.values())
    for h in handles:
        h.stop.set()
    for h in handles:
        if h.thread is not None:
            h.thread.join(timeout)


def ensure_sink(s: Settings) -> SinkHandle | None:
    """Start the embedded sink if this process owns the store; None in server mode."""
    if not (s.embedded_store and s.wall.embedded_sink):
        return None
    return embedded_sink(s.effective_clickhouse_url, s)


@st.cache_resource(show_spinner=False)
def _schema(url: str, db: str, _settings: Settings) -> bool:
    from sinks.schema import migrate
    from sinks.store import get_client, store_lock

    with store_lock():
        migrate(get_client(_settings), db, _settings.clickhouse.cluster)
    return True


def ensure_schema(s: Settings) -> None:
    """Create the read model once per process (harmless if the sink did it already).
    A store that is down now is retried on the next run (the wall shows its banner)."""
    try:
        _schema(s.effective_clickhouse_url, s.clickhouse_database, s)
    except Exception:
        log.warning("could not migrate the read model yet", exc_info=True)


BROKER_PROBE_TTL = 3.0  # every session's fragment asks; one probe per bootstrap per 3 s
_PROBES: dict[str, tuple[float, str]] = {}
_PROBES_LOCK = threading.Lock()


def broker_reason(s: Settings, clock: Callable[[], float] = time.monotonic) -> str:
    """"" while a broker of `s.kafka_bootstrap` answers a Metadata request, else the banner's
    reason (issue 13: broker down, the wall says so within 10 s, and recovers by itself).
    A raw probe (broker.wire), so no client library retries or logs in the wall's process."""
    from broker.wire import metadata_brokers, parse_bootstrap

    now = clock()
    with _PROBES_LOCK:
        hit = _PROBES.get(s.kafka_bootstrap)
        if hit is not None and now - hit[0] < BROKER_PROBE_TTL:
            return hit[1]
    up = any(metadata_brokers(h, p, timeout=1.5) for h, p in parse_bootstrap(s.kafka_bootstrap))
    reason = "" if up else (f"消息服务(Kafka)无响应，新事件暂停进入大屏 Kafka unreachable at {s.kafka_bootstrap}: "
                            f"no new events reach the wall")
    with _PROBES_LOCK:
        _PROBES[s.kafka_bootstrap] = (clock(), reason)
    return reason


def load_rows(s: Settings, names: Iterable[str], fetch: Callable[[Settings, str], Any]) -> tuple[dict[str, Any] | None, str]:
    """Each named query's rows, or (None, why) when the store does not answer (a chDB error or,
    in server mode, a ClickHouse server unreachable): the wall then shows a banner, no numbers,
    and tries again on its next refresh."""
    try:
        return {name: fetch(s, name) for name in names}, ""
    except Exception as exc:  # noqa: BLE001 - any store failure is the banner's reason
        text = re.sub(r"//[^/@\s]+@", "//***@", str(exc)).strip().splitlines()  # never a password on the wall
        return None, f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
