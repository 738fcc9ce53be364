"""One way to reach ClickHouse: clickhouse-connect, embedded (chDB) or a server.

`FENGQIAO_CLICKHOUSE_URL` empty → `chdb:///<data_dir>/chdb` in this process;
`http(s)://user:pass@host:port` → a server. Same client API either way.
chDB allows one engine per process and one process per data path: in embedded
mode only the process that owns the store (the wall, or a standalone sink) may
call `get_client`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fengqiao.settings import Settings

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def get_client(settings: Settings) -> Any:
    """A clickhouse-connect client for the configured store (cached per URL).

    chDB's client is not safe for concurrent queries from several threads, so
    callers that share it across threads should hold `store_lock()`.
    """
    import clickhouse_connect

    url = settings.effective_clickhouse_url
    with _lock:
        client = _clients.get(url)
        if client is None:
            if url.startswith("chdb://"):
                Path(url[len("chdb://"):]).mkdir(parents=True, exist_ok=True)
                client = clickhouse_connect.get_client(dsn=url)
            else:
                client = clickhouse_connect.get_client(dsn=url, autogenerate_session_id=False)
            _clients[url] = client
        return client


_query_lock = threading.RLock()


def store_lock() -> threading.RLock:
    """Serialises use of one client across threads (the wall + its sink thread)."""
    return _query_lock
