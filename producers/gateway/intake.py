"""The gateway's core: validate everything, protect PII, merge duplicates, write once.

No HTTP here (the FastAPI app in `app.py` maps results to status codes).

* All-or-nothing: a whole request is validated before anything is written; one
  record goes out with the idempotent producer (atomic by itself), several (a
  batch, or a petition plus its `case.merged`) in one Kafka transaction.
  Consumers that must never see an aborted batch read with
  `isolation_level=read_committed`.
* Duplicates (DESIGN.md section 4): an in-process index (phone hash, topic) →
  earlier cases within 7 days. It is rebuilt at start from the last 7 days of
  the events topic and kept current by tailing it, so it also sees what the
  simulator or another gateway wrote. One gateway per deployment is exact;
  with several replicas two near-simultaneous duplicates on two replicas may
  both be accepted as new (documented trade-off; the streams worker's class-case
  detector still groups them).
* Idempotency: `Idempotency-Key` (scoped by the caller's channel) → the first
  answer, in memory for 24 h; and the key also determines case_id/event_id of
  gateway-made events, so a retry after a restart carries the same event_id
  and every consumer drops it as a duplicate.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from fengqiao import privacy
from fengqiao.contract import ContractError, Envelope, parse_event
from fengqiao.records import DeadLetter
from fengqiao.settings import Settings
from fengqiao.vocab import SCHEMA_VERSION
from fengqiao.vocab import TZ as CST
from producers.gateway import authz
from producers.gateway.adapters import event_id_for
from producers.gateway.audit import AuditTrail
from producers.gateway.authz import AccessAudit, CaseFacts, Denial, Principal
from producers.gateway.config import GatewaySettings
from producers.gateway.readback import CaseView

log = logging.getLogger("fengqiao.gateway")


class Unavailable(Exception):
    """The broker did not acknowledge: nothing was written (503)."""


class Forbidden(Exception):
    """A valid key whose holder may not submit this (403); the reason in both languages."""

    def __init__(self, en: str, zh: str = "此密钥无权提交该渠道的事件") -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


class Conflict(Exception):
    """An Idempotency-Key reused with a different request (409)."""


@dataclass
class Accepted:
    case_id: str
    event_id: str
    event_type: str
    merged_into: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"case_id": self.case_id, "event_id": self.event_id, "event_type": self.event_type}
        if self.merged_into:
            d["merged_into"] = self.merged_into
        return d


# ---------------------------------------------------------------- duplicates
class DuplicateIndex:
    """(phone_hash, topic) → [(received_at, case_id)] of original (not merged) cases."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
        self._cases: set[str] = set()
        self.ready = threading.Event()

    def __len__(self) -> int:
        return len(self._cases)

    def claim(self, phone_hash: str, topic: str, at: datetime, case_id: str) -> str | None:
        """The earlier case this one duplicates, or None (and then it is recorded as an original)."""
        with self._lock:
            if case_id in self._cases:
                return None  # the same case again (a replay): not a duplicate of itself
            entries = self._by_key.setdefault((phone_hash, topic), [])
            earlier = [(t, c) for t, c in entries if at - self.window <= t <= at + timedelta(minutes=5)]
            if earlier:
                return min(earlier)[1]
            entries.append((at, case_id))
            self._cases.add(case_id)
            return None

    def release(self, phone_hash: str, topic: str, case_id: str) -> None:
        """Undo a claim whose write failed."""
        with self._lock:
            entries = self._by_key.get((phone_hash, topic), [])
            self._by_key[(phone_hash, topic)] = [e for e in entries if e[1] != case_id]
            self._cases.discard(case_id)

    def observe(self, ev: Envelope) -> None:
        """Learn from an event read back from the topic (rebuild / tail)."""
        if ev.event_type == "petition.received":
            c = ev.payload.citizen  # type: ignore[attr-defined]
            if c is not None and c.phone_hash:
                self.claim(c.phone_hash, ev.payload.topic, ev.occurred_at, ev.case_id)  # type: ignore[attr-defined]
        elif ev.event_type == "case.merged":
            with self._lock:
                if ev.case_id in self._cases:
                    self._cases.discard(ev.case_id)
                    for k, entries in self._by_key.items():
                        self._by_key[k] = [e for e in entries if e[1] != ev.case_id]

    def prune(self, now: datetime) -> None:
        with self._lock:
            cutoff = now - self.window - timedelta(days=1)
            for k in list(self._by_key):
                kept = [e for e in self._by_key[k] if e[0] >= cutoff]
                for t, c in self._by_key[k]:
                    if t < cutoff:
                        self._cases.discard(c)
                if kept:
                    self._by_key[k] = kept
                else:
                    del self._by_key[k]


