"""Helpers for the intake integration tests: read a topic back, build Settings."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fengqiao.settings import Settings, Topics


def fresh_settings(bootstrap: str, **over: Any) -> Settings:
    tag = "g" + uuid.uuid4().hex[:8]
    topics = Topics(events=f"{tag}.events", alerts=f"{tag}.alerts", commands=f"{tag}.commands",
                    stats=f"{tag}.stats", dlq=f"{tag}.dlq", cases=f"{tag}.cases", partitions=2)
    return Settings(kafka_bootstrap=bootstrap, topics=topics, **over)


def read_topic(settings: Settings, topic: str, committed_only: bool = False) -> list[dict[str, Any]]:
    """Every record on `topic` (JSON values), from the beginning to the current end."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                      isolation_level="read_committed" if committed_only else "read_uncommitted",
                      consumer_timeout_ms=1000)
    try:
        parts = c.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return []
        c.assign(tps)
        c.seek_to_beginning(*tps)
        ends = c.end_offsets(tps)
        out = []
        while any(c.position(tp) < ends[tp] for tp in tps):
            batch = c.poll(timeout_ms=1000)
            if not batch and all(c.position(tp) >= ends[tp] for tp in tps):
                break
            for recs in batch.values():
                out += [json.loads(r.value) for r in recs]
            if not batch:
                # transaction markers advance positions without records
                if all(c.position(tp) >= ends[tp] - 1 for tp in tps):
                    break
        return out
    finally:
        c.close()
