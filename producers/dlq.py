"""`fengqiao dlq`: list dead letters (newest first) and re-submit a corrected event.

Dead letters are `DeadLetter` records on `petitions.dlq` (fengqiao.records).
Listing reads the tail of every partition without a consumer group (nothing is
committed, so listing twice shows the same letters). Re-submission validates
the corrected event against the contract first, protects contact data like the
gateway does, and writes it with acks=all.
"""

from __future__ import annotations

import json
from typing import Any

from fengqiao import privacy
from fengqiao.contract import ContractError, parse_event
from fengqiao.settings import Settings


def list_dead_letters(settings: Settings, limit: int = 20) -> list[dict[str, Any]]:
    """The newest `limit` dead letters, newest first, each with topic/partition/offset of the DLQ record."""
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.topics.dlq
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap.split(","), group_id=None,
                             enable_auto_commit=False, client_id="fengqiao-dlq", consumer_timeout_ms=2000)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        begins = consumer.beginning_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(begins[tp], ends[tp] - limit))
        out: list[tuple[int, int, int, dict[str, Any]]] = []
        remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        while remaining:
            batch = consumer.poll(timeout_ms=1000)
            if not batch:
                break
            for tp, records in batch.items():
                for rec in records:
                    try:
                        body = json.loads(rec.value)
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        body = {"error": "undecodable dead letter", "raw": repr(rec.value[:200])}
                    body["dlq"] = {"partition": rec.partition, "offset": rec.offset, "timestamp_ms": rec.timestamp}
                    out.append((rec.timestamp, rec.partition, rec.offset, body))
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        out.sort(key=lambda x: (x[0], x[1], x[2]), reverse=True)
        return [b for *_, b in out[:limit]]
    finally:
        consumer.close()


def resubmit_event(settings: Settings, text: str) -> str:
    """Validate a corrected event and write it to the events topic; return its case_id.

    Raises ValueError (bilingual) when the event breaks the contract or the broker
    does not acknowledge.
    """
    from producers.kafka_out import produce_events

    try:
        ev = parse_event(text.strip())
    except ContractError as exc:
        raise ValueError(f"the corrected event is still invalid / 修正后的事件仍不合规: {exc.bilingual()}") from None
    if ev.event_type == "petition.received" and ev.payload.citizen is not None:  # type: ignore[attr-defined]
        c = ev.payload.citizen.model_dump(exclude_none=True)  # type: ignore[attr-defined]
        if privacy.carries_clear_pii(c):
            d = ev.model_dump(mode="json", exclude_none=True)
            d["payload"]["citizen"] = privacy.protect_citizen(c, settings.pii_key, case_id=ev.case_id)
            ev = parse_event(d)
    try:
        produce_events(settings, [ev], timeout=30)
    except Exception as exc:
        raise ValueError(f"broker did not acknowledge, nothing written / 消息服务未确认，未写入: {type(exc).__name__}: {exc}") from None
    return ev.case_id
