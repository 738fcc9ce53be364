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

# chDB starts with a server's cache sizes (5 GB of marks, 5 GB of primary index, 128 MB of compiled
# expressions, 100 MB of query conditions), which fill over days of a wall's queries inside the wall's
# own process; embedded, they get a laptop's share. A server's caches are the server's configuration.
EMBEDDED_CACHES = {"mark_cache_size": 64 << 20, "primary_index_cache_size": 32 << 20,
                   "index_mark_cache_size": 16 << 20, "compiled_expression_cache_size": 16 << 20,
                   "query_condition_cache_size": 16 << 20}

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
                client = clickhouse_connect.get_client(dsn=url, chdb_options=dict(EMBEDDED_CACHES))
            else:  # on a cluster an insert returns once the shards wrote it (the sink commits after), and
                # the wall's `IN (SELECT … FROM <distributed>)` subqueries run once, globally (several shards)
                extra = ({"distributed_foreground_insert": 1, "distributed_product_mode": "global"}
                         if settings.clickhouse.cluster else {})
                client = clickhouse_connect.get_client(dsn=url, autogenerate_session_id=False, settings=extra)
            _clients[url] = client
        return client


_query_lock = threading.RLock()


def store_lock() -> threading.RLock:
    """Serialises use of one client across threads (the wall + its sink thread)."""
    return _query_lock


# ClickHouse error codes that mean "the store is down, busy or not ready", not "this data is bad"
_TRANSIENT_CODES = frozenset({
    3,    # UNEXPECTED_END_OF_FILE
    60,   # UNKNOWN_TABLE (not migrated yet)
    81,   # UNKNOWN_DATABASE
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    236,  # ABORTED
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    243,  # NOT_ENOUGH_SPACE
    319,  # UNKNOWN_STATUS_OF_INSERT
    394,  # QUERY_WAS_CANCELLED
    425,  # SYSTEM_ERROR
    497,  # ACCESS_DENIED
    516,  # AUTHENTICATION_FAILED
    999,  # KEEPER_EXCEPTION
})
_TOO_MANY_PARTS = 252  # "too many parts" is back-pressure; "too many partitions for single INSERT" is the batch


def is_transient(exc: BaseException) -> bool:
    """Whether an insert failed because the store is unavailable (retry the same insert with
    backoff) rather than because it refused the data (isolate the rows that caused it)."""
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, ProgrammingError

    # ProgrammingError: the table's columns are not the ones the code writes (schema not migrated
    # yet, or a bug) -- true of every row, so it is waited out, never dead-lettered row by row
    if isinstance(exc, (OperationalError, ProgrammingError, OSError)):
        return True
    if isinstance(exc, DatabaseError):
        code = getattr(exc, "code", None)
        if code == _TOO_MANY_PARTS:
            return "partitions for single insert" not in str(exc).lower()
        return code in _TRANSIENT_CODES
    return False
