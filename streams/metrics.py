"""The worker's Prometheus metrics (`GET /metrics/` on its Faust web port).

Counts the runtime already keeps (events applied, stats published, timers) and the
consumer lag per partition are read at scrape time; dead letters and the alert
latency (an SLA stage's `due_at` to the moment its alert is sent) are counted where
every output passes, the runtime's `send`, so no agent needs to know about metrics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from fengqiao.prom import heap_metrics, log_metrics, render
from streams.offsets import consumer_lag
from streams.similarity import MAX_COMPARE

LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)


# RocksDB's own accounting, summed over every table partition this worker has open: memtables
# (written, not yet flushed), block cache, and the index and filter blocks of its files.
ROCKSDB_MEMORY = {"memtables": "rocksdb.size-all-mem-tables", "block_cache": "rocksdb.block-cache-usage",
                  "table_readers": "rocksdb.estimate-table-readers-mem"}


def rocksdb_memory(app: Any) -> dict[str, int]:
    """Bytes per kind over the open RocksDB databases (none with the memory:// store)."""
    out = dict.fromkeys(ROCKSDB_MEMORY, 0)
    out["databases"] = 0
    for table in list(app.tables.values()):
        dbs = getattr(table.data, "_dbs", None)  # noqa: SLF001 - faust's rocksdb Store: one DB per partition
        for db in list((dbs or {}).values()):
            out["databases"] += 1
            for kind, prop in ROCKSDB_MEMORY.items():
                out[kind] += int(db.property_int_value(prop) or 0)
    return out


class _Runtime(Collector):
    def __init__(self, rt: Any) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Any]:
        rt = self.rt
        yield GaugeMetricFamily("fengqiao_streams_ready", "1 once the worker rebuilt its partitions", value=int(rt.ready))
        yield GaugeMetricFamily("fengqiao_streams_timers", "SLA timers scheduled", value=len(rt.heap))
        yield CounterMetricFamily("fengqiao_streams_events_applied", "contract events applied to cases",
                                  value=rt.events_applied)
        yield CounterMetricFamily("fengqiao_streams_stats_published", "rolling-count messages published",
                                  value=rt.stats_published)
        lag = GaugeMetricFamily("fengqiao_streams_consumer_lag", "messages behind the high-water mark",
                                labels=["topic", "partition"])
        try:
            lags = consumer_lag(rt.app)
        except Exception:  # noqa: BLE001 - no consumer yet (starting): no lag samples
            lags = {}
        for (topic, part), n in lags.items():
            lag.add_metric([topic, str(part)], n)
        yield lag
        try:
            mem = rocksdb_memory(rt.app)
        except Exception:  # noqa: BLE001 - a table being closed by a rebalance: no sample this scrape
            mem = {}
        if mem:
            yield GaugeMetricFamily("fengqiao_streams_rocksdb_databases", "RocksDB databases open",
                                    value=mem.pop("databases"))
            rocks = GaugeMetricFamily("fengqiao_streams_rocksdb_bytes", "RocksDB memory by its own accounting",
                                      labels=["kind"])
            for kind, n in mem.items():
                rocks.add_metric([kind], n)
            yield rocks
        rings = list(rt.ew.rings.values())
        yield GaugeMetricFamily("fengqiao_streams_similar_petitions", "petitions held for the class-case "
                                "comparison (a county's last 500: bounded, fills as counties reach 500)",
                                value=sum(min(r.n, MAX_COMPARE) for r in rings))
        yield GaugeMetricFamily("fengqiao_streams_similar_capacity", "what the counties seen so far can hold",
                                value=len(rings) * MAX_COMPARE)
        yield from log_metrics("streams")
        yield from heap_metrics("streams")


class WorkerMetrics:
    """One registry per runtime (tests build several in one process)."""

    def __init__(self, rt: Any) -> None:
        self.registry = CollectorRegistry()
        self.dead_letters = Counter("fengqiao_streams_dead_letters", "messages turned into dead letters",
                                    registry=self.registry)
        self.alert_latency = Histogram("fengqiao_streams_alert_latency_seconds",
                                       "an SLA stage's due_at to its alert being sent", buckets=LATENCY_BUCKETS,
                                       registry=self.registry)
        self.registry.register(_Runtime(rt))
        self.dlq_topic = rt.topics.dlq.get_topic_name()
        self.alerts_topic = rt.topics.alerts.get_topic_name()
        inner = rt.send

        async def counting(topic: Any, key: bytes | None, value: bytes) -> None:
            await inner(topic, key, value)
            self.observe(topic.get_topic_name(), value)

        rt.send = counting  # every output (publish, dead_letter) goes through the runtime's send

    def observe(self, topic: str, value: bytes) -> None:
        if topic == self.dlq_topic:
            self.dead_letters.inc()
        elif topic == self.alerts_topic:
            late = first_raise_lateness(value, time.time())
            if late is not None:
                self.alert_latency.observe(late)

    def text(self) -> str:
        return render(self.registry).decode()


def first_raise_lateness(value: bytes, now: float) -> float | None:
    """Seconds from `due_at` to now for an alert's first raise (firing, version 1); else None."""
    try:
        a = json.loads(value)
        if a.get("state") != "firing" or not a.get("due_at") or a.get("version", 1) != 1:
            return None
        return max(0.0, now - datetime.fromisoformat(a["due_at"]).timestamp())
    except (ValueError, TypeError, AttributeError):
        return None
