"""No silent drop (issue 11, item 2): a generated corpus of hostile messages, written straight
to the events and commands topics on the real broker, read by one real `fengqiao streams`
worker and by the sink (in this process, real chDB). Exactly one dead letter per hostile
message and consumer, each naming its reason and source topic/partition/offset; the good
messages sent after them (same partition) are applied: case snapshots, rows in the store.

Before this issue `occurred_at` 9999-12-31 / 0001-01-01 passed the contract and crashed the
case agent in the SLA arithmetic (`ValueError: year 10000 is out of range`, `OverflowError`):
Faust restarted the agent and the message vanished, no case and no dead letter."""

from __future__ import annotations

import json
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from kafka import KafkaProducer

from fengqiao.settings import Settings, SinkSettings, reveal
from fengqiao.signing import signed_headers

from tests.integration.streams_harness import TZ, Reader, Worker, event, received, worker_env
from tests.integration.test_sink import query, sink_thread, wait_until

pytestmark = pytest.mark.integration
KEY = b"G-last"  # every hostile event shares the partition of the good case sent after them


def _raw(e: dict[str, Any]) -> bytes:
    return json.dumps(e, ensure_ascii=False).encode()


def hostile_events(now: datetime) -> list[tuple[str, bytes | None]]:
    """(what, value) pairs; each must become exactly one dead letter."""
    ok = received("H-1", now)
    out: list[tuple[str, bytes | None]] = [
        ("not JSON", b"{not json"),
        ("empty value", b""),
        ("tombstone", None),
        ("non-UTF-8", b"\xff\xfe\x00\x81"),
        ("JSON null", b"null"),
        ("JSON array", b"[]"),
        ("JSON string", b'"petition"'),
        ("[ x 100,000", b"[" * 100_000),
        ("deep object", b'{"a":' * 5_000 + b"1" + b"}" * 5_000),
        ("5,000-digit integer", b'{"schema_version": ' + b"9" * 5_000 + b"}"),
        ("over 64 KiB", _raw({**ok, "payload": {**ok["payload"], "content": "长" * 30_000}})),
        ("occurred_at 9999-12-31", _raw({**ok, "case_id": "H-9999", "occurred_at": "9999-12-31T23:59:59+08:00"})),
        ("occurred_at 0001-01-01", _raw({**ok, "case_id": "H-0001", "occurred_at": "0001-01-01T00:00:00+08:00"})),
        ("two days ahead", _raw({**ok, "case_id": "H-ahead", "occurred_at": (now + timedelta(days=2)).isoformat()})),
        ("case_id a number", _raw({**ok, "case_id": 12345})),
        ("payload a list", _raw({**ok, "payload": [1, 2]})),
        ("unknown event type", _raw({**ok, "event_type": "case.teleported"})),
        ("outside Hebei", _raw({**ok, "region_code": "110105"})),
        ("NaN latitude", _raw(ok).replace(b'"payload": {', b'"payload": {"location": {"lat": NaN, "lon": 114.5}, ', 1)),
        ("extension of 10^30 days", _raw(event("H-1", "case.extended", now, {"days": 10 ** 30, "reason": "r",
                                                                              "approved_by": "x"}))),
        ("lifecycle: signed before received", _raw(event("H-nocase", "case.signed", now, {"department": "d"}))),
        ("clear phone, bad urgency", _raw({**ok, "payload": {**ok["payload"], "urgency": "asap",
                                                             "content": "请回电 138 1234 5678"}})),
    ]
    return out


def command(kind: str, **fields: Any) -> dict[str, Any]:
    return {"command_id": str(uuid.uuid4()), "type": kind, "issued_at": datetime.now(TZ).isoformat(),
            "officer_id": "officer-1", **fields}


def hostile_commands(key: str) -> list[tuple[str, bytes | None, bool]]:
    """(what, value, signed) for the commands topic; each must become exactly one dead letter."""
    ack = command("alert.acknowledge", alert_id="no-such-alert")
    return [
        ("unsigned", _raw(command("case.escalate", case_id="G-0", to_level="city", reason="r")), False),
        ("signed, not JSON", b"{not json", True),
        ("signed, non-UTF-8", b"\xff\xfe", True),
        ("signed, [ x 100,000", b"[" * 100_000, True),
        ("signed, 5,000-digit integer", b'{"issued_at": ' + b"9" * 5_000 + b"}", True),
        ("signed, unknown type", _raw(command("case.teleport", case_id="G-0")), True),
        ("signed, officer_id too long", _raw(command("case.escalate", case_id="G-0", to_level="city",
                                                     reason="r", officer_id="x" * 500)), True),
        ("signed, unknown alert (dead-lettered by alert-index)", _raw(ack), True),
        ("signed, escalate an unknown case (dead-lettered by the case agent)",
         _raw(command("case.escalate", case_id="NO-SUCH-CASE", to_level="city", reason="r")), True),
    ]


