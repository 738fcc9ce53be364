"""The sink's pure parts: record → row mapping, masking, and the batching order."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from fengqiao.records import AlertRecord, CaseSnapshot, RegionStats
from sinks.batching import TP, BatchingSink, SinkStopped
from sinks.rows import COLUMNS, map_alert, map_case, map_command, map_event, map_stats, scrub_text
from sinks.schema import TABLES

pytestmark = pytest.mark.unit

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=CST)
KEY = "unit-test-key"


def received(**payload_over: object) -> dict:
    payload = {
        "category": "dispute", "topic": "邻里纠纷", "urgency": "normal", "title": "噪音扰民",
        "content": "楼上装修噪音，联系电话13812345678，身份证130102199001011234。",
        "citizen": {"name": "张三丰", "phone": "13812345678", "id_number": "130102199001011234"},
    }
    payload.update(payload_over)
    return {
        "schema_version": 1, "event_id": str(uuid.uuid4()), "event_type": "petition.received",
        "case_id": "HB-0001", "occurred_at": "2026-11-26T09:30:00+08:00", "region_code": "130102",
        "channel": "hotline", "actor": {"role": "citizen", "id": "c1", "name": "张三丰"}, "payload": payload,
    }


def enc(d: dict) -> bytes:
    return json.dumps(d, ensure_ascii=False).encode()


def as_dict(table: str, row: tuple) -> dict:
    return dict(zip(COLUMNS[table], row))


def test_columns_match_the_schema() -> None:
    for table, cols in COLUMNS.items():
        body = TABLES[table]
        declared = [line.strip().split()[0] for line in body.split(") ENGINE")[0].splitlines() if line.strip()]
        assert list(cols) == declared, table


def test_event_row_is_flattened_and_masked() -> None:
    d = received()
    out = map_event(enc(d), 3, 42, NOW, pii_key=KEY)
    assert not isinstance(out, str)
    tables = [r.table for r in out]
    assert tables == ["events", "contacts"]
    row = as_dict("events", out[0].row)
    assert str(row["event_id"]) == d["event_id"]
    assert row["prefecture_code"] == "130100"
    assert (row["category"], row["topic"], row["urgency"], row["actor_role"]) == ("dispute", "邻里纠纷", "normal", "citizen")
    assert (row["kafka_partition"], row["kafka_offset"]) == (3, 42)
    assert row["occurred_at"] == datetime(2026, 11, 26, 9, 30, tzinfo=CST)
    text = row["payload"]
    for clear in ("张三丰", "13812345678", "130102199001011234"):
        assert clear not in text
    payload = json.loads(text)
    assert payload["citizen"]["name"] == "张**"
    assert payload["citizen"]["phone"] == "138****5678"
    assert payload["citizen"]["id_number"] == "130102********1234"
    assert "sealed" not in payload["citizen"] and payload["citizen"]["phone_hash"]
    assert "138****5678" in payload["content"] and "130102********1234" in payload["content"]


def test_contact_row_holds_masks_hash_and_sealed_only() -> None:
    out = map_event(enc(received()), 0, 0, NOW, pii_key=KEY)
    assert not isinstance(out, str)
    c = as_dict("contacts", out[1].row)
    assert (c["case_id"], c["name_masked"], c["phone_masked"]) == ("HB-0001", "张**", "138****5678")
    assert len(c["phone_hash"]) == 64 and c["sealed"]
    assert all("13812345678" not in str(v) and "张三丰" not in str(v) for v in c.values())
    from fengqiao.privacy import unseal

    assert unseal(c["sealed"], KEY)["phone"] == "13812345678"


def test_event_without_citizen_has_no_contact_row() -> None:
    d = received()
    del d["payload"]["citizen"]
    out = map_event(enc(d), 0, 0, NOW)
    assert not isinstance(out, str) and [r.table for r in out] == ["events"]


def test_lifecycle_event_takes_department() -> None:
    d = received()
    d.update(event_type="case.assigned", channel="internal", payload={"department": "某某镇综治中心", "level": "township"})
    out = map_event(enc(d), 0, 0, NOW)
    assert not isinstance(out, str)
    row = as_dict("events", out[0].row)
    assert row["department"] == "某某镇综治中心" and row["category"] == ""


@pytest.mark.parametrize(
    "raw, field",
    [
        (b"{not json", "(event)"),
        (b"\xff\xfe", ""),
        (None, "tombstone"),
        (enc({**received(), "region_code": "110101"}), "region_code"),
        (enc({**received(), "occurred_at": "2026-11-26T09:30:00"}), "occurred_at"),
        (enc({**received(), "event_type": "case.nope"}), ""),
        (enc(received(extra_field=1)), "payload.extra_field"),
    ],
)
def test_bad_events_give_a_reason(raw: bytes | None, field: str) -> None:
    out = map_event(raw, 0, 0, NOW)
    assert isinstance(out, str) and out
    assert field in out


def test_scrub_text_leaves_hashes_and_coordinates_alone() -> None:
    assert scrub_text("电话13812345678请回电") == "电话138****5678请回电"
    h = "ab13812345678cd" + "0" * 50  # a keyed hash (64 hex) holding a phone-like run
    assert scrub_text(h) == h
    assert scrub_text("tel13812345678") == "tel138****5678"  # a short word is not a hash (issue 11)
    assert scrub_text('{"lat":38.13812345678}') == '{"lat":38.13812345678}'


def snapshot(**over: object) -> CaseSnapshot:
    base: dict = dict(case_id="HB-1", version=3, status="assigned", category="help", region_code="130102",
                      prefecture_code="130100", received_at=NOW, sign_due_at=NOW + timedelta(days=1),
                      updated_at=NOW)
    base.update(over)
    return CaseSnapshot(**base)


def test_case_row() -> None:
    out = map_case(snapshot().to_json())
    assert not isinstance(out, str)
    row = as_dict("cases", out[0].row)
    assert (row["case_id"], row["version"], row["status"], row["prefecture_code"]) == ("HB-1", 3, "assigned", "130100")
    assert row["closed_at"] is None and row["signed_on_time"] is None
    assert out[0].key == ("case", "HB-1", 3)
    assert isinstance(map_case(b'{"case_id": "x"}'), str)
    assert map_case(None) == []  # a tombstone on the compacted topic is not an error


def test_case_rows_carry_the_judgement_and_only_open_cases_stay_on_the_board() -> None:
    """A resolved reply waiting for evaluation was counted 已超期: the board's rows now say
    the phase (the wall counts 待评价 apart), and leave at archive or merge."""
    for status, phase, deleted in (("signed", "open", 0), ("replied", "awaiting_evaluation", 0),
                                   ("archived", "closed", 1), ("merged", "merged", 1)):
        met = phase != "open"
        out = map_case(snapshot(status=status, phase=phase, resolve_status="met" if met else "pending",
                                resolve_ended_at=NOW if met else None).to_json())
        assert not isinstance(out, str)
        case, open_ = as_dict("cases", out[0].row), as_dict("open_cases", out[1].row)
        assert (case["phase"], open_["phase"], open_["is_deleted"]) == (phase, phase, deleted)
        assert case["resolve_status"] == open_["resolve_status"] == ("met" if met else "pending")
    # a snapshot from before the judgement fields: the domain fills them in
    legacy = map_case(b'{"case_id": "o", "version": 2, "status": "replied", "region_code": "130102", '
                      b'"prefecture_code": "130100", "resolved_on_time": true, "updated_at": "2026-09-29T10:00:00+08:00"}')
    assert not isinstance(legacy, str) and as_dict("open_cases", legacy[1].row)["phase"] == "awaiting_evaluation"


def alert(**over: object) -> AlertRecord:
    base: dict = dict(alert_id="a1", dedup_key="sla:HB-1:sign:warning:0", kind="sla", stage="warning",
                      severity="warning", state="firing", case_id="HB-1", region_code="130102",
                      raised_at=NOW, updated_at=NOW, message="案件即将超期，联系人13812345678", version=2)
    base.update(over)
    return AlertRecord(**base)


def test_alert_rows() -> None:
    out = map_alert(alert().to_json())
    assert not isinstance(out, str)
    assert [r.table for r in out] == ["alerts", "alert_log"]
    a = as_dict("alerts", out[0].row)
    assert (a["version"], a["prefecture_code"], a["stage"], a["target"]) == (2, "130100", "warning", "")
    assert "13812345678" not in a["message"]
    log = as_dict("alert_log", out[1].row)
    assert (log["alert_id"], log["version"], log["state"]) == ("a1", 2, "firing")


def test_stats_and_command_rows() -> None:
    s = RegionStats(region_code="130100", region_level="prefecture", as_of=NOW, intake_1h=3, intake_24h=40,
                    open_now=12, overdue_now=1, by_channel_24h={"web": 10})
    out = map_stats(s.to_json())
    assert not isinstance(out, str)
    assert as_dict("region_stats", out[0].row)["by_channel_24h"] == {"web": 10}
    cmd = {"command_id": str(uuid.uuid4()), "type": "alert.silence", "issued_at": NOW.isoformat(),
           "officer_id": "off-1", "alert_id": "a1", "until": (NOW + timedelta(hours=1)).isoformat(),
           "reason": "已电话联系 13812345678"}
    out = map_command(enc(cmd))
    assert not isinstance(out, str)
    row = as_dict("commands", out[0].row)
    assert (row["type"], row["alert_id"], row["case_id"]) == ("alert.silence", "a1", "")
    body = json.loads(row["body"])
    assert "until" in body and "13812345678" not in row["body"]
    assert isinstance(map_command(enc({**cmd, "type": "alert.delete"})), str)


# ---------------------------------------------------------------- batching order
class Fakes:
    """In-memory store and offsets, recording the order of operations."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.rows: dict[str, list] = {}
        self.committed: dict[TP, int] = {}
        self.dead: list = []
        self.fail_inserts = 0
        self.tokens: list[str | None] = []

    def insert(self, table: str, cols: object, data: list, token: str | None) -> None:
        self.tokens.append(token)
        if self.fail_inserts:
            self.fail_inserts -= 1
            self.calls.append(f"insert-fail:{table}")
            raise ConnectionError("store down")
        self.calls.append(f"insert:{table}")
        self.rows.setdefault(table, []).extend(zip(*data))

    def commit(self, offsets: dict[TP, int]) -> None:
        self.calls.append("commit")
        self.committed.update(offsets)

    def send_dead(self, letters: list) -> None:
        self.calls.append("dlq")
        self.dead.extend(letters)


