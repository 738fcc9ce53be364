"""Operator commands → `petitions.commands` (kafka-python, acks=all).

`issue()` checks the user's role first (server-side, at the moment of
sending), builds the command record from `fengqiao.records` with the officer
the console authenticated, signs it (`fengqiao.signing`: the worker applies
only signed commands) and waits for the broker's acknowledgement, so the
officer sees an error instead of a silently lost command. The streams worker
turns acknowledge/silence/escalate into new alert or case states;
`case.reveal_contact` is an audit record, and `reveal_contact()` returns the
clear contact data only after that record was acknowledged (fails closed).
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any, Callable

from pydantic import TypeAdapter

from dashboard.auth import Forbidden, User, require
from fengqiao.records import Command
from fengqiao.settings import Settings, reveal
from fengqiao.signing import signed_headers
from fengqiao.vocab import TZ as SH

_adapter: TypeAdapter = TypeAdapter(Command)


class NotRecorded(RuntimeError):
    """The broker did not acknowledge the command (or its audit record): nothing may follow from it."""


class OutOfJurisdiction(Forbidden):
    """The case lies outside the officer's region scope."""
_producers: dict[str, Any] = {}
_lock = threading.Lock()


def _producer(bootstrap: str, timeout: float) -> Any:
    from kafka import KafkaProducer

    with _lock:
        p = _producers.get(bootstrap)
        if p is None:
            ms = int(timeout * 1000)
            p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0, retries=2,
                              request_timeout_ms=ms, max_block_ms=ms, delivery_timeout_ms=ms, bootstrap_timeout_ms=ms)
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
    """Check the role, publish the signed command keyed by alert_id/case_id, wait for acks=all.

    Raises `Forbidden` for a wrong role, `NotRecorded` when the broker did not acknowledge."""
    cmd = build(user, ctype, **fields)
    key = getattr(cmd, "alert_id", None) or getattr(cmd, "case_id", None)
    value = cmd.to_json()
    try:
        publish(settings, settings.topics.commands, str(key).encode(), value,
                signed_headers(reveal(settings.command_key), value))
    except NotRecorded as exc:
        raise NotRecorded(f"指令未被确认写入 Command not acknowledged by Kafka: {exc}") from exc.__cause__
    return cmd


def publish(settings: Settings, topic: str, key: bytes | None, value: bytes,
            headers: list[tuple[str, bytes]] | None = None) -> None:
    """Send one record and return only after the broker acknowledged it (acks=all); `NotRecorded`
    otherwise. The one acked producer of the dashboard: commands, and the desks' events and audit."""
    timeout = settings.wall.command_timeout_seconds
    try:
        _producer(settings.kafka_bootstrap, timeout).send(topic, key=key, value=value, headers=headers).get(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means "not recorded"
        raise NotRecorded(type(exc).__name__) from exc


def reveal_contact(settings: Settings, user: User, case: dict[str, Any], reason: str,
                   unseal: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The case's clear contact data, only for an officer whose scope covers the case's region and only
    after the audit record was acknowledged (acks=all); raises otherwise and shows nothing."""
    require(user, "case.reveal_contact")
    region = str(case.get("region_code") or "")
    if not user.scope:
        raise OutOfJurisdiction(f"未设置辖区，不能查看联系方式 no jurisdiction (scope) set for user {user.username}")
    if not user.covers(region):
        raise OutOfJurisdiction(f"案件属地 {region} 不在您的辖区内 case region {region} is outside your jurisdiction")
    try:
        issue(settings, user, "case.reveal_contact", case_id=case["case_id"], reason=reason)
    except NotRecorded as exc:
        raise NotRecorded(f"审计记录未能写入，联系方式不予显示 Audit record not acknowledged: contact data not shown "
                          f"({exc.__cause__.__class__.__name__})") from exc
    return unseal(str(case.get("sealed") or ""))