def test_every_hostile_message_is_one_dead_letter_and_the_stream_goes_on(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory(sink=SinkSettings(group_id=f"sink-{uuid.uuid4().hex[:8]}", batch_rows=400,
                                                  batch_seconds=0.3))
    t = settings.topics
    w = Worker(worker_env(settings), tmp_path / "w", tmp_path / "w.log")
    dlq, cases = Reader(settings, t.dlq), Reader(settings, t.cases)
    p = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5,
                      max_request_size=2 * 1024 * 1024)
    stack = ExitStack()
    try:
        w.wait_ready()
        stack.enter_context(sink_thread(settings))
        now = datetime.now(TZ)
        bad_events = hostile_events(now)
        for _, value in bad_events:
            p.send(t.events, key=KEY, value=value)
        good = [received(f"G-{i}", now - timedelta(minutes=i)) for i in range(4)] + [received("G-last", now)]
        for e in good:
            p.send(t.events, key=e["case_id"].encode(), value=_raw(e))
        p.flush()

        def snapshots(wait: float, until: Callable[[dict[str, dict[str, Any]]], bool]) -> dict[str, dict[str, Any]]:
            end = time.time() + wait
            last: dict[str, dict[str, Any]] = {}
            while time.time() < end:
                for s in sorted(cases.poll(0.5), key=lambda s: s["version"]):
                    last[s["case_id"]] = s
                if until(last):
                    break
            return last

        last = snapshots(60, lambda last: {e["case_id"] for e in good} <= set(last))
        assert {e["case_id"] for e in good} <= set(last), "good events after the hostile ones were not applied"
        assert not {"H-9999", "H-0001", "H-ahead"} & set(last)

        key = reveal(settings.command_key)
        bad_commands = hostile_commands("G-0")
        for _, value, signed in bad_commands:
            headers = signed_headers(key, value or b"") if signed else None
            p.send(t.commands, key=b"G-0", value=value, headers=headers)
        esc = _raw(command("case.escalate", case_id="G-0", to_level="city", reason="二次不满意"))
        p.send(t.commands, key=b"G-0", value=esc, headers=signed_headers(key, esc))
        p.flush()

        last = snapshots(60, lambda last: last.get("G-0", {}).get("escalation_level", 0) >= 1)
        assert last["G-0"]["escalation_level"] >= 1, "the good command after the hostile ones was not applied"

        db = settings.clickhouse_database
        wait_until(lambda: query(settings, f"SELECT count() FROM {db}.events WHERE case_id LIKE 'G-%'")[0][0]
                   >= len(good) + 1, 60, "the good events and the escalation in the store")
        # the sink: every hostile event but the lifecycle one (the sink does not judge the lifecycle), every
        # hostile command but the unknown alert and case (a well-formed, signed command is stored as it is)
        sink_want = len(bad_events) - 1 + len(bad_commands) - 2
        want = len(bad_events) + len(bad_commands) + sink_want
        everything: list[dict[str, Any]] = []
        end = time.time() + 30
        while time.time() < end and len(everything) < want:
            everything = dlq.poll(0.5)
        everything = dlq.poll(2.0)  # and nothing more arrives
        (tmp_path / "dead.json").write_text(json.dumps(everything, ensure_ascii=False, indent=1), "utf-8")
        sunk = [d for d in everything if d["source"] == "sink"]
        assert len(sunk) == sink_want, sorted((d["topic"], d["error"][:60]) for d in sunk)
        assert all(d["topic"] in (t.events, t.commands) and d["offset"] is not None for d in sunk)
        dead = [d for d in everything if d["source"] != "sink"]
        got = sorted((d["topic"], d["error"][:60]) for d in dead)
        assert len(dead) == len(bad_events) + len(bad_commands), got
        for d in dead:
            assert d["source"] == "streams" and d["error"]
            assert d["topic"] and d["partition"] is not None and d["offset"] is not None, d
        by_topic: dict[str, int] = {}
        for d in dead:
            by_topic[d["topic"]] = by_topic.get(d["topic"], 0) + 1
        assert by_topic.pop(t.events) == len(bad_events)
        assert by_topic.pop(t.commands) == len(bad_commands) - 2
        assert sorted(by_topic.values()) == [1, 1]  # the unknown alert id (alert-index), the unknown case (case-ops)
        assert sorted(k.split("-", 2)[-1] for k in by_topic) == ["alert-index", "case-ops"]  # it-<tag>-<name>
        ev_offsets = sorted(d["offset"] for d in dead if d["topic"] == t.events)
        assert len(set(ev_offsets)) == len(bad_events)  # one per message, none twice
        errors = " ".join(d["error"] for d in dead)
        assert "occurred_at" in errors and "时间超出允许范围" in errors
        phone = [d for d in dead if d["raw_encoding"] == "sealed"]
        assert phone and all("5678" not in d["raw"] for d in phone)  # clear contact data travels sealed
        assert "138 1234 5678" not in json.dumps(everything, ensure_ascii=False)
        assert "Traceback" not in w.log.read_text("utf-8", "replace")
    finally:
        stack.close()  # the sink stops first (and raises what failed in it)
        p.close()
        dlq.close()
        cases.close()
        assert w.stop() == 0