# ---------------------------------------------------------------- idempotency
@dataclass
class _Entry:
    fingerprint: str
    done: threading.Event = field(default_factory=threading.Event)
    response: tuple[int, Any] | None = None
    expires: float = 0.0


class IdempotencyCache:
    """Idempotency-Key → the first response; concurrent retries wait for the first."""

    def __init__(self, ttl: float, max_entries: int = 200_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._d: OrderedDict[str, _Entry] = OrderedDict()

    def begin(self, key: str, fingerprint: str, wait: float = 30.0) -> tuple[str, Any]:
        """("new", None) → the caller handles it and calls finish/abandon;
        ("replay", (status, body)) → answer that; raises Conflict on a different request."""
        while True:
            with self._lock:
                now = time.monotonic()
                e = self._d.get(key)
                if e is not None and e.done.is_set() and e.expires < now:
                    del self._d[key]
                    e = None
                if e is None:
                    self._d[key] = _Entry(fingerprint)
                    while len(self._d) > self.max_entries:
                        self._d.popitem(last=False)
                    return "new", None
                if e.fingerprint != fingerprint:
                    raise Conflict(key)
                if e.done.is_set() and e.response is not None:
                    return "replay", e.response
            if not e.done.wait(wait):
                raise Unavailable("an earlier request with this Idempotency-Key is still running")

    def finish(self, key: str, status: int, body: Any) -> None:
        with self._lock:
            e = self._d.get(key)
            if e is not None:
                e.response = (status, body)
                e.expires = time.monotonic() + self.ttl
                e.done.set()

    def abandon(self, key: str) -> None:
        """The request failed (e.g. 503): a retry is handled afresh."""
        with self._lock:
            e = self._d.pop(key, None)
        if e is not None:
            e.done.set()


def fingerprint(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\x00")
    return h.hexdigest()


# ---------------------------------------------------------------- intake
class Intake:
    """Validated, protected, de-duplicated, acknowledged writes to `petitions.events`."""

    def __init__(self, settings: Settings, gw: GatewaySettings,
                 cases: Callable[[str], dict[str, Any] | None] | None = None) -> None:
        self.settings = settings
        self.gw = gw
        self._view = None if cases is not None else CaseView(settings, gw)
        self.cases = cases or self._view.get  # type: ignore[union-attr]  # case id → snapshot (authz)
        self._audit = AuditTrail(lambda raw: self._write([(settings.topics.audit, None, raw)]))
        self.index = DuplicateIndex(timedelta(days=gw.duplicate_window_days))
        self.idem = IdempotencyCache(gw.idempotency_ttl_seconds)
        self._producer = None
        self._plock = threading.Lock()
        self._batcher = None
        self._stop = threading.Event()
        self._tail: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        from producers.kafka_out import TransactionalBatcher, ensure_event_topics

        try:
            ensure_event_topics(self.settings, timeout=self.gw.kafka_timeout_seconds)
        except Exception as exc:  # the gateway still starts; writes answer 503 until the broker is back
            log.warning("topics not ensured (broker unreachable?): %s", exc)
        self._batcher = TransactionalBatcher(self.settings)
        if self.gw.rebuild_index:
            self._tail = threading.Thread(target=self._tail_events, name="gateway-dup-index", daemon=True)
            self._tail.start()
        else:
            self.index.ready.set()

    def close(self) -> None:
        self._stop.set()
        self._audit.close()
        if self._view is not None:
            self._view.close()
        if self._tail is not None:
            self._tail.join(timeout=5)
        if self._batcher is not None:
            self._batcher.close()
        with self._plock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None

    def _get_producer(self):  # type: ignore[no-untyped-def]
        with self._plock:
            if self._producer is None:
                from producers.kafka_out import make_producer

                t = int(self.gw.kafka_timeout_seconds * 1000)
                self._producer = make_producer(self.settings, linger_ms=1, max_block_ms=t, request_timeout_ms=t,
                                               delivery_timeout_ms=t + 1000)
            return self._producer

    def _reset_producer(self) -> None:
        with self._plock:
            p, self._producer = self._producer, None
        if p is not None:
            try:
                p.close(timeout=0)  # drop anything still queued: a 503'd request must not land later
            except Exception:
                pass

    def _tail_events(self) -> None:
        """Rebuild the duplicate index from the last window of the topic, then follow it."""
        from kafka import KafkaConsumer, TopicPartition

        topic = self.settings.topics.events
        consumer = None
        while not self._stop.is_set():
            try:
                consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap.split(","),
                                         enable_auto_commit=False, group_id=None, isolation_level="read_committed",
                                         client_id="fengqiao-gateway-index", consumer_timeout_ms=500)
                parts = consumer.partitions_for_topic(topic) or set()
                if not parts:
                    raise RuntimeError(f"topic {topic} has no partitions yet")
                tps = [TopicPartition(topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                since = int((time.time() - self.gw.duplicate_window_days * 86400) * 1000)
                offsets = consumer.offsets_for_times({tp: since for tp in tps})
                ends = consumer.end_offsets(tps)
                for tp in tps:
                    o = offsets.get(tp)
                    consumer.seek(tp, o.offset if o is not None else ends[tp])
                break
            except Exception as exc:
                log.warning("duplicate index: waiting for the broker (%s)", exc)
                if consumer is not None:
                    consumer.close()
                    consumer = None
                self._stop.wait(2.0)
        if consumer is None:
            return
        n = 0
        try:
            while not self._stop.is_set():
                batches = consumer.poll(timeout_ms=300, max_records=5000)
                for records in batches.values():
                    for rec in records:
                        try:
                            self.index.observe(parse_event(rec.value))
                            n += 1
                        except ContractError:
                            pass  # the sink dead-letters it; not our concern here
                if not self.index.ready.is_set():
                    pos = {tp: consumer.position(tp) for tp in consumer.assignment()}
                    if all(pos[tp] >= ends[tp] for tp in pos):
                        self.index.ready.set()
                        log.info("duplicate index rebuilt: %d events read, %d cases", n, len(self.index))
        finally:
            consumer.close()

    # ------------------------------------------------------------ submit
    def prepare(self, raws: list[dict[str, Any] | bytes | str], who: Principal | str,
                path: str = "/v1/events") -> list[Envelope]:
        """Validate every event (all errors of all items at once), check what the caller
        may do (`authz`; a channel name stands for that channel's intake key, `internal`
        for the platform), protect PII."""
        events: list[Envelope] = []
        reasons: list[dict[str, str]] = []
        many = len(raws) > 1
        for i, raw in enumerate(raws):
            try:
                events.append(self._protect(parse_event(raw)))
            except ContractError as exc:
                for r in exc.reasons:
                    reasons.append({**r, "field": f"[{i}].{r['field']}" if many else r["field"]})
        if reasons:
            raise ContractError(reasons)
        self.authorize(who if isinstance(who, Principal) else Principal.for_channel(who), events, path)
        return events

    def authorize(self, p: Principal, events: list[Envelope], path: str) -> None:
        """Forbidden (and an audit record) unless `p` may submit every one of `events`.
        Reads the current state of the cases it acts on (ReadbackUnavailable: 503, fail closed)."""
        facts: dict[str, CaseFacts | None] = {}
        for ev in events:
            if authz.needs_case(p, ev) and ev.case_id not in facts:
                snap = self.cases(ev.case_id)
                facts[ev.case_id] = CaseFacts.of(snap) if snap is not None else None
            denial = authz.decide(p, ev, facts.get(ev.case_id))
            if denial is not None:
                self.deny(p, denial, path, ev)

    def deny(self, p: Principal, denial: Denial, path: str, ev: Envelope | None = None) -> None:
        """Record the refusal in the audit trail (topic `petitions.audit`) and raise Forbidden."""
        log.warning("403 %s key=%s rule=%s", path, p.name, denial.rule)
        self._audit.put(AccessAudit.of(p, denial, path=path, at=datetime.now(CST), ev=ev))
        raise Forbidden(denial.en, denial.zh)

    def _protect(self, ev: Envelope) -> Envelope:
        """Clear names/phones/ID numbers never pass the door."""
        d: dict[str, Any] | None = None
        if ev.event_type == "petition.received" and privacy.carries_clear_pii(
                ev.payload.citizen.model_dump(exclude_none=True) if ev.payload.citizen else None):  # type: ignore[attr-defined]
            d = ev.model_dump(mode="json", exclude_none=True)
            d["payload"]["citizen"] = privacy.protect_citizen(d["payload"]["citizen"], self.settings.pii_key,
                                                              case_id=ev.case_id)  # + the tracking token
        if ev.actor is not None and ev.actor.role == "citizen" and ev.actor.name and not privacy.is_masked(ev.actor.name):
            d = d or ev.model_dump(mode="json", exclude_none=True)
            d["actor"]["name"] = privacy.mask_name(ev.actor.name)
        fields, loc = ev.payload.__dict__, getattr(ev.payload, "location", None)
        if any(privacy.holds_clear_pii(fields.get(k)) for k in privacy.FREE_TEXT_FIELDS) or (
                loc is not None and privacy.holds_clear_pii(loc.address)):  # a phone typed into the text
            d = d or ev.model_dump(mode="json", exclude_none=True)
            privacy.scrub_payload(d["payload"])
        return parse_event(d) if d is not None else ev

    def submit(self, events: list[Envelope], dead: list[DeadLetter] | None = None) -> list[Accepted]:
        """Merge duplicates, write all records (+ dead letters) at once, wait for the acks."""
        out: list[Accepted] = []
        records: list[tuple[str, bytes | None, bytes]] = []
        claims: list[tuple[str, str, str]] = []
        topic = self.settings.topics.events
        now = datetime.now(CST)
        for ev in events:
            merged_into = None
            if ev.event_type == "petition.received":
                c = ev.payload.citizen  # type: ignore[attr-defined]
                if c is not None and c.phone_hash:
                    merged_into = self.index.claim(c.phone_hash, ev.payload.topic, ev.occurred_at, ev.case_id)  # type: ignore[attr-defined]
                    if merged_into is None:
                        claims.append((c.phone_hash, ev.payload.topic, ev.case_id))  # type: ignore[attr-defined]
            records.append((topic, ev.key(), ev.to_json()))
            out.append(Accepted(ev.case_id, str(ev.event_id), ev.event_type, merged_into))
            if merged_into:
                m = parse_event({
                    "schema_version": SCHEMA_VERSION, "event_id": event_id_for(ev.case_id, f"merged:{ev.event_id}"),
                    "event_type": "case.merged", "case_id": ev.case_id,
                    "occurred_at": max(now, ev.occurred_at + timedelta(milliseconds=1)).isoformat(),
                    "region_code": ev.region_code, "channel": "internal",
                    "actor": {"role": "platform", "id": "fengqiao-gateway"},
                    "payload": {"into_case_id": merged_into},
                })
                records.append((topic, m.key(), m.to_json()))
        for dl in dead or []:
            records.append((self.settings.topics.dlq, None, dl.to_json()))
        try:
            self._write(records)
        except Exception as exc:
            for ph, tp, cid in claims:
                self.index.release(ph, tp, cid)
            log.warning("write of %d records failed, nothing accepted: %s", len(records), type(exc).__name__)
            raise Unavailable(str(exc)) from exc
        return out

    def _write(self, records: list[tuple[str, bytes | None, bytes]]) -> None:
        timeout = self.gw.kafka_timeout_seconds + 5
        if not records:
            return
        if len(records) == 1:
            t, k, v = records[0]
            try:
                self._get_producer().send(t, key=k, value=v).get(timeout=timeout)
            except Exception:
                self._reset_producer()
                raise
            return
        assert self._batcher is not None, "Intake.start() was not called"
        self._batcher.send_all(records, timeout=timeout)

