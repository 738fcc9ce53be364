"""`fengqiao dlq`: list dead letters (newest first) and re-submit corrected events.

Dead letters are `DeadLetter` records on `petitions.dlq` (fengqiao.records).
Listing reads the tail of every partition without a consumer group (nothing is
committed, so listing twice shows the same letters). Re-submission validates
the corrected event against the contract first, protects contact data like the
gateway does, and writes it with acks=all; a file of several (JSON Lines) is checked whole
first, so nothing is written when one line is wrong, then sent with progress on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fengqiao import privacy
from fengqiao.contract import ContractError, Envelope, parse_event
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
    return resubmit_events(settings, text)[0]


def _corrected(settings: Settings, text: str, where: str = "") -> Envelope:
    """One corrected event, valid and with contact data protected (ValueError otherwise)."""
    try:
        ev = parse_event(text.strip())
    except ContractError as exc:
        raise ValueError(f"the corrected event{where} is still invalid / 修正后的事件{where}仍不合规: "
                         f"{exc.bilingual()}") from None
    if ev.event_type == "petition.received" and ev.payload.citizen is not None:  # type: ignore[attr-defined]
        c = ev.payload.citizen.model_dump(exclude_none=True)  # type: ignore[attr-defined]
        if privacy.carries_clear_pii(c):
            d = ev.model_dump(mode="json", exclude_none=True)
            d["payload"]["citizen"] = privacy.protect_citizen(c, settings.pii_key, case_id=ev.case_id)
            ev = parse_event(d)
    return ev


def resubmit_events(settings: Settings, text: str, progress: Callable[[int, int], None] | None = None,
                    chunk: int = 500) -> list[str]:
    """Re-submit one corrected event (a JSON object) or several (one per line); their case_ids.

    Every line is checked before anything is sent; `progress(done, total)` after each acknowledged
    chunk.
    Raises ValueError (bilingual) naming the line that breaks the contract, or when the broker
    does not acknowledge (events of earlier chunks are then written: re-submitting is
    idempotent by event_id downstream)."""
    from producers.kafka_out import make_producer, produce_events

    body = text.strip()
    lines = [ln for ln in body.splitlines() if ln.strip()]
    one = body.startswith("{") and (len(lines) == 1 or not lines[0].rstrip().endswith("}"))
    events = [_corrected(settings, body)] if one else [
        _corrected(settings, ln, f" (line {i} 第 {i} 行)") for i, ln in enumerate(lines, 1)]
    if not events:
        raise ValueError("no event in the file / 文件中没有事件")
    try:
        producer = make_producer(settings)
        try:
            for start in range(0, len(events), chunk):
                produce_events(settings, events[start:start + chunk], producer=producer, timeout=30)
                if progress is not None:
                    progress(min(start + chunk, len(events)), len(events))
        finally:
            producer.close(timeout=5)
    except Exception as exc:
        raise ValueError(f"broker did not acknowledge, nothing more written / 消息服务未确认，未继续写入: "
                         f"{type(exc).__name__}: {exc}") from None
    return [ev.case_id for ev in events]
