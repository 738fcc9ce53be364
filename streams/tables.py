"""Faust tables. Keys are `str` with the raw codec, so a key hashes to the same partition
as the contract's message key (murmur2 of the UTF-8 bytes) and `table_route` finds the
owner; values are JSON dicts (see `casework` / `early_warning` for their shape)."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from fengqiao.settings import Settings


# faust opens one RocksDB per table partition with 3 x 64 MB memtables and a 2 GB block cache
# each (12 databases with 4 partitions): memory grew with the backlog, not with the cases.
# These bound a database to ~14 MB (two 4 MB memtables, 4 + 2 MB of block cache), ~170 MB for
# 12: reads that miss the cache are served by the OS page cache, which is not the worker's
# memory. (Ignored by the memory:// store.)
ROCKSDB_OPTIONS = {"write_buffer_size": 4 * 1024 * 1024, "max_write_buffer_number": 2,
                   "block_cache_size": 4 * 1024 * 1024, "block_cache_compressed_size": 2 * 1024 * 1024}


@dataclass(frozen=True)
class StreamTables:
    cases: faust.Table  # case_id -> case entry, co-partitioned with the events topic
    alert_owner: faust.Table  # alert_id -> {"owner": "case"|"region", "key": ...}
    early: faust.Table  # region code -> early-warning entry


def declare(app: faust.App, settings: Settings) -> StreamTables:
    n = settings.topics.partitions

    def table(name: str) -> faust.Table:
        # str keys use the raw codec; a fresh options dict per table (faust pops keys from it)
        return app.Table(name, default=None, partitions=n, key_type=str, options=dict(ROCKSDB_OPTIONS))

    return StreamTables(cases=table("cases"), alert_owner=table("alert-owner"), early=table("early"))
