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
# each (6 tables x 4 partitions here): memory grew with the backlog, not with the cases. A database's
# memory is its memtables (filled by writes, freed at a flush) plus its block cache (filled by reads);
# both fill at the speed of the table's traffic, so a quiet table with large memtables grows for hours
# before its first flush. The case table (every event writes it, every event reads it) gets 2 x 1 MB
# memtables and a 4 MB cache; the quieter tables 2 x 256 KB and 512 KB: ~45 MB for the worker at most
# (~290 MB with 4 MB for every one). Reads that miss the cache are served by the OS page cache, which is
# not the worker's memory. `fengqiao_streams_rocksdb_bytes` on the worker's /metrics shows the figures.
# (Ignored by the memory:// store; rocksdict has no compressed block cache.)
CASES_ROCKSDB_OPTIONS = {"write_buffer_size": 1 << 20, "max_write_buffer_number": 2, "block_cache_size": 4 << 20}
ROCKSDB_OPTIONS = {"write_buffer_size": 256 << 10, "max_write_buffer_number": 2, "block_cache_size": 512 << 10}


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

    def table(name: str, value_type: type | None = None, options: dict[str, int] = ROCKSDB_OPTIONS) -> faust.Table:
        # str keys use the raw codec; a fresh options dict per table (faust pops keys from it)
        return app.Table(name, default=None, partitions=n, key_type=str, value_type=value_type,
                         options=dict(options), extra_topic_configs=dict(topic_configs or {}))

    return StreamTables(cases=table("cases", bytes, CASES_ROCKSDB_OPTIONS), alert_owner=table("alert-owner"),
                        early=table("early"))
