"""Helpers for the intake integration tests: read a topic back, build Settings."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fengqiao.settings import Settings, Topics


def fresh_settings(bootstrap: str, **over: Any) -> Settings:
    tag = "g" + uuid.uuid4().hex[:8]
    topics = Topics(events=f"{tag}.events", alerts=f"{tag}.alerts", commands=f"{tag}.commands",
                    stats=f"{tag}.stats", dlq=f"{tag}.dlq", cases=f"{tag}.cases", partitions=2)
    return Settings(kafka_bootstrap=bootstrap, topics=topics, **over)


def read_topic(settings: Settings, topic: str, committed_only: bool = False,
               timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """Every record on `topic` (JSON values), from the beginning to the end offsets it has when the
    read starts. A pause in the fetches is not the end (a cluster that has just recovered answers
    slowly); transaction markers advance positions without records."""
    import time

    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                      isolation_level="read_committed" if committed_only else "read_uncommitted")
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        c.assign(tps)
        c.seek_to_beginning(*tps)
        ends = c.end_offsets(tps)
        out: list[dict[str, Any]] = []
        deadline, empty = time.monotonic() + timeout_s, 0
        while any(c.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: not read to its end offsets {ends} within {timeout_s:.0f} s")
            batch = c.poll(timeout_ms=500)
            for recs in batch.values():
                out += [json.loads(r.value) for r in recs]
            empty = 0 if batch else empty + 1
            if empty >= 3 and all(c.position(tp) >= ends[tp] - 1 for tp in tps):
                break  # only a commit marker left
        return out
    finally:
        c.close()


class CaseViewStub:
    """A stand-in for the streams worker's case view (`GET /cases/{id}/`), on a free port.

    `with CaseViewStub() as v: v.cases[cid] = {...}`; unknown ids answer 404."""

    def __init__(self) -> None:
        import http.server
        import threading

        from producers.gateway.embedded import free_port

        cases: dict[str, dict[str, Any]] = {}
        self.cases = cases

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                cid = self.path.rstrip("/").rsplit("/", 1)[-1]  # the Faust view: /cases/{id}/
                found = cid in cases
                body = json.dumps(cases[cid] if found else {"error": "not found"}).encode()
                self.send_response(200 if found else 404)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: Any) -> None:
                pass

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "CaseViewStub":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