def make_sink(f: Fakes, stop: threading.Event | None = None, rows: int = 3) -> BatchingSink:
    return BatchingSink(insert=f.insert, commit=f.commit, send_dead=f.send_dead, batch_rows=rows,
                        batch_seconds=60, stop=stop, backoff_initial=0.01, backoff_max=0.02)


def test_flush_inserts_then_dead_letters_then_commits() -> None:
    f = Fakes()
    sink = make_sink(f)
    tp = TP("ev", 0)
    sink.add(tp, 10, map_event(enc(received()), 0, 10, NOW))
    sink.add(tp, 11, "bad: reason", b"{oops")
    assert not sink.due()
    sink.add(tp, 12, map_event(enc(received()), 0, 12, NOW))
    assert sink.due()
    assert sink.flush_due() == 4  # 2 events + 2 contacts
    assert f.calls == ["insert:events", "insert:contacts", "dlq", "commit"]
    assert f.committed == {tp: 13}
    assert f.dead[0].offset == 11 and f.dead[0].error == "bad: reason" and f.dead[0].raw == "{oops"


def test_failed_insert_is_retried_with_the_same_token_before_any_commit() -> None:
    f = Fakes()
    f.fail_inserts = 2
    sink = make_sink(f)
    sink.add(TP("ev", 1), 5, map_event(enc(received()), 1, 5, NOW))
    sink.flush()
    assert f.calls[:3] == ["insert-fail:events", "insert-fail:events", "insert:events"]
    assert f.calls.index("commit") > f.calls.index("insert:events")
    assert len(set(f.tokens[:3])) == 1 and f.tokens[0]
    assert f.committed == {TP("ev", 1): 6}


