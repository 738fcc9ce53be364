"""The sink's Prometheus metrics: rows and messages per second (counters), dead letters,
consumer lag per partition and the insert latency per table, via prometheus_client.

The sink runs once per process (`fengqiao sink`, or the wall's embedded sink), so its
metrics live in the process's default registry; `serve_metrics` exposes it with
prometheus_client's own HTTP server. The consumer is not thread-safe: the sink's loop
samples the lag (`highwater` is cached by kafka-python, no request) and the scrape
only reads the sample.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from fengqiao.prom import heap_metrics, log_metrics

log = logging.getLogger("fengqiao.sink")
INSERT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
INSERT_SECONDS = Histogram("fengqiao_sink_insert_seconds", "one batch insert into ClickHouse", ["table"],
                           buckets=INSERT_BUCKETS)
ROWS = Counter("fengqiao_sink_rows", "rows inserted into ClickHouse", ["table"])
LAG_SAMPLE_SECONDS = 2.0
STORE_SAMPLE_SECONDS = 30.0
# What the store holds in memory (its own accounting, in `system.metrics`): in embedded mode it is
# part of this process's RSS, so a soak can tell chDB's caches from the Python side.
STORE_MEMORY = ("MemoryTracking", "MarkCacheBytes", "PrimaryIndexCacheBytes", "UncompressedCacheBytes",
                "QueryConditionCacheBytes", "CompiledExpressionCacheBytes", "QueryCacheBytes", "PageCacheBytes")
STORE_MEMORY_SQL = "SELECT metric, value FROM system.metrics WHERE metric IN {names:Array(String)}"


class _SinkCollector(Collector):
    """The current sink's stats and its last lag sample (a process runs one sink at a time)."""

    def __init__(self) -> None:
        self.stats: Any = None
        self.lag: dict[tuple[str, int], int] = {}
        self.read: dict[tuple[str, int], int] = {}
        self.sampled = 0.0
        self.store: dict[str, float] = {}
        self.store_sampled = 0.0
        self.lock = threading.Lock()

    def collect(self) -> Iterator[Any]:
        s = self.stats
        if s is not None:
            yield CounterMetricFamily("fengqiao_sink_messages", "Kafka messages consumed", value=s.messages)
            yield CounterMetricFamily("fengqiao_sink_dead_letters", "messages or rows sent to the DLQ",
                                      value=s.dead_letters)
            yield CounterMetricFamily("fengqiao_sink_duplicates", "repeats skipped", value=s.duplicates)
        lag = GaugeMetricFamily("fengqiao_sink_consumer_lag", "messages behind the high-water mark",
                                labels=["topic", "partition"])
        with self.lock:
            for (topic, part), n in sorted(self.lag.items()):
                lag.add_metric([topic, str(part)], n)
        yield lag
        if self.store:
            mem = GaugeMetricFamily("fengqiao_store_memory_bytes", "the ClickHouse store's memory by its own "
                                    "accounting (system.metrics)", labels=["metric"])
            for name, value in sorted(self.store.items()):
                mem.add_metric([name], value)
            yield mem
        yield from log_metrics("sink")
        yield from heap_metrics("sink")

    def watch(self, stats: Any) -> None:
        self.stats = stats
        with self.lock:
            self.lag, self.read = {}, {}

    def consumed(self, topic: str, partition: int, last_offset: int) -> None:
        self.read[(topic, partition)] = last_offset

    def sample(self, consumer: Any) -> None:
        """Every few seconds, from the sink's own thread: high-water minus what was read."""
        now = time.monotonic()
        if now - self.sampled < LAG_SAMPLE_SECONDS:
            return
        self.sampled = now
        out: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            hw = consumer.highwater(tp)
            last = self.read.get((tp.topic, tp.partition))
            if hw is not None:
                out[(tp.topic, tp.partition)] = max(0, int(hw) - (last + 1 if last is not None else 0))
        with self.lock:
            self.lag = out


    def sample_store(self, client: Any, lock: Any) -> None:
        """Every 30 s, from the sink's thread (it holds the client): the store's memory figures."""
        now = time.monotonic()
        if now - self.store_sampled < STORE_SAMPLE_SECONDS:
            return
        self.store_sampled = now
        try:
            with lock:
                rows = client.query(STORE_MEMORY_SQL, parameters={"names": list(STORE_MEMORY)}).result_rows
        except Exception as exc:  # noqa: BLE001 - a figure for operators: the store's own outage is reported elsewhere
            log.debug("store memory not sampled: %s", exc)
            return
        self.store = {str(name): float(value) for name, value in rows}


SINK = _SinkCollector()
REGISTRY.register(SINK)


def timed_insert(table: str, rows: int) -> Any:
    """`with timed_insert(table, n):` around one insert: latency, and rows once it succeeded."""
    return _Timed(table, rows)


class _Timed:
    def __init__(self, table: str, rows: int) -> None:
        self.table, self.rows = table, rows

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        INSERT_SECONDS.labels(self.table).observe(time.perf_counter() - self.t0)
        if exc_type is None:
            ROWS.labels(self.table).inc(self.rows)


_served: dict[int, Any] = {}


def serve_metrics(port: int, host: str = "127.0.0.1") -> bool:
    """prometheus_client's HTTP server for this process's registry, once per port; False if the port is taken."""
    if port in _served:
        return True
    try:
        _served[port] = start_http_server(port, addr=host)
    except OSError as exc:
        log.warning("metrics port %s:%d not available: %s", host, port, exc)
        return False
    return True
