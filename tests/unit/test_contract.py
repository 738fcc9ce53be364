"""The wire contract: strict models, field-naming errors, the validate/schema CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from fengqiao.contract import EVENT_TYPES, ContractError, PetitionReceived, parse_event

pytestmark = pytest.mark.unit

PAYLOADS: dict[str, dict[str, Any]] = {
    "petition.received": {"category": "dispute", "topic": "劳资纠纷", "urgency": "normal",
                          "title": "讨薪", "content": "工地拖欠工资三个月",
                          "citizen": {"name": "张**", "phone": "138****5678"}},
    "case.assigned": {"department": "桥西区人社局", "level": "county"},
    "case.signed": {"department": "桥西区人社局"},
    "case.returned": {"department": "桥西区人社局", "reason": "不属于本部门职责"},
    "case.replied": {"department": "桥西区人社局", "result": "已督促支付", "resolved": True},
    "case.extended": {"days": 5, "reason": "需现场核查", "approved_by": "王科长"},
    "case.evaluated": {"rating": "dissatisfied"},
    "case.callback": {"reached": True, "rating": "satisfied"},
    "case.escalated": {"to_level": "city", "reason": "二次不满意"},
    "case.resolved_online": {"answer": "请携带身份证到窗口办理"},
    "case.merged": {"into_case_id": "C-0001"},
    "case.archived": {},
}


def event(event_type: str = "petition.received", **over: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "case_id": "HB-2026-000001",
        "occurred_at": "2026-11-26T09:30:00+08:00",
        "region_code": "130104",
        "channel": "hotline",
        "actor": {"role": "operator", "id": "op-7"},
        "payload": dict(PAYLOADS[event_type]),
    }
    e.update(over)
    return e


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_parses_to_its_model(event_type: str) -> None:
    parsed = parse_event(event(event_type))
    assert parsed.event_type == event_type
    again = parse_event(parsed.to_json())
    assert again == parsed


def test_received_payload_defaults() -> None:
    parsed = parse_event(event())
    assert isinstance(parsed, PetitionReceived)
    assert parsed.payload.formal_petition is False


def fields_of(raw: Any) -> set[str]:
    with pytest.raises(ContractError) as exc:
        parse_event(raw)
    return {r["field"] for r in exc.value.reasons}


def test_naive_timestamp_rejected() -> None:
    assert fields_of(event(occurred_at="2026-11-26T09:30:00")) == {"occurred_at"}


def test_unknown_fields_rejected_at_every_level() -> None:
    assert fields_of(event(extra=1)) == {"extra"}
    bad = event()
    bad["payload"]["mood"] = "angry"
    assert fields_of(bad) == {"payload.mood"}


def test_bad_enum_and_code_outside_hebei() -> None:
    assert fields_of(event(channel="fax")) == {"channel"}
    assert fields_of(event(region_code="110105")) == {"region_code"}  # Beijing
    assert fields_of(event(region_code="13010")) == {"region_code"}


def test_over_long_text_names_the_field_in_both_languages() -> None:
    bad = event()
    bad["payload"]["title"] = "长" * 101
    with pytest.raises(ContractError) as exc:
        parse_event(bad)
    assert exc.value.reasons[0]["field"] == "payload.title"
    assert "100" in exc.value.reasons[0]["en"] and "100" in exc.value.reasons[0]["zh"]
    assert "payload.title" in exc.value.bilingual()


def test_case_id_event_id_and_version() -> None:
    assert fields_of(event(case_id="bad id!")) == {"case_id"}
    assert fields_of(event(case_id="x" * 65)) == {"case_id"}
    assert fields_of(event(event_id="not-a-uuid")) == {"event_id"}
    assert fields_of(event(schema_version=2)) == {"schema_version"}


def test_unknown_event_type_and_garbage_bytes() -> None:
    bad = event()
    bad["event_type"] = "case.teleported"
    assert fields_of(bad) == {"event_type"}
    assert fields_of(b"{not json") == {"(event)"}
    assert fields_of(b"\xff\xfe") != set()


def test_extension_days_bounded() -> None:
    bad = event("case.extended")
    bad["payload"]["days"] = 31
    assert fields_of(bad) == {"payload.days"}


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fengqiao.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_validate_cli_reports_each_line_and_exit_status() -> None:
    good = json.dumps(event(), ensure_ascii=False)
    bad = json.dumps(event(occurred_at="2026-11-26T09:30:00"), ensure_ascii=False)
    ok = run_cli("validate", stdin=good + "\n")
    assert ok.returncode == 0 and ok.stdout.split() == ["ok"]
    mixed = run_cli("validate", stdin=f"{good}\n{bad}\n")
    lines = mixed.stdout.splitlines()
    assert mixed.returncode == 1
    assert lines[0] == "ok"
    assert lines[1].startswith("error: ") and "occurred_at" in lines[1]


def test_schema_cli_prints_the_union() -> None:
    out = run_cli("schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    text = json.dumps(schema)
    for t in EVENT_TYPES:
        assert t in text
    assert "discriminator" in text
