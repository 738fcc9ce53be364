"""What the Streamlit app shares across sessions: settings and the embedded sink.

`serve()` passes the settings through `FENGQIAO_*` variables; the app builds
its frozen `Settings` from them. In embedded mode (chDB, `wall.embedded_sink`)
this process owns the store and runs the sink in a background thread,
started once per process when the server starts (`dashboard.launch`); the queries
and the sink share one client, serialised by `sinks.store.store_lock()`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

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
        migrate(get_client(_settings), db)
    return True


def ensure_schema(s: Settings) -> None:
    """Create the read model once per process (harmless if the sink did it already).
    A store that is down now is retried on the next run (the wall shows its banner)."""
    try:
        _schema(s.effective_clickhouse_url, s.clickhouse_database, s)
    except Exception:
        log.warning("could not migrate the read model yet", exc_info=True)
