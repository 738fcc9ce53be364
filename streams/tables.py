"""Faust tables. Keys are `str` with the raw codec, so a key hashes to the same partition
as the contract's message key (murmur2 of the UTF-8 bytes) and `table_route` finds the
owner. The case table's values are bytes of `fengqiao.domain.case_codec` (one codec, typed
`CaseRecord` in the code); the other tables hold JSON dicts (see `early_warning`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP

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


class DirectWriter:
    """Writes one table value as faust's `table[key] = value` does (the local store, then one
    changelog message on the value's partition), with one plain producer send. faust's own path
    (FutureMessage, ProducerBuffer, both codecs again, sensors) costs about as much as consuming
    the event (`bench/faust_ceiling.py`, modes `table` and `direct`). The changelog offset is
    persisted once the broker acknowledged it, as faust does, so a restart reads only the tail;
    the producer is flushed before offsets are committed, so at-least-once holds. Only inside
    stream iteration on the owner of `partition` (the store writes the current event's partition)."""

    def __init__(self, app: faust.App, table: faust.Table, crash: Callable[[BaseException], None]) -> None:
        self.app, self.table, self.crash = app, table, crash
        self.topic = table.changelog_topic.get_topic_name()

    async def put(self, key: str, value: bytes, partition: int) -> None:
        table = self.table
        table.data[key] = value
        raw_key = self.app.serializers.dumps_key(table.key_type, key, serializer=table.key_serializer)
        fut = await self.app.producer.send(self.topic, raw_key, value, partition, None, None)
        fut.add_done_callback(self._sent)

    def _sent(self, fut: Any) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:  # lost for good: stop before the input's offsets can be committed
            self.crash(exc)
            return
        md = fut.result()
        self.table.data.set_persisted_offset(TP(md.topic, md.partition), md.offset)


def declare(app: faust.App, settings: Settings, topic_configs: dict[str, str] | None = None) -> StreamTables:
    """`topic_configs`: extra configs of the changelog topics (e.g. `min.insync.replicas`)."""
    n = settings.topics.partitions

    def table(name: str, value_type: type | None = None) -> faust.Table:
        # str keys use the raw codec; a fresh options dict per table (faust pops keys from it)
        return app.Table(name, default=None, partitions=n, key_type=str, value_type=value_type,
                         options=dict(ROCKSDB_OPTIONS), extra_topic_configs=dict(topic_configs or {}))

    return StreamTables(cases=table("cases", bytes), alert_owner=table("alert-owner"), early=table("early"))
