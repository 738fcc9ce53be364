"""A batching sink in the manner of Quix Streams' `BatchingSink`, with no Kafka in it.

One buffer per (topic, partition). A buffer is due at `batch_rows` messages or
`batch_seconds` after its first message; when any buffer is due, every
non-empty buffer is flushed together (one column-oriented insert per table,
which is what makes ClickHouse fast). The order is fixed and is the whole
correctness argument:

1. insert the rows, at most `MAX_PARTITIONS_PER_INSERT` months of a
   month-partitioned table per insert (a backfill of years lands as several
   inserts). A store that is down (connection, timeout: `is_transient`) is
   retried with backoff, each retry with the same `insert_deduplication_token`,
   so an insert that did land but timed out is not stored twice. A batch the
   store refuses for its data is split in halves until the refused rows are
   found: they become dead letters, the rest lands (poison isolation);
2. hand the dead letters to the DLQ and wait for the broker's ack;
3. only then commit `last offset + 1` for each partition.

A crash anywhere before 3 means redelivery, never loss. Redelivered or
re-produced events are kept out of reads three ways: an in-process bounded set
of recently seen row keys (event_id, (alert_id, version), ...), the batch token,
and ReplacingMergeTree tables read with FINAL.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Hashable, Iterable, NamedTuple, Sequence

from fengqiao.records import DeadLetter
from fengqiao.vocab import TZ
from sinks.health import SinkHealth
from sinks.rows import COLUMNS, Mapped, may_carry_pii, scrub_text
from sinks.schema import TABLES

log = logging.getLogger("fengqiao.sink")

InsertFn = Callable[[str, Sequence[str], list[Sequence[Any]], str | None], None]
"""insert(table, column_names, columns (column-oriented), dedup token)."""
CommitFn = Callable[[dict["TP", int]], None]
"""commit({tp: next offset to read}); raises to be retried."""
DeadFn = Callable[[list[DeadLetter]], None]
"""Send dead letters and wait for the broker's acks; raises to be retried."""
TransientFn = Callable[[BaseException], bool]
"""True for a store that is down or busy (retry the same insert); False: the data was refused."""

MAX_PARTITIONS_PER_INSERT = 100  # ClickHouse's default `max_partitions_per_insert_block`
_MONTHLY = re.compile(r"PARTITION BY toYYYYMM\((\w+)\)")
# table -> index of the column its partitions are months of (read from the DDL: one definition)
MONTH_COLUMN: dict[str, int] = {
    t: COLUMNS[t].index(m.group(1)) for t, body in TABLES.items() if t in COLUMNS and (m := _MONTHLY.search(body))
}


class TP(NamedTuple):
    topic: str
    partition: int


class SinkStopped(RuntimeError):
    """Stop was requested while a flush could not complete: nothing was committed."""


class _Refused(Exception):
    """The store refused an insert for its data (not for being down)."""


Origin = tuple[TP, int]
"""Where a row came from, (partition, offset): its message is dead-lettered if the store refuses it.
A plain tuple, made once per message: this is on the sink's hot path."""


def _month(value: Any) -> Hashable:
    if not isinstance(value, datetime):
        return value
    local = value.astimezone(TZ)
    return local.year * 100 + local.month


def partition_chunks(table: str, rows: list[tuple[Any, ...]], origins: list[Origin]
                     ) -> list[tuple[list[tuple[Any, ...]], list[Origin]]]:
    """Split rows so that no insert touches more than `MAX_PARTITIONS_PER_INSERT` months."""
    col = MONTH_COLUMN.get(table)
    if col is None:
        return [(rows, origins)]
    try:  # cheap first look (month in each value's own offset; each is at most 2 months in TZ)
        if 2 * len({v.year * 12 + v.month for v in [r[col] for r in rows]}) <= MAX_PARTITIONS_PER_INSERT:
            return [(rows, origins)]
    except AttributeError:
        pass
    keys = [_month(r[col]) for r in rows]
    if len(set(keys)) <= MAX_PARTITIONS_PER_INSERT:
        return [(rows, origins)]
    groups: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    ordered = list(groups.values())
    chunks = []
    for start in range(0, len(ordered), MAX_PARTITIONS_PER_INSERT):
        idx = [i for g in ordered[start:start + MAX_PARTITIONS_PER_INSERT] for i in g]
        chunks.append(([rows[i] for i in idx], [origins[i] for i in idx]))
    return chunks


@dataclass
class _Buffer:
    started: float
    first_offset: int
    last_offset: int = -1
    messages: int = 0
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    origins: dict[str, list[Origin]] = field(default_factory=dict)  # parallel to `rows`
    raws: dict[int, bytes | None] = field(default_factory=dict)  # offset -> message, for refused rows
    dead: list[DeadLetter] = field(default_factory=list)
    keys: list[Hashable] = field(default_factory=list)  # to forget them if the buffer is discarded


