"""Helpers for the streams integration tests: a real `fengqiao streams` subprocess, a
test policy with natural-time targets of one/two minutes, produce and consume helpers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kafka import KafkaConsumer, KafkaProducer

from fengqiao.settings import PROJECT_ROOT, Settings

TZ = ZoneInfo("Asia/Shanghai")
CATS = ("consult", "help", "dispute", "report", "complaint", "suggestion")


def write_policy(path: Path) -> Path:
    """Every target: sign 1 minute, resolve 2 minutes; escalation every minute."""
    lines = ['[profiles.itest]', 'thresholds = { reminder = 0.5, warning = 0.8, overdue = 1.0 }',
             'extension_unit = "minutes"', '[profiles.itest.escalation]', 'step = "1 minutes"',
             'urgent_step = "1 minutes"']
    for c in CATS:
        lines.append(f"[profiles.itest.targets.{c}]")
        for u in ("urgent", "pressing", "normal"):
            lines.append(f'{u} = {{ sign = "1 minutes", resolve = "2 minutes" }}')
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    t = settings.topics
    env = dict(os.environ)
    env.update({
        "FENGQIAO_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "FENGQIAO_TOPICS__EVENTS": t.events, "FENGQIAO_TOPICS__ALERTS": t.alerts,
        "FENGQIAO_TOPICS__COMMANDS": t.commands, "FENGQIAO_TOPICS__STATS": t.stats,
        "FENGQIAO_TOPICS__DLQ": t.dlq, "FENGQIAO_TOPICS__CASES": t.cases, "FENGQIAO_TOPICS__REPEATS": t.repeats,
        "FENGQIAO_TOPICS__PARTITIONS": str(t.partitions),
        "FENGQIAO_STREAMS__APP_ID": f"it-{t.events.split('.')[0]}",
        "FENGQIAO_STREAMS__STATS_INTERVAL_SECONDS": "1.0",
        "FENGQIAO_DATA_DIR": str(settings.data_dir),
    })
    env.update(extra)
    return env


class Worker:
    def __init__(self, env: dict[str, str], workdir: Path, log: Path):
        self.port = free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [os.environ.get("FENGQIAO_STREAMS_EXE", str(PROJECT_ROOT / ".venv/bin/fengqiao")), "streams", "--workdir", str(workdir), "--web-port", str(self.port)],
            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        import httpx

        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health/", timeout=2).json().get("ok"):
                    return
            except Exception:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                return -9
        return self.proc.returncode


def event(case_id: str, etype: str, at: datetime, payload: dict[str, Any], region: str = "130102",
          channel: str = "hotline") -> dict[str, Any]:
    return {"schema_version": 1, "event_id": str(uuid.uuid4()), "event_type": etype, "case_id": case_id,
            "occurred_at": at.isoformat(), "region_code": region, "channel": channel, "payload": payload}


def received(case_id: str, at: datetime, region: str = "130102", category: str = "help",
             channel: str = "hotline", urgency: str = "normal") -> dict[str, Any]:
    return event(case_id, "petition.received", at, {"category": category, "topic": "劳资纠纷", "urgency": urgency,
                                                      "title": "诉求", "content": f"内容 {case_id}"}, region, channel)


def producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)


def send(p: KafkaProducer, topic: str, items: list[dict[str, Any] | bytes], key_of: str = "case_id") -> None:
    for it in items:
        if isinstance(it, bytes):
            p.send(topic, key=b"bad", value=it)
        else:
            p.send(topic, key=str(it.get(key_of, "")).encode() or None, value=json.dumps(it, ensure_ascii=False).encode())
    p.flush()


def send_command(p: KafkaProducer, settings: Settings, cmd: dict[str, Any], key_of: str = "alert_id") -> None:
    """A command as the console sends it: signed with the command key (unsigned ones are dead letters)."""
    from fengqiao.settings import reveal
    from fengqiao.signing import signed_headers

    value = json.dumps(cmd, ensure_ascii=False).encode()
    p.send(settings.topics.commands, key=str(cmd.get(key_of, "")).encode(), value=value,
           headers=signed_headers(reveal(settings.command_key), value))
    p.flush()


class Reader:
    """Reads a topic from the beginning, accumulating (receive time, value)."""

    def __init__(self, settings: Settings, topic: str):
        self.c = KafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                               enable_auto_commit=False, group_id=None, consumer_timeout_ms=200)
        self.items: list[tuple[float, dict[str, Any]]] = []

    def poll(self, seconds: float) -> list[dict[str, Any]]:
        end = time.time() + seconds
        while time.time() < end:
            batch = self.c.poll(timeout_ms=200)
            now = time.time()
            for recs in batch.values():
                for r in recs:
                    self.items.append((now, json.loads(r.value)))
        return [v for _, v in self.items]

    def close(self) -> None:
        self.c.close()
