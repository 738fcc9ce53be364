"""`fengqiao sink` as its own process, killed with SIGKILL mid-stream and restarted.

The subprocess owns its own chDB path (one process per path); the pytest process
already holds the session path, so the result is read by a third, short-lived
`python -c` process after the sink stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from fengqiao.settings import Settings, SinkSettings, Topics
from sinks.runner import ensure_topics
from tests.factories import event_messages

pytestmark = pytest.mark.integration

FENGQIAO = str(Path(sys.executable).parent / "fengqiao")
TOTAL = 3000

VERIFY = """
import json, sys
import clickhouse_connect
c = clickhouse_connect.get_client(dsn=sys.argv[1])
db = sys.argv[2]
q = lambda sql: c.query(sql).result_rows
print(json.dumps({
    "final": q(f"SELECT count() FROM {db}.events FINAL")[0][0],
    "uniq": q(f"SELECT uniqExact(event_id) FROM {db}.events")[0][0],
    "raw": q(f"SELECT count() FROM {db}.events")[0][0],
    "ids": sorted(str(r[0]) for r in q(f"SELECT event_id FROM {db}.events FINAL")),
    "regions": dict(q(f"SELECT region_code, count() FROM {db}.events FINAL GROUP BY region_code")),
}))
"""


def committed(bootstrap: str, group: str, topic: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == topic and o.offset > 0)


def wait_for(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_stream_neither_loses_nor_duplicates(
    kafka_bootstrap: str, unique_topics: Topics, tmp_path: Path
) -> None:
    data_dir = tmp_path / "sink-data"
    database = "restart_" + uuid.uuid4().hex[:8]
    group = "sink-restart-" + uuid.uuid4().hex[:8]
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topics=unique_topics, data_dir=data_dir,
                        clickhouse_url="", clickhouse_database=database,
                        sink=SinkSettings(group_id=group, batch_rows=150, batch_seconds=0.2))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
    env.update({
        "FENGQIAO_KAFKA_BOOTSTRAP": kafka_bootstrap, "FENGQIAO_DATA_DIR": str(data_dir),
        "FENGQIAO_CLICKHOUSE_DATABASE": database, "FENGQIAO_SINK__GROUP_ID": group,
        "FENGQIAO_SINK__BATCH_ROWS": "150", "FENGQIAO_SINK__BATCH_SECONDS": "0.2",
        "FENGQIAO_LOG_LEVEL": "INFO",
    })
    for field in ("events", "alerts", "commands", "stats", "dlq", "cases"):
        env[f"FENGQIAO_TOPICS__{field.upper()}"] = getattr(unique_topics, field)
    msgs = event_messages(seed=21, count=TOTAL)
    ensure_topics(settings)
    events = unique_topics.events

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    for k, v in msgs[:600]:
        producer.send(events, key=k, value=v)
    producer.flush()

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen([FENGQIAO, "sink"], env=env, stdout=subprocess.DEVNULL,
                                stderr=log.open("wb"), start_new_session=True)
        wait_for(lambda: "assigned" in log.read_text("utf-8", "replace") or proc.poll() is not None,
                 60, f"{name} ready")
        assert proc.poll() is None, log.read_text("utf-8", "replace")
        return proc, log

    first, first_log = start("first")
    try:
        assert "no other process" in first_log.read_text("utf-8")  # the embedded-store warning

        def paced() -> None:  # the rest of the stream arrives while the sink runs (≈1,200 events/s)
            for i, (k, v) in enumerate(msgs[600:]):
                producer.send(events, key=k, value=v)
                if i % 60 == 59:
                    time.sleep(0.05)
            producer.flush()

        feeder = threading.Thread(target=paced)
        feeder.start()
        wait_for(lambda: committed(kafka_bootstrap, group, events) >= 900, 60, "first commits")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = committed(kafka_bootstrap, group, events)
        assert at_kill < TOTAL, "the sink finished before it was killed: not a mid-stream kill"
    finally:
        if first.poll() is None:
            first.kill()

    second, second_log = start("second")
    try:
        feeder.join(60)
        producer.close()
        wait_for(lambda: committed(kafka_bootstrap, group, events) == TOTAL, 90, "all offsets committed")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, second_log.read_text("utf-8", "replace")
    finally:
        if second.poll() is None:
            second.kill()
    assert "sink stopped" in second_log.read_text("utf-8")

    out = subprocess.run([sys.executable, "-c", VERIFY, settings.effective_clickhouse_url, database],
                         capture_output=True, text=True, timeout=120, check=True)
    got = json.loads(out.stdout)
    produced = sorted(json.loads(v)["event_id"] for _, v in msgs)
    print(f"killed at {at_kill} committed; physical rows {got['raw']} (repeats collapse in FINAL)")
    assert got["final"] == TOTAL and got["uniq"] == TOTAL
    assert got["ids"] == produced
    assert got["regions"] == dict(Counter(json.loads(v)["region_code"] for _, v in msgs))
