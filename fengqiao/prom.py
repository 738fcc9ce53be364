"""Shared pieces of every part's Prometheus metrics (prometheus_client, no broker or store):
the repeat filter's figures and the text exposition of a registry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from fengqiao import logs, process

CONTENT_TYPE = CONTENT_TYPE_LATEST


def log_metrics(part: str) -> Iterator[Any]:
    """Warnings held back by `fengqiao.logs` and how many distinct ones were seen lately."""
    h = logs.health()
    yield CounterMetricFamily(f"fengqiao_{part}_log_suppressed", "repeated warnings held back",
                              value=float(h["log_suppressed_total"]))  # type: ignore[arg-type]
    yield GaugeMetricFamily(f"fengqiao_{part}_log_problems", "distinct warnings seen in the last 5 minutes",
                            value=len(h["log_problems"]))  # type: ignore[arg-type]


def heap_metrics(part: str) -> Iterator[Any]:
    """Blocks held by Python's allocator (grows with a leak of Python objects, not with caches of the
    native parts: RocksDB, chDB) and malloc's own figures (`process.malloc_bytes`): with the process's
    RSS they tell apart objects piling up, memory malloc keeps, and memory outside malloc."""
    yield GaugeMetricFamily(f"fengqiao_{part}_python_allocated_blocks", "memory blocks allocated by Python",
                            value=sys.getallocatedblocks())
    m = GaugeMetricFamily(f"fengqiao_{part}_malloc_bytes", "glibc malloc's accounting over all arenas",
                          labels=["kind"])
    for kind, n in process.malloc_bytes().items():
        m.add_metric([kind], n)
    yield m
    yield CounterMetricFamily(f"fengqiao_{part}_malloc_trimmed_bytes", "free bytes malloc_trim gave back to the OS",
                              value=process.TRIM.released)


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
