"""The wire contract: strict models, field-naming errors, the validate/schema CLI."""

from __future__ import annotations

import contextvars
import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from fengqiao.contract import (
    EVENT_TYPES, ContractError, Limits, PetitionReceived, configure, current_limits, limits_in_effect, load_json,
    parse_event,
)

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


# ------------------------------------------------------------------ bounds (issue 11, item 1)
@pytest.mark.parametrize("at", ["9999-12-31T23:59:59+08:00", "0001-01-01T00:00:00+08:00",
                                "1999-12-31T23:59:59+08:00", "0001-01-01T00:00:00-12:00",
                                "9999-12-31T23:59:59-12:00"])
def test_occurred_at_outside_the_window_is_refused_in_both_languages(at: str) -> None:
    """Hotline exports carry 9999-12-31 / 0001-01-01; they used to pass and crash the SLA maths."""
    with pytest.raises(ContractError) as exc:
        parse_event(json.dumps(event(occurred_at=at)))
    (r,) = exc.value.reasons
    assert r["field"] == "occurred_at" and r["type"] == "instant_window"
    assert "2000-01-01" in r["en"] and "时间超出允许范围" in r["zh"] and "2000-01-01" in r["zh"]


def test_window_edges_and_a_tomorrow_instant() -> None:
    now = datetime.now(timezone.utc)
    with limits_in_effect(Limits()):  # the default window (the test suite widens it for modelled time)
        assert parse_event(event(occurred_at="2000-01-01T00:00:00+08:00"))
        assert parse_event(event(occurred_at=(now + timedelta(hours=23)).isoformat()))
        assert fields_of(event(occurred_at=(now + timedelta(hours=25)).isoformat())) == {"occurred_at"}


def test_window_is_injected_not_read_from_the_environment() -> None:
    t0 = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
    limits = Limits(earliest=datetime(2026, 1, 1, tzinfo=timezone.utc), ahead=timedelta(hours=1), clock=lambda: t0)
    with limits_in_effect(limits):
        assert current_limits() is limits
        assert fields_of(event(occurred_at="2025-12-31T23:00:00+00:00")) == {"occurred_at"}
        assert fields_of(event(occurred_at="2026-11-26T13:30:00+00:00")) == {"occurred_at"}
        assert parse_event(event(occurred_at="2026-11-26T12:30:00+00:00"))
    assert parse_event(event(occurred_at="2025-12-31T23:00:00+00:00"))  # the outer limits again
    assert current_limits() is not limits


def test_configure_sets_the_process_default() -> None:
    def check() -> None:  # in a fresh context: no scoped limits, the process default applies
        assert current_limits() == Limits()
        configure(Limits(earliest=datetime(2026, 6, 1, tzinfo=timezone.utc)))
        try:
            assert fields_of(event(occurred_at="2026-05-31T00:00:00+00:00")) == {"occurred_at"}
        finally:
            configure(Limits())
        assert parse_event(event(occurred_at="2026-05-31T00:00:00+00:00"))

    contextvars.Context().run(check)