def test_stop_during_failures_commits_nothing() -> None:
    f = Fakes()
    f.fail_inserts = 10**6
    stop = threading.Event()
    sink = make_sink(f, stop)
    sink.add(TP("ev", 0), 0, map_event(enc(received()), 0, 0, NOW))
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(SinkStopped):
        sink.flush()
    assert "commit" not in f.calls and f.committed == {}
    assert sink.pending() == 1


def test_duplicate_event_ids_are_skipped_but_committed() -> None:
    f = Fakes()
    sink = make_sink(f, rows=100)
    raw = enc(received())
    for off in range(3):
        sink.add(TP("ev", 0), off, map_event(raw, 0, off, NOW))
    sink.flush()
    assert len(f.rows["events"]) == 1 and sink.stats.duplicates == 4  # 2 events + 2 contacts
    assert f.committed == {TP("ev", 0): 3}


def test_discarded_buffer_forgets_its_keys() -> None:
    f = Fakes()
    sink = make_sink(f, rows=100)
    raw = enc(received())
    sink.add(TP("ev", 0), 0, map_event(raw, 0, 0, NOW))
    sink.discard([TP("ev", 0)])
    sink.add(TP("ev", 0), 0, map_event(raw, 0, 0, NOW))
    sink.flush()
    assert len(f.rows["events"]) == 1 and sink.stats.duplicates == 0


