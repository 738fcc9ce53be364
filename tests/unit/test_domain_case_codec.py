"""The case record's one codec: round trip, and entries written by earlier workers still load."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from fengqiao.domain import case_codec as codec
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.case import CaseRecord, CaseRules, DispatchDue
from fengqiao.domain.policy import load_policy
from fengqiao.records import AlertRecord
from fengqiao.vocab import TZ

from tests.unit.domain_factory import assigned, received

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)


def a_record() -> CaseRecord:
    rules = CaseRules(load_policy(), load_calendar(), auto_dispatch=timedelta(hours=1))
    rec, _ = rules.on_event(None, received("K1", T0.isoformat(), urgency="urgent"), 3, T0)
    rec, _ = rules.on_event(rec, assigned("K1", T0.isoformat()), 3, T0 + timedelta(minutes=25))
    assert rec is not None and rec.alerts
    return rec


def test_round_trip_keeps_every_field() -> None:
    rec = a_record()
    back = codec.decode(codec.encode(rec))
    assert back == rec
    assert back.alerts.keys() == rec.alerts.keys() and back.alerts["sla:K1:sign:reminder:0"].alert is None
    assert json.loads(codec.encode(rec))[0] == codec.FORMAT  # compact: a list, positions only in the codec


def test_alert_json_is_the_contract_record() -> None:
    rec = a_record()
    alert = next(a for a in rec.raised_alerts())
    wire = json.loads(codec.alert_wire(alert))
    assert wire == AlertRecord.model_validate(codec.alert_to_json(alert)).model_dump(mode="json")
    assert codec.alert_from_json(wire) == alert


def test_entries_of_the_earlier_format_still_load() -> None:
    """What the worker wrote before (`{"s","p","a","w","d","dq","ov"}`, slots `{"r","n","t","rd"}`)."""
    rec = a_record()
    warning = rec.alerts["sla:K1:sign:warning:0"].alert
    assert warning is not None
    old = {"s": rec.state.to_dict(), "p": 3,
           "a": {"sla:K1:sign:reminder:0": {"r": None, "t": "sign", "rd": 0},
                 "sla:K1:sign:warning:0": {"r": AlertRecord.model_validate(codec.alert_to_json(warning))
                                           .model_dump(mode="json"), "n": None, "t": "sign", "rd": 0}},
           "w": (T0 + timedelta(minutes=30)).isoformat(), "d": 1,
           "dq": [1, (T0 + timedelta(hours=1)).isoformat()], "ov": False}
    got = codec.decode(json.dumps(old, ensure_ascii=False).encode())
    assert got.state == rec.state and got.partition == 3 and got.dispatched == 1
    assert got.dispatch_due == DispatchDue(1, T0 + timedelta(hours=1))
    assert got.wake_at == T0 + timedelta(minutes=30) and got.overdue is False
    assert got.alerts["sla:K1:sign:reminder:0"].alert is None
    assert got.alerts["sla:K1:sign:warning:0"].alert == warning
    assert codec.decode(codec.encode(got)) == got  # rewritten in the new form on its next change


def test_garbage_is_a_clear_error() -> None:
    with pytest.raises(codec.CodecError, match="不是案件记录"):
        codec.decode(b'{"x": 1}')