def test_settings_carry_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from fengqiao.settings import Settings

    monkeypatch.setenv("FENGQIAO_CONTRACT__EARLIEST", "2010-01-01T00:00:00+08:00")
    monkeypatch.setenv("FENGQIAO_CONTRACT__AHEAD_HOURS", "2")
    lim = Settings().contract.limits()
    assert lim.earliest == datetime(2010, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    assert lim.ahead == timedelta(hours=2) and lim.max_bytes == 65536 and lim.max_depth == 32


@pytest.mark.parametrize("raw", [
    b"[" * 100_000,
    b'{"a":' * 100_000,
    b'{"payload":' * 40 + b"1" + b"}" * 40,
    ("[" * 33 + "]" * 33).encode(),
    b'{"schema_version": ' + b"9" * 5000 + b"}",
    b" " * (64 * 1024 + 1),
    ("x" * 70_000),
])
def test_huge_and_deep_json_is_a_clean_contract_error(raw: bytes | str) -> None:
    with pytest.raises(ContractError) as exc:
        parse_event(raw)
    assert exc.value.reasons and exc.value.bilingual()
    with pytest.raises(ContractError):
        load_json(raw)


def test_depth_counts_brackets_outside_strings_only() -> None:
    e = event()
    e["payload"]["content"] = "[{" * 1000  # inside a string: not nesting
    assert parse_event(json.dumps(e, ensure_ascii=False))
    with pytest.raises(ContractError) as exc:
        parse_event(b"[" * 40 + b"]" * 40)
    assert exc.value.reasons[0]["type"] == "json_too_deep" and "32" in exc.value.reasons[0]["zh"]


def test_load_json_bounds_and_big_integers() -> None:
    assert load_json(b'{"a": [1, 2]}') == {"a": [1, 2]}
    for raw in (b"9" * 5000, b"[" * 50_000, b"{bad", b"\xff\xfe"):
        with pytest.raises(ContractError) as exc:
            load_json(raw, max_bytes=1 << 20)
        assert exc.value.reasons[0]["zh"]
    with pytest.raises(ContractError) as exc:
        load_json(b"[1]" + b" " * 100, max_bytes=10)
    assert exc.value.reasons[0]["type"] == "json_too_large"


@pytest.mark.parametrize("lat,lon", [(float("nan"), 114.5), (38.0, float("inf")), (91, 114.5), (38.0, -181)])
def test_coordinates_bounded_and_finite(lat: float, lon: float) -> None:
    bad = event()
    bad["payload"]["location"] = {"lat": lat, "lon": lon}
    assert fields_of(bad) & {"payload.location.lat", "payload.location.lon"}


def test_nan_literal_in_json_is_refused() -> None:
    raw = json.dumps(event()).replace('"payload": {', '"payload": {"location": {"lat": NaN, "lon": 114.5}, ', 1)
    assert fields_of(raw) == {"payload.location.lat"}


@pytest.mark.parametrize("path,limit", [
    (("actor", "id"), 100), (("actor", "name"), 100),
    (("payload", "department"), 100), (("payload", "reason"), 200), (("payload", "result"), 4000),
    (("payload", "comment"), 1000), (("payload", "answer"), 4000), (("payload", "into_case_id"), 64),
    (("payload", "location", "address"), 200), (("payload", "citizen", "name"), 100),
])
def test_every_string_field_is_bounded(path: tuple[str, ...], limit: int) -> None:
    etype = {"department": "case.returned", "reason": "case.returned", "result": "case.replied",
             "comment": "case.evaluated", "answer": "case.resolved_online",
             "into_case_id": "case.merged"}.get(path[-1], "petition.received")
    bad = event(etype)
    bad["actor"] = {"role": "operator", "id": "op-7"}
    target = bad
    for k in path[:-1]:
        target = target.setdefault(k, {"lat": 38.0, "lon": 114.5} if k == "location" else {})
    target[path[-1]] = "x" * (limit + 1)
    assert fields_of(bad) == {".".join(path)}


def test_big_integer_in_a_dict_names_the_field() -> None:
    bad = event("case.extended")
    bad["payload"]["days"] = 10 ** 5000
    assert fields_of(bad) == {"payload.days"}


@pytest.mark.parametrize("raw", [None, b"", ""])
def test_empty_message_and_tombstone(raw: Any) -> None:
    assert fields_of(raw) == {"(event)"}


def test_commands_are_bounded_too() -> None:
    from pydantic import TypeAdapter, ValidationError

    from fengqiao.records import Command

    adapter: TypeAdapter[Any] = TypeAdapter(Command)
    base = {"command_id": str(uuid.uuid4()), "type": "alert.acknowledge", "officer_id": "o-1", "alert_id": "a-1"}
    assert adapter.validate_python({**base, "issued_at": "2026-11-26T09:30:00+08:00"})
    for bad in ({"issued_at": "9999-12-31T23:59:59+08:00"}, {"issued_at": "0001-01-01T00:00:00+08:00"},
                {"issued_at": "2026-11-26T09:30:00+08:00", "alert_id": "x" * 201}):
        with pytest.raises(ValidationError):
            adapter.validate_python({**base, **bad})
