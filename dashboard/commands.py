"""Operator commands → `petitions.commands` (kafka-python, acks=all).

`issue()` checks the user's role first (server-side, at the moment of
sending), builds the command record from `fengqiao.records`, and waits for
the broker's acknowledgement, so the officer sees an error instead of a
silently lost command. The streams worker turns acknowledge/silence/escalate
into new alert or case states; `case.reveal_contact` is an audit record.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from dashboard.auth import User, require
from fengqiao.records import Command
from fengqiao.settings import Settings

SH = ZoneInfo("Asia/Shanghai")
_adapter: TypeAdapter = TypeAdapter(Command)
_producers: dict[str, Any] = {}
_lock = threading.Lock()


def _producer(bootstrap: str) -> Any:
    from kafka import KafkaProducer

    with _lock:
        p = _producers.get(bootstrap)
        if p is None:
            p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                              request_timeout_ms=10000, max_block_ms=10000)
            _producers[bootstrap] = p
        return p


def build(user: User, ctype: str, **fields: Any) -> Any:
    """A validated command record issued by `user` now (raises Forbidden for a wrong role)."""
    require(user, ctype)
    return _adapter.validate_python({
        "command_id": str(uuid.uuid4()), "type": ctype, "issued_at": datetime.now(SH),
        "officer_id": user.username, **fields,
    })


def issue(settings: Settings, user: User, ctype: str, **fields: Any) -> Any:
    """Check the role, publish the command keyed by alert_id/case_id, wait for acks=all."""
    cmd = build(user, ctype, **fields)
    key = getattr(cmd, "alert_id", None) or getattr(cmd, "case_id", None)
    fut = _producer(settings.kafka_bootstrap).send(settings.topics.commands, key=str(key).encode(), value=cmd.to_json())
    fut.get(timeout=10)
    return cmd
