"""Faust tables. Keys are `str` with the raw codec, so a key hashes to the same partition
as the contract's message key (murmur2 of the UTF-8 bytes) and `table_route` finds the
owner. The case table's values are bytes of `fengqiao.domain.case_codec` (one codec, typed
`CaseRecord` in the code); the other tables hold JSON dicts (see `early_warning`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import faust

from fengqiao.domain import case_codec
from fengqiao.domain.case import CaseRecord
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
    cases: faust.Table  # case_id -> encoded CaseRecord, co-partitioned with the events topic
    alert_owner: faust.Table  # alert_id -> {"owner": "case"|"region", "key": ...}
    early: faust.Table  # region code -> early-warning entry

    def case(self, case_id: str) -> CaseRecord | None:
        raw = self.cases.get(case_id)
        return case_codec.decode(raw) if raw else None

    def put_case(self, case_id: str, rec: CaseRecord) -> None:
        """Only inside stream iteration on the owning worker (faust writes the changelog)."""
        self.cases[case_id] = case_codec.encode(rec)

    def case_items(self) -> Iterator[tuple[str, CaseRecord]]:
        """This worker's cases (a table iterates only the partitions it holds)."""
        for case_id, raw in self.cases.items():
            if raw:
                yield case_id, case_codec.decode(raw)


def declare(app: faust.App, settings: Settings, topic_configs: dict[str, str] | None = None) -> StreamTables:
    """`topic_configs`: extra configs of the changelog topics (e.g. `min.insync.replicas`)."""
    n = settings.topics.partitions

    def table(name: str, value_type: type | None = None) -> faust.Table:
        # str keys use the raw codec; a fresh options dict per table (faust pops keys from it)
        return app.Table(name, default=None, partitions=n, key_type=str, value_type=value_type,
                         options=dict(ROCKSDB_OPTIONS), extra_topic_configs=dict(topic_configs or {}))

    return StreamTables(cases=table("cases", bytes), alert_owner=table("alert-owner"), early=table("early"))
