"""Personal data never leaks (issue 11, item 9): simulated traffic through the real gateway,
the real broker, a real `fengqiao streams` worker and the sink into a real chDB, with citizens
who type their phone and ID numbers into the text in every way people write them. Then every
topic of the run, every table the screens read and every log file is scanned for clear phone
and ID numbers: zero.

The scanner is deliberately independent of `fengqiao.privacy.scrub_text`: it joins digits split
by spaces or dashes, folds full-width digits, and looks for 11-digit mobiles (with or without
+86/0086) and 18-character ID numbers; long letter-bearing tokens (keyed hashes, UUIDs, sealed
values) hold no readable number and are skipped."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from fengqiao import privacy
from fengqiao.settings import GatewaySettings, Settings, SinkSettings, Topics
from producers.gateway.embedded import GatewayThread
from producers.simulator import run_simulator
from tests.integration.streams_harness import TZ, Worker, received, worker_env
from tests.integration.test_sink import query, sink_thread, wait_until

pytestmark = pytest.mark.integration

_WIDE = str.maketrans("０１２３４５６７８９＋－", "0123456789+-")
_TOKEN = re.compile(r"[A-Za-z0-9_\-=+/]{32,}|[0-9a-f]{16,}")  # sealed values, UUIDs; hashes and their prefixes
_JOIN = re.compile(r"(?<=\d)[ \t\-\u2010-\u2015]+(?=\d)")
_CLEAR = re.compile(r"(?<![\d.])(?:(?:\+|00)?86)?1[3-9]\d{9}(?!\d)|(?<![\d.])\d{17}[\dXx](?!\d)")

ID_A = "13010219900101123" + privacy.id_check_digit("13010219900101123")
ID_X = next(f"1301041985061{i:04d}"[:17] + "X" for i in range(10_000)
            if privacy.id_check_digit(f"1301041985061{i:04d}"[:17]) == "X")
WRITTEN = ["13812345678", "138 1234 5678", "138-1234-5678", "+86 13912345678", "0086 137-1234-5678",
           "(+86)136 1234 5678", "１３５１２３４５６７８", "1 3 4 1 2 3 4 5 6 7 8"]
CLEAR_VALUES = ["13812345678", "13912345678", "13712345678", "13612345678", "13512345678", "13412345678",
                ID_A, ID_X, "张三丰"]


def _plausible(found: str) -> bool:
    """A phone, or an 18-character ID number with a birth date and its check digit: a run of digits in a
    binary file (RocksDB splits keys such as a case id's digits by prefix) is not an ID number."""
    if len(found) != 18 or not found[:17].isdigit():
        return True
    try:
        born = datetime.strptime(found[6:14], "%Y%m%d")
    except ValueError:
        return False
    return born.year >= 1900 and privacy.id_check_digit(found[:17]) == found[17].upper()


def clear_numbers(text: str) -> list[str]:
    t = text.translate(_WIDE)
    t = _TOKEN.sub(lambda m: m.group(0) if not re.search(r"[A-Za-z]", m.group(0)) else " ", t)  # digits only: kept
    t = _JOIN.sub("", t)
    found = [f for f in _CLEAR.findall(t) if _plausible(f)]
    return found + [v for v in CLEAR_VALUES if re.search(rf"(?<![\d.]){v}(?!\d)", t)]


def test_scanner_finds_what_it_should() -> None:
    assert clear_numbers("请回电 138 1234 5678") and clear_numbers(f"证件{ID_X.lower()}")
    assert clear_numbers("+86-139-1234-5678") and clear_numbers("１３５１２３４５６７８")
    assert not clear_numbers("138****5678 130102********1234 38.13812345678 " + privacy.phone_hash("1", "k"))
    assert not clear_numbers('"actor":{"id":"c-d19182811357f7c5"}')  # a keyed-hash prefix
    assert clear_numbers("tel13812345678") and clear_numbers("phone13812345678")
    assert clear_numbers(f"身份证{ID_A}") and not clear_numbers("\x19S212612020045300000\x08")  # a split case id


def petitions(now: datetime) -> list[dict[str, Any]]:
    """Citizens who give their contact data in the fields and type it into the text too."""
    out = []
    for i, phone in enumerate(WRITTEN):
        e = received(f"PII-{i}", now)
        idn = ID_X if i % 2 else ID_A
        e["payload"]["citizen"] = {"name": "张三丰", "phone": phone, "id_number": idn}
        e["payload"]["content"] = f"请回电{phone}，或打座机 0311-8765432{i}，身份证 {idn}。"
        e["payload"]["title"] = f"讨薪 {phone}"
        e["payload"]["location"] = {"lat": 38.04, "lon": 114.51, "address": f"长安区建设大街{i}号 电话{phone}"}
        out.append(e)
    return out


def topic_texts(settings: Settings, tag: str) -> dict[str, list[str]]:
    c = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    try:
        out: dict[str, list[str]] = {}
        for topic in sorted(t for t in c.topics() if tag in t):
            tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            ends = c.end_offsets(tps)
            texts: list[str] = []
            deadline = time.monotonic() + 20
            while any(c.position(tp) < ends[tp] for tp in tps) and time.monotonic() < deadline:
                for recs in c.poll(timeout_ms=300).values():
                    for r in recs:
                        texts.append((r.key or b"").decode("utf-8", "replace") + " "
                                     + (r.value or b"").decode("utf-8", "replace"))
            out[topic] = texts
        return out
    finally:
        c.close()


def test_a_simulated_day_leaves_no_clear_phone_or_id_anywhere(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    tag = "p" + uuid.uuid4().hex[:8]
    topics = Topics(events=f"{tag}.events", alerts=f"{tag}.alerts", commands=f"{tag}.commands",
                    stats=f"{tag}.stats", dlq=f"{tag}.dlq", cases=f"{tag}.cases", audit=f"{tag}.audit",
                    partitions=2)
    settings = settings_factory(topics=topics, clickhouse_database=f"t_{tag}",
                                sink=SinkSettings(group_id=f"sink-{tag}", batch_rows=400, batch_seconds=0.3))
    db = settings.clickhouse_database
    inproc_log = tmp_path / "inproc.log"
    handler = logging.FileHandler(inproc_log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    w = Worker(worker_env(settings), tmp_path / "w", tmp_path / "worker.log")
    gw = GatewaySettings(api_keys={"internal": "k-int"}, rate_limit_per_second=0,
                         streams_url=f"http://127.0.0.1:{w.port}")
    try:
        w.wait_ready()
        with sink_thread(settings), GatewayThread(settings, gw) as gt:
            summary = run_simulator(settings, rate=50, seed=21, speed=3600, max_events=300, gateway_url=gt.url,
                                    pace=False, api_key="k-int")
            now = datetime.now(TZ)
            r = httpx.post(gt.url + "/v1/events", json=petitions(now), headers={"X-API-Key": "k-int"}, timeout=30)
            assert r.status_code in (200, 202), r.text
            n_events = summary["events"] + len(WRITTEN)

            def landed() -> bool:
                got = query(settings, f"SELECT count() FROM {db}.events")[0][0]
                snaps = query(settings, f"SELECT count() FROM {db}.cases WHERE case_id LIKE 'PII-%'")[0][0]
                return got >= n_events and snaps >= len(WRITTEN)

            wait_until(landed, 90, "events and the PII cases in the store")
            time.sleep(3)  # the stats and alerts of the last events
        tables = [r[0] for r in query(settings, "SELECT name FROM system.tables WHERE database = {db:String}",
                                      {"db": db})]
        assert {"events", "cases", "contacts", "alerts"} <= set(tables)
        leaks: dict[str, list[str]] = {}
        scanned = {"topics": 0, "records": 0, "tables": 0, "rows": 0, "logs": 0}
        for topic, texts in topic_texts(settings, tag).items():
            scanned["topics"] += 1
            scanned["records"] += len(texts)
            for text in texts:
                if found := clear_numbers(text):
                    leaks.setdefault(f"topic {topic}", []).append(f"{found}: {text[:200]}")
        for table in tables:
            scanned["tables"] += 1
            for row in query(settings, f"SELECT * FROM {db}.`{table}`"):
                scanned["rows"] += 1
                text = json.dumps(row, ensure_ascii=False, default=str)
                if found := clear_numbers(text):
                    leaks.setdefault(f"table {table}", []).append(f"{found}: {text[:200]}")
        handler.flush()
        for log in [inproc_log, w.log, *settings.data_dir.rglob("*.log"), *(tmp_path / "w").rglob("*.log")]:
            scanned["logs"] += 1
            for line in log.read_text("utf-8", "replace").splitlines():
                if found := clear_numbers(line):
                    leaks.setdefault(f"log {log.name}", []).append(f"{found}: {line[:200]}")
        (tmp_path / "scan.json").write_text(json.dumps({"scanned": scanned, "leaks": leaks}, ensure_ascii=False,
                                                       indent=1), "utf-8")
        assert scanned["topics"] >= 6 and scanned["records"] > n_events and scanned["rows"] > n_events
        assert leaks == {}
        contacts = query(settings, f"SELECT phone_masked FROM {db}.contacts WHERE case_id LIKE 'PII-%'")
        assert contacts and all("****" in c[0] for c in contacts)  # masked, yet there
        content = query(settings, f"SELECT payload FROM {db}.events WHERE case_id = 'PII-0' "
                                  "AND event_type = 'petition.received'")[0][0]
        assert "138****5678" in content and "130102********" in content and "0311-****4320" in content
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
        assert w.stop() == 0