@dataclass
class SinkStats:
    messages: int = 0
    rows: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    flushes: int = 0
    retries: int = 0
    poison_rows: int = 0  # rows the store refused (isolated by bisection, dead-lettered)
    inserts: int = 0
    by_table: dict[str, int] = field(default_factory=dict)


class RecentKeys:
    """A bounded, insertion-ordered set: `seen(key)` is True for a key met recently."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def seen(self, key: Hashable) -> bool:
        if key in self._keys:
            return True
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return False

    def forget(self, keys: Iterable[Hashable]) -> None:
        for k in keys:
            self._keys.pop(k, None)

    def __len__(self) -> int:
        return len(self._keys)


class BatchingSink:
    """Buffers mapped records per partition and flushes them insert → DLQ → commit."""

    def __init__(
        self,
        *,
        insert: InsertFn,
        commit: CommitFn,
        send_dead: DeadFn,
        batch_rows: int,
        batch_seconds: float,
        stop: threading.Event | None = None,
        recent_keys: int = 100_000,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        dedup_tokens: bool = True,
        pii_key: str = "",
        is_transient: TransientFn = lambda exc: isinstance(exc, OSError),
        health: SinkHealth | None = None,
        on_health: Callable[[SinkHealth], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._insert = insert
        self._commit = commit
        self._send_dead = send_dead
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self._stop = stop or threading.Event()
        self._recent = RecentKeys(recent_keys)
        self._backoff = (backoff_initial, backoff_max)
        self._clock = clock
        self._buffers: dict[TP, _Buffer] = {}
        self._run = uuid.uuid4().hex  # tokens only dedupe retries within this process
        self._tokens = dedup_tokens
        self._pii_key = pii_key  # seals dead letters that may carry contact data
        self._transient = is_transient
        self.health = health or SinkHealth()
        self._on_health = on_health or (lambda h: None)
        self._wall = wall_clock
        self.stats = SinkStats()

    # ------------------------------------------------------------ intake
    def add(
        self, tp: TP, offset: int, mapped: Mapped, raw: bytes | None = None, at: datetime | None = None
    ) -> None:
        """Buffer one consumed message: its rows, or a dead letter when `mapped` is a reason."""
        buf = self._buffers.get(tp)
        if buf is None:
            buf = self._buffers[tp] = _Buffer(started=self._clock(), first_offset=offset)
        buf.last_offset = offset
        buf.messages += 1
        self.stats.messages += 1
        if isinstance(mapped, str):
            buf.dead.append(self._dead_letter(tp, offset, raw, mapped, at))
            return
        buf.raws[offset] = raw
        origin = (tp, offset)
        duplicate = False
        for table, key, row in mapped:
            if key is not None:
                duplicate = self._recent.seen(key)
                if not duplicate:
                    buf.keys.append(key)
            if duplicate:
                self.stats.duplicates += 1
                continue
            rows = buf.rows.get(table)
            if rows is None:
                rows = buf.rows[table] = []
                buf.origins[table] = []
            rows.append(row)
            buf.origins[table].append(origin)

    def _dead_letter(self, tp: TP, offset: int, raw: bytes | None, reason: str, at: datetime | None) -> DeadLetter:
        where = {"topic": tp.topic, "partition": tp.partition, "offset": offset}
        when = at or datetime.now(TZ)
        if self._pii_key and may_carry_pii(raw):  # rejected bytes may hold a clear phone: seal them
            return DeadLetter.sealed_of("sink", raw or b"", reason, when, self._pii_key, **where)
        return DeadLetter.of("sink", raw, reason, when, **where)

    # ------------------------------------------------------------ flushing
    def pending(self) -> int:
        return sum(b.messages for b in self._buffers.values())

    def due(self) -> bool:
        now = self._clock()
        return any(
            b.messages >= self.batch_rows or now - b.started >= self.batch_seconds
            for b in self._buffers.values()
        )

    def seconds_until_due(self) -> float:
        """How long the consumer may block in poll before a buffer's time is up."""
        if not self._buffers:
            return self.batch_seconds
        oldest = min(b.started for b in self._buffers.values())
        return max(0.0, self.batch_seconds - (self._clock() - oldest))

    def flush_due(self) -> int:
        return self.flush() if self.due() else 0

    def flush(self, tps: Iterable[TP] | None = None) -> int:
        """Insert, dead-letter and commit the given buffers (all by default); returns rows inserted.

        Raises `SinkStopped` if stop is requested while a step keeps failing; the
        buffers are then kept, and nothing past them is committed.
        """
        chosen = [tp for tp in (self._buffers if tps is None else tps) if tp in self._buffers]
        if not chosen:
            return 0
        started = time.perf_counter()
        bufs = [(tp, self._buffers[tp]) for tp in chosen]
        tables: dict[str, list[tuple[Any, ...]]] = {}
        origins: dict[str, list[Origin]] = {}
        dead: list[DeadLetter] = []
        for _, b in bufs:
            for table, rows in b.rows.items():
                tables.setdefault(table, []).extend(rows)
                origins.setdefault(table, []).extend(b.origins[table])
            dead.extend(b.dead)
        span = ";".join(f"{tp.topic}:{tp.partition}:{b.first_offset}-{b.last_offset}" for tp, b in sorted(bufs))
        inserted = 0
        refused: dict[Origin, DeadLetter] = {}  # one dead letter per message, however many rows
        for table, rows in tables.items():
            for n, (chunk, where) in enumerate(partition_chunks(table, rows, origins[table])):
                token = hashlib.sha1(f"{self._run}|{table}|{span}|{n}".encode()).hexdigest() if self._tokens else None
                landed = self._land(table, chunk, where, token, refused)
                inserted += landed
                self.stats.by_table[table] = self.stats.by_table.get(table, 0) + landed
        dead.extend(refused.values())
        if dead:
            self._retry(lambda: self._send_dead(dead), "send to the DLQ")
        offsets = {tp: b.last_offset + 1 for tp, b in bufs}
        self._retry(lambda: self._commit(offsets), "commit offsets")
        for tp in chosen:
            del self._buffers[tp]
        self.stats.rows += inserted
        self.stats.dead_letters += len(dead)
        self.stats.flushes += 1
        self.health.succeeded(self._wall(), inserted=inserted > 0)
        self.health.updated_at = self._wall()
        self._on_health(self.health)
        log.debug(
            "flush: %d rows (%s), %d dead letters, %d partitions, %.1f ms",
            inserted, ", ".join(f"{t}={len(r)}" for t, r in tables.items()) or "-",
            len(dead), len(bufs), (time.perf_counter() - started) * 1000,
        )
        return inserted

    def discard(self, tps: Iterable[TP]) -> None:
        """Drop buffers of partitions we lost without flushing them; their keys are
        forgotten so that whoever re-reads them is not mistaken for a duplicate."""
        for tp in tps:
            b = self._buffers.pop(tp, None)
            if b is not None:
                self._recent.forget(b.keys)

    def _land(self, table: str, rows: list[tuple[Any, ...]], origins: list[Origin], token: str | None,
              refused: dict[Origin, DeadLetter]) -> int:
        """Insert `rows`; if the store refuses them, bisect until the refused rows are alone.
        Returns the rows that landed; refused rows' messages are added to `refused`."""
        columns = list(zip(*rows))
        try:
            self._retry(lambda: self._insert(table, COLUMNS[table], columns, token), f"insert into {table}",
                        refusal=True)
            self.stats.inserts += 1
            return len(rows)
        except _Refused as exc:
            cause = exc.__cause__ or exc
            if len(rows) == 1:
                tp, offset = origins[0]
                self.stats.poison_rows += 1
                self.health.poison_rows += 1
                reason = (f"(sink): 数据库拒绝写入此行 the store refused this row for table {table}: "
                          f"{type(cause).__name__}: {scrub_text(str(cause))[:300]}")
                log.warning("poison row isolated: %s[%d]@%d (%s: %s)", tp.topic, tp.partition, offset,
                            table, type(cause).__name__)
                if (tp, offset) not in refused:
                    refused[(tp, offset)] = self._dead_letter(tp, offset, self._buffers[tp].raws.get(offset),
                                                              reason, None)
                return 0
            mid = len(rows) // 2
            left, right = (f"{token}/a", f"{token}/b") if token else (None, None)
            return (self._land(table, rows[:mid], origins[:mid], left, refused)
                    + self._land(table, rows[mid:], origins[mid:], right, refused))

    def _retry(self, step: Callable[[], None], what: str, refusal: bool = False) -> None:
        """Run `step` until it succeeds, with backoff; with `refusal`, an error that is not
        transient (the data was refused) is raised at once as `_Refused`."""
        delay, cap = self._backoff
        attempt = 0
        while True:
            try:
                step()
                if attempt:
                    self.health.succeeded(self._wall(), inserted=False)
                    self._on_health(self.health)
                return
            except Exception as exc:  # noqa: BLE001 - any failure of the store or broker is retried
                if refusal and not self._transient(exc):
                    raise _Refused(str(exc)) from exc
                attempt += 1
                self.stats.retries += 1
                self.health.failed(what, f"{type(exc).__name__}: {scrub_text(str(exc))}", self._wall())
                self.health.updated_at = self._wall()
                self._on_health(self.health)
                if self._stop.is_set():
                    raise SinkStopped(f"{what} failed and stop was requested: {exc}") from exc
                log.warning("%s failed (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc)
                if self._stop.wait(delay):
                    raise SinkStopped(f"{what} failed and stop was requested: {exc}") from exc
                delay = min(delay * 2, cap)

