"""The repeat and heartbeat agents in Faust's test context (memory store, recorded sends): what each
forwards, a keyless petition leaves nothing waiting, the repeat agent's output record."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from faust.types.tuples import Message

from fengqiao import privacy
from fengqiao.domain.phase import Phase, TargetStatus
from fengqiao.records import CaseSnapshot
from fengqiao.settings import DEV_PII_KEY, Settings, StreamsSettings, Topics
from fengqiao.vocab import TZ
from streams.runtime import build_runtime

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)


class Rig:
    def __init__(self) -> None:
        self.app_id = f"t-{uuid.uuid4().hex[:6]}"
        self.settings = Settings(kafka_bootstrap="127.0.0.1:1", topics=Topics(partitions=4),
                                 streams=StreamsSettings(app_id=self.app_id, store="memory://"))
        self.sent: list[tuple[str, bytes | None, bytes]] = []

        async def record(topic: str, key: bytes | None, value: bytes) -> None:
            self.sent.append((topic, key, value))

        self.rt = build_runtime(self.settings, clock=lambda: T0, store="memory://", sender=record,
                                assigned=lambda topic: set(range(4)))

    def to(self, suffix: str) -> list[tuple[str, dict[str, Any]]]:
        name = f"{self.app_id}-{suffix}" if suffix in ("repeat", "beat") else suffix
        return [(k.decode() if k else "", json.loads(v)) for t, k, v in self.sent if t == name]

    async def put(self, agent: Any, topic: str, value: bytes, key: str) -> None:
        orig = agent.to_message

        def on_topic(*a: Any, **kw: Any) -> Message:
            m = orig(*a, **kw)
            return Message(topic=topic, partition=m.partition, offset=m.offset, timestamp=m.timestamp,
                           timestamp_type=0, headers=m.headers, key=m.key, value=m.value, checksum=b"",
                           generation_id=m.generation_id)

        agent.to_message = on_topic
        try:
            await agent.put(value, key=key, partition=0)
        finally:
            agent.to_message = orig


def received(case_id: str, at: datetime, phone: str | None, address: str | None) -> bytes:
    payload: dict[str, Any] = {"category": "complaint", "topic": "劳资纠纷", "urgency": "normal", "title": "诉求",
                               "content": "拖欠工资"}
    if phone:
        payload["citizen"] = privacy.protect_citizen({"phone": phone}, DEV_PII_KEY, case_id=case_id)
    if address:
        payload["location"] = {"lat": 38.0, "lon": 114.5, "address": address}
    return json.dumps({"schema_version": 1, "event_id": str(uuid.uuid4()), "event_type": "petition.received",
                       "case_id": case_id, "occurred_at": at.isoformat(), "region_code": "130102",
                       "channel": "wechat", "payload": payload}, ensure_ascii=False).encode()


def concluded(case_id: str, at: datetime) -> bytes:
    return CaseSnapshot(case_id=case_id, version=4, status="replied", phase=Phase.awaiting_evaluation,
                        resolve_status=TargetStatus.met, resolve_ended_at=at, region_code="130102",
                        prefecture_code="130100", department="长安区人社局", received_at=at - timedelta(days=1),
                        updated_at=at).to_json()


def test_petitions_and_conclusions_meet_by_match_key_and_reveal_the_repeat() -> None:
    rig = Rig()
    events, cases = rig.settings.topics.events, rig.settings.topics.cases
    addr = "石家庄市长安区建设北大街12号"

    async def go() -> None:
        async with rig.rt.agents["repeat_subjects"].test_context() as subjects:
            await rig.put(subjects, events, received("A", T0, "13812345678", addr), "A")
            await rig.put(subjects, cases, concluded("A", T0 + timedelta(days=1)), "A")
            await rig.put(subjects, cases, concluded("A", T0 + timedelta(days=1)), "A")  # re-published: once
            await rig.put(subjects, events, received("B", T0 + timedelta(days=5), "138 1234 5678", None), "B")
            await rig.put(subjects, events, received("K", T0, None, None), "K")  # nothing to match it by
            await rig.put(subjects, cases, concluded("K", T0 + timedelta(days=1)), "K")
            table = rig.rt.app.tables["repeat-subject"]
            assert table.get("K") == {"k": []} and table.get("c|K") is None  # nothing left waiting
        facts = rig.to("repeat")
        assert [(k.split("|")[0], m["op"], m["v"][0]) for k, m in facts] == [
            ("phone", "p", "A"), ("address", "p", "A"), ("phone", "c", "A"), ("address", "c", "A"),
            ("phone", "p", "B")]
        assert not any("13812345678" in k or "建设" in k for k, _ in facts)  # keyed hashes only
        assert [m for _, m in rig.to("beat")] == [{"at": T0.isoformat()}, {"at": (T0 + timedelta(days=5)).isoformat()},
                                                   {"at": T0.isoformat()}]
        async with rig.rt.agents["repeat"].test_context() as repeat:
            for key, m in facts:
                await repeat.put(json.dumps(m).encode(), key=key, partition=0)
        out = rig.to(rig.settings.topics.repeats)
        assert [(k, m["earlier_case_id"], m["basis"], m["earlier_department"]) for k, m in out] == [
            ("B", "A", "phone", "长安区人社局")]

    asyncio.run(go())
