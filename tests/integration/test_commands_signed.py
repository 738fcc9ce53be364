"""Issue 11: "the commands topic trusts any officer_id". A real `fengqiao streams` worker on the real
broker now applies only commands signed with the console's key: an unsigned one, one signed with
another key and a signed one whose officer_id was changed afterwards are dead letters with the
reason; the signed one is applied (a hand escalation becomes a `case.escalated` event)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from fengqiao.settings import Settings, reveal
from fengqiao.signing import HEADER, signature
from tests.integration.streams_harness import TZ, Reader, Worker, producer, received, send, send_command, worker_env

pytestmark = pytest.mark.integration


def escalation(case_id: str, officer: str) -> dict[str, Any]:
    return {"command_id": str(uuid.uuid4()), "type": "case.escalate", "case_id": case_id, "to_level": "county",
            "reason": "久拖未办", "issued_at": datetime.now(TZ).isoformat(), "officer_id": officer}


def test_the_worker_applies_signed_commands_and_dead_letters_forged_ones(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory()
    key = reveal(settings.command_key)
    case_id = "SIG-1"
    w = Worker(worker_env(settings), tmp_path / "w", tmp_path / "w.log")
    try:
        w.wait_ready()
        p = producer(settings)
        send(p, settings.topics.events, [received(case_id, datetime.now(TZ))])
        events = Reader(settings, settings.topics.events)
        dlq = Reader(settings, settings.topics.dlq)

        unsigned = json.dumps(escalation(case_id, "intruder")).encode()
        other_key = json.dumps(escalation(case_id, "intruder")).encode()
        genuine = json.dumps(escalation(case_id, "duty-1")).encode()
        altered = genuine.replace(b'"duty-1"', b'"director"')  # the signature of the genuine bytes, replayed
        forged = [(unsigned, []), (other_key, [(HEADER, signature("not-the-console-key", other_key))]),
                  (altered, [(HEADER, signature(key, genuine))])]
        for value, headers in forged:
            p.send(settings.topics.commands, key=case_id.encode(), value=value, headers=headers)
        p.flush()
        send_command(p, settings, escalation(case_id, "duty-1"), key_of="case_id")
        p.close()

        escalated: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        end = time.time() + 45
        while time.time() < end and not (escalated and len(dead) >= 3):
            escalated = [e for e in events.poll(0.5) if e.get("event_type") == "case.escalated"]
            dead = dlq.poll(0.2)
        time.sleep(1)
        escalated = [e for e in events.poll(0.5) if e.get("event_type") == "case.escalated"]
        dead = dlq.poll(0.5)
        events.close()
        dlq.close()
    finally:
        w.stop()
    assert len(escalated) == 1 and escalated[0]["case_id"] == case_id
    assert "intruder" not in json.dumps(escalated) and "director" not in json.dumps(escalated)
    assert len(dead) == 3, dead
    assert all(d["source"] == "streams" and d["topic"] == settings.topics.commands and d["offset"] is not None
               for d in dead)
    errors = sorted(d["error"] for d in dead)
    assert sum("未签名" in e and "unsigned" in e for e in errors) == 1
    assert sum("签名不符" in e and "forged" in e for e in errors) == 2
