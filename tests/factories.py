"""Small, deterministic factories of valid contract events for tests and benches.

`event_messages(seed, count)` returns `(key, value)` byte pairs ready for Kafka.
It uses the producers' simulator (`producers.simulator.generate_events`) when
it is there, and otherwise a local generator of valid events of several types.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from fengqiao.contract import parse_event
from fengqiao.privacy import protect_citizen
from fengqiao.regions import counties, prefectures

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 23, 8, 0, tzinfo=CST)
TOPICS = ("劳资纠纷", "物业管理", "邻里纠纷", "征地拆迁", "婚姻家庭", "环境污染")
CATEGORIES = ("consult", "help", "dispute", "report", "complaint", "suggestion")
CHANNELS = ("hotline", "web", "app", "wechat", "qrcode", "window")


def _as_bytes(ev: Any) -> tuple[bytes, bytes]:
    if isinstance(ev, (bytes, str)):
        raw = ev.encode() if isinstance(ev, str) else ev
        parsed = parse_event(raw)
        return parsed.case_id.encode(), raw
    if isinstance(ev, dict):
        return str(ev["case_id"]).encode(), json.dumps(ev, ensure_ascii=False).encode()
    return ev.key(), ev.to_json()


def event_messages(seed: int, count: int, local: bool = False) -> list[tuple[bytes, bytes]]:
    """`count` valid events as (key, value) bytes; deterministic for a seed."""
    if not local:
        try:
            from producers.simulator import generate_events  # type: ignore[import-not-found]
        except ImportError:
            generate_events = None
        if generate_events is not None:
            out = []
            for item in generate_events(seed, count):
                ev = item[1] if isinstance(item, tuple) else item
                out.append(_as_bytes(ev))
            return out[:count]
    return [(d["case_id"].encode(), json.dumps(d, ensure_ascii=False).encode()) for d in local_events(seed, count)]


def local_events(seed: int, count: int) -> Iterator[dict[str, Any]]:
    """Petitions, each followed by a few lifecycle events, as JSON-ready dicts."""
    rng = random.Random(seed)
    regions = [r.code for r in counties()] + [r.code for r in prefectures()]
    n = 0
    case_no = 0
    t = START
    while n < count:
        case_no += 1
        case_id = f"HB{seed:04d}-{case_no:07d}"
        region = rng.choice(regions)
        channel = rng.choice(CHANNELS)
        t += timedelta(seconds=rng.randint(1, 30))

        def ev(etype: str, payload: dict[str, Any], at: datetime, actor: dict[str, Any] | None = None) -> dict[str, Any]:
            d: dict[str, Any] = {
                "schema_version": 1,
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "event_type": etype,
                "case_id": case_id,
                "occurred_at": at.isoformat(),
                "region_code": region,
                "channel": channel if etype == "petition.received" else "internal",
                "payload": payload,
            }
            if actor:
                d["actor"] = actor
            return d

        citizen = protect_citizen(
            {"name": "张三丰", "phone": f"138{rng.randint(0, 99_999_999):08d}"}, "fengqiao-dev-only-change-me"
        )
        steps = [
            ev("petition.received", {
                "category": rng.choice(CATEGORIES), "topic": rng.choice(TOPICS),
                "urgency": rng.choice(("urgent", "pressing", "normal")),
                "title": "工资拖欠问题", "content": "请求协调解决拖欠工资问题。", "citizen": citizen,
            }, t, {"role": "citizen", "id": "c-1"}),
            ev("case.assigned", {"department": "乡镇综治中心", "level": "township"}, t + timedelta(minutes=5)),
            ev("case.signed", {"department": "乡镇综治中心"}, t + timedelta(minutes=20)),
            ev("case.replied", {"department": "乡镇综治中心", "result": "已协调解决", "resolved": True},
               t + timedelta(hours=5)),
        ]
        for d in steps[: rng.randint(1, len(steps))]:
            if n >= count:
                break
            n += 1
            yield d