def test_protected_citizen_passes_through_and_typed_numbers_are_scrubbed() -> None:
    from fengqiao.privacy import protect_citizen

    citizen = protect_citizen({"name": "李四", "phone": "13912345678"}, KEY)
    assert citizen is not None
    clean = map_event(enc(received(citizen=citizen, content="邻居噪音问题")), 0, 0, NOW, pii_key=KEY)
    typed = map_event(enc(received(citizen=citizen, title="回电13912345678")), 0, 0, NOW, pii_key=KEY)
    for out in (clean, typed):
        assert not isinstance(out, str)
        payload = json.loads(as_dict("events", out[0].row)["payload"])
        assert payload["citizen"] == {k: v for k, v in citizen.items() if k != "sealed"}
        c = as_dict("contacts", out[1].row)
        assert (c["phone_hash"], c["sealed"]) == (citizen["phone_hash"], citizen["sealed"])
    assert json.loads(as_dict("events", typed[0].row)["payload"])["title"] == "回电139****5678"


def test_dead_letters_that_may_hold_contact_data_are_sealed() -> None:
    f = Fakes()
    sink = BatchingSink(insert=f.insert, commit=f.commit, send_dead=f.send_dead, batch_rows=10,
                        batch_seconds=60, pii_key=KEY)
    clear = b'{"payload": {"citizen": {"phone": "13812345678"}}}'
    sink.add(TP("ev", 0), 0, "bad", clear)
    sink.add(TP("ev", 0), 1, "bad", b"{oops")
    sink.flush()
    sealed, plain = f.dead
    assert sealed.raw_encoding == "sealed" and "13812345678" not in sealed.to_json().decode()
    assert sealed.raw_bytes(KEY) == clear
    assert plain.raw_encoding == "text" and plain.raw == "{oops"
