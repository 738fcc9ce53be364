"""Authorization by what the caller may do (issue 11 item 6): the pure policy and the key settings."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from fengqiao.contract import Envelope, parse_event
from fengqiao.settings import GatewaySettings, KeyRole
from fengqiao.vocab import TZ
from producers.gateway.authz import AccessAudit, CaseFacts, Denial, KeyRing, Principal, decide, endpoint_denial, needs_case

pytestmark = pytest.mark.unit
KEYS = GatewaySettings(api_keys={
    "qrcode": "k-qr", "internal": "k-int",
    "zoning": {"secret": "k-zj", "role": "department", "departments": ["市住建局"]},
    "hotline-2": {"secret": "k-h2", "channel": "hotline"},
})
RING = KeyRing(KEYS.keys())
QR, PLATFORM, DEPT = RING.identify("k-qr"), RING.identify("k-int"), RING.identify("k-zj")
PAYLOADS: dict[str, dict[str, Any]] = {
    "petition.received": {"category": "help", "topic": "供水供暖", "urgency": "normal", "title": "停水", "content": "小区停水"},
    "case.signed": {"department": "市住建局"},
    "case.returned": {"department": "市住建局", "reason": "不属本单位"},
    "case.replied": {"department": "市住建局", "result": "已修复", "resolved": True},
    "case.extended": {"days": 5, "reason": "需现场勘验", "approved_by": "县信访局"},
    "case.evaluated": {"rating": "satisfied"},
    "case.archived": {},
    "case.assigned": {"department": "市住建局", "level": "city"},
    "case.escalated": {"to_level": "city", "reason": "超期"},
}


def ev(event_type: str, channel: str = "qrcode", actor: str | None = None, **payload: Any) -> Envelope:
    d: dict[str, Any] = {"schema_version": 1, "event_id": str(uuid.uuid4()), "event_type": event_type,
                         "case_id": "C-1", "occurred_at": (datetime.now(TZ) - timedelta(minutes=1)).isoformat(),
                         "region_code": "130627", "channel": channel,
                         "payload": {**PAYLOADS[event_type], **payload}}
    if actor:
        d["actor"] = {"role": actor, "id": "x-1"}
    return parse_event(json.dumps(d))


QR_CASE = CaseFacts(channel="qrcode", department="市住建局")


def test_simple_form_keeps_working_and_keys_carry_roles() -> None:
    keys = KEYS.keys()
    assert keys["qrcode"].role == KeyRole.intake and keys["qrcode"].channel == "qrcode"
    assert keys["internal"].role == KeyRole.platform
    assert keys["zoning"].departments == ("市住建局",) and keys["hotline-2"].channel == "hotline"
    assert "k-qr" not in repr(KEYS) and "k-zj" not in str(keys)  # SecretStr: never printed
    assert RING.identify("nope") is None and RING.identify("") is None and RING.identify(None) is None
    assert RING.identify("k-h2") == Principal("hotline-2", KeyRole.intake, "hotline")


@pytest.mark.parametrize("bad", [{"x": {"secret": "s", "role": "department"}},  # no departments
                                 {"nochannel": "s"}, {"y": {"secret": "s", "channel": "internal"}},
                                 {"web": ""}, {"z": {"secret": "s", "role": "boss"}}])
def test_inconsistent_keys_are_refused_at_start(bad: dict) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(api_keys=bad)


@pytest.mark.parametrize("event_type", ["case.archived", "case.extended", "case.assigned", "case.escalated",
                                        "case.signed", "case.returned"])
def test_citizen_channel_key_may_not_close_or_steer_a_case(event_type: str) -> None:
    """The finding: with the qrcode key, case.replied/archived/extended for any case were accepted."""
    channel = "internal" if event_type != "case.extended" else "qrcode"
    for ch in {channel, "qrcode"}:
        d = decide(QR, ev(event_type, ch), QR_CASE)
        assert d is not None and d.rule == "event_type" and d.zh and d.en


def test_citizen_channel_key_may_not_reply_resolved() -> None:
    d = decide(QR, ev("case.replied", "qrcode", resolved=True), QR_CASE)
    assert d is not None and "evaluations" in d.en and "评价" in d.zh


def test_intake_key_submits_petitions_of_its_channel_only() -> None:
    assert decide(QR, ev("petition.received", actor="citizen")) is None
    assert not needs_case(QR, ev("petition.received"))
    assert decide(QR, ev("petition.received", "web")).rule == "channel"  # type: ignore[union-attr]
    assert decide(QR, ev("petition.received", actor="platform")).rule == "actor"  # type: ignore[union-attr]


def test_citizen_evaluates_only_a_case_of_their_channel() -> None:
    e = ev("case.evaluated", actor="citizen")
    assert needs_case(QR, e)
    assert decide(QR, e, QR_CASE) is None
    assert decide(QR, e, CaseFacts("hotline", "市住建局")).rule == "case_channel"  # type: ignore[union-attr]
    assert decide(QR, e, None).rule == "unknown_case"  # type: ignore[union-attr]
    assert decide(QR, ev("case.evaluated", actor="department"), QR_CASE).rule == "actor"  # type: ignore[union-attr]


def test_department_acts_only_on_its_own_cases() -> None:
    for t in ("case.signed", "case.replied", "case.returned", "case.extended"):
        e = ev(t, "internal", actor="department")
        assert needs_case(DEPT, e)
        assert decide(DEPT, e, QR_CASE) is None, t
        assert decide(DEPT, e, CaseFacts("qrcode", "区环保局")).rule == "not_assigned"  # type: ignore[union-attr]
        assert decide(DEPT, e, None).rule == "unknown_case"  # type: ignore[union-attr]
    other = ev("case.signed", "internal", department="区环保局")
    assert decide(DEPT, other, QR_CASE).rule == "department"  # type: ignore[union-attr]
    for t in ("petition.received", "case.archived", "case.assigned", "case.evaluated"):
        assert decide(DEPT, ev(t, "internal"), QR_CASE).rule == "event_type"  # type: ignore[union-attr]
    assert decide(DEPT, ev("case.signed", "qrcode"), QR_CASE).rule == "channel"  # type: ignore[union-attr]


def test_platform_may_do_everything() -> None:
    for t in PAYLOADS:
        e = ev(t, "internal")
        assert not needs_case(PLATFORM, e) and decide(PLATFORM, e, None) is None


def test_endpoints_by_role() -> None:
    assert endpoint_denial(QR, {"qrcode"}) is None and endpoint_denial(PLATFORM, {"hotline"}) is None
    assert endpoint_denial(QR, {"hotline"}).rule == "endpoint"  # type: ignore[union-attr]
    assert endpoint_denial(DEPT, {"web", "qrcode"}) is not None


def test_audit_record_names_who_and_why_without_personal_data() -> None:
    e = ev("petition.received", "web", citizen={"name": "张*", "phone": "139****2222"}, content="张三丰 13911112222 停水")
    d = decide(QR, e)
    assert d is not None
    raw = AccessAudit.of(QR, d, path="/v1/events", at=datetime.now(TZ), ev=e).to_json().decode()
    rec = json.loads(raw)
    assert {k: v for k, v in rec.items() if k not in ("at", "reason")} == {
        "key": "qrcode", "role": "intake", "path": "/v1/events", "rule": "channel",
        "event_type": "petition.received", "event_id": str(e.event_id), "case_id": "C-1", "channel": "web"}
    assert "1391111" not in raw and "张" not in raw and "k-qr" not in raw and "停水" not in raw
    assert " / " in rec["reason"]


def test_audit_trail_never_blocks_or_raises_on_a_failing_broker() -> None:
    from producers.gateway.audit import AuditTrail

    got: list[bytes] = []
    rec = AccessAudit.of(QR, Denial("endpoint", "e", "z"), path="/x", at=datetime.now(TZ))
    ok, down = AuditTrail(got.append), AuditTrail(lambda raw: (_ for _ in ()).throw(ConnectionError("down")))
    for trail in (ok, down):
        trail.put(rec)
        trail.close()
    assert got == [rec.to_json()]
    assert Principal.for_channel("internal").is_platform and Principal.for_channel("web").channel == "web"
