"""`fengqiao simulate`: realistic petition traffic, seeded and reproducible.

Two entry points over one model (`producers.scenario.Scenario`):

* `generate_events(seed, count, start, speed, *, rate, policy, until)`: pure and
  deterministic, the first `count` events of the scenario in time order (for
  tests and benches), or fewer when `until` comes first. `start=None` means a
  fixed Monday 08:00 +08:00, so the result never depends on the clock. Citizens
  carry masked values + keyed hashes only (no `sealed` blob, because Fernet
  tokens are randomised). `policy` is the SLA profile the departments work to
  (default: the packaged default profile); replay the events with the same one.
* `run_simulator(settings, rate, duration, seed, speed, gateway_url, max_events)`:
  live traffic paced by the wall clock (`occurred_at` = now, so SLA timers
  downstream run in real time), straight into Kafka or posted through the
  gateway. Its departments work to the streams worker's policy profile
  (`settings.streams.policy_profile`: `demo` under `fengqiao up`) and the platform
  dispatches before the worker's auto-dispatch would. Ctrl-C / SIGTERM flush and
  return the summary.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from fengqiao.contract import Envelope
from fengqiao.domain.policy import Policy, load_policy
from fengqiao.settings import Settings
from producers.scenario import CST, DEFAULT_PII_KEY, DEFAULT_START, Scenario
from producers.sim_case import DEPARTMENT_MODES, Behaviour

log = logging.getLogger("fengqiao.simulator")


def generate_events(
    seed: int,
    count: int,
    start: datetime | None = None,
    speed: float = 1.0,
    *,
    rate: float = 1.0,
    pii_key: str = DEFAULT_PII_KEY,
    surge_every: float | None = None,
    duplicate_share: float = 0.05,
    policy: Policy | None = None,
    until: datetime | None = None,
    dispatch_within: float | None = None,
    departments: str = "simulated",
) -> list[Envelope]:
    """`count` valid contract events in time order (see `producers.scenario`), each
    accepted by the domain lifecycle under `policy`; stops early before `until`.

    `rate` is new petitions per second of event time (mean over the daily
    curve); natural delays are real-world delays divided by `speed`, departments
    meet (or, a few, miss) `policy`'s deadlines. With the defaults most events are
    `petition.received`; raise `speed` (e.g. 3600) to see whole lifecycles within
    a few thousand events. `dispatch_within` (seconds): the platform assigns before
    a streams worker's auto-dispatch of that delay would (as `run_simulator` does).
    `departments="manual"`: no department event; people act at the desk (`sim_case.Behaviour`).
    """
    sc = Scenario(seed, start or DEFAULT_START, speed, rate, pii_key=pii_key, seal=False,
                  surge_every=surge_every, duplicate_share=duplicate_share, policy=policy,
                  dispatch_within=dispatch_within, behaviour=behaviour_for(departments))
    out: list[Envelope] = []
    limit = None if until is None else (until - sc.start).total_seconds()
    while len(out) < count and (limit is None or sc.peek_time() < limit):
        out.append(sc.next_event()[1])
    return out


def behaviour_for(departments: str) -> Behaviour:
    """The simulated province's behaviour with departments simulated or left to the desk."""
    if departments not in DEPARTMENT_MODES:
        raise ValueError(f"--departments must be one of {', '.join(DEPARTMENT_MODES)}, not {departments!r} / "
                         f"--departments 只能是 {'、'.join(DEPARTMENT_MODES)}")
    return Behaviour(departments=departments)


class _Stop:
    """Set by SIGINT/SIGTERM (main thread only) or by the caller."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, lambda *_: self.event.set())

    def restore(self) -> None:
        for sig, h in self._old.items():
            signal.signal(sig, h)


def run_simulator(
    settings: Settings,
    rate: float = 5.0,
    duration: float | None = None,
    seed: int = 7,
    speed: float = 1.0,
    gateway_url: str | None = None,
    max_events: int | None = None,
    *,
    stop: threading.Event | None = None,
    curve: bool = True,
    pace: bool = True,
    api_key: str | None = None,
    progress: Callable[[int], None] | None = None,
    departments: str = "simulated",
) -> dict[str, Any]:
    """Produce live traffic until `duration` seconds, `max_events` or a stop signal.

    `pace=False` emits as fast as the sink accepts (benchmarks); occurred_at
    then still follows the scenario's timeline from now. Returns
    `{"events", "by_type", "seconds", "events_per_s", "target", "seed", "policy_profile",
    "rejected", "departments"}` (`rejected`: events the lifecycle would refuse, dropped: always 0).
    `progress(sent)` after each event (the CLI's stderr progress; it throttles itself).
    `departments="manual"` leaves the department actions to people at the desk.
    """
    behaviour = behaviour_for(departments)  # a bad mode is refused before anything is sent
    start = datetime.now(timezone.utc).astimezone(CST)
    via_gateway = bool(gateway_url)
    policy = load_policy(settings.streams.policy_file, settings.streams.policy_profile)
    sc = Scenario(seed, start, speed, rate, pii_key=settings.pii_key, protect=not via_gateway, seal=True,
                  emit_merges=not via_gateway, curve=curve, policy=policy, behaviour=behaviour,
                  dispatch_within=settings.streams.auto_dispatch_after_seconds or None)
    stopper = _Stop()
    if stop is not None:
        stopper.event = stop
    stopper.install()
    sink = (_GatewaySink(settings, gateway_url, api_key) if via_gateway  # type: ignore[arg-type]
            else _KafkaSink(settings, stopper.event))
    by_type: Counter[str] = Counter()
    sent = 0
    t0 = time.monotonic()
    try:
        while not stopper.event.is_set():
            elapsed = time.monotonic() - t0
            if duration is not None and elapsed >= duration:
                break
            if max_events is not None and sent >= max_events:
                break
            nxt = sc.peek_time()
            if pace and nxt > elapsed:
                sink.flush_soft()
                wait = nxt - elapsed
                if duration is not None:
                    wait = min(wait, max(duration - elapsed, 0))
                stopper.event.wait(min(wait, 0.25))
                continue
            _, ev = sc.next_event()
            sink.add(ev)
            by_type[ev.event_type] += 1
            sent += 1
            if progress is not None:
                progress(sent)
        sink.flush_hard()
    finally:
        sink.close()
        stopper.restore()
    secs = time.monotonic() - t0
    return {
        "events": sent,
        "by_type": dict(sorted(by_type.items())),
        "seconds": round(secs, 3),
        "events_per_s": round(sent / secs, 1) if secs > 0 else 0.0,
        "target": gateway_url or f"kafka {settings.kafka_bootstrap} {settings.topics.events}",
        "seed": seed,
        "policy_profile": policy.name,
        "rejected": sc.rejected,
        "departments": departments,
    }


class _KafkaSink:
    """Sends straight to Kafka; flush waits for every ack (acks=all). While the broker is down it
    waits and sends again (`RetryingSender`) instead of dying, until `stop`."""

    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        from producers.kafka_out import RetryingSender, ensure_event_topics, make_producer, until_broker

        until_broker("create the topics", lambda: ensure_event_topics(settings, timeout=5), stop)
        self.p = until_broker("connect", lambda: make_producer(settings), stop)
        self.sender = RetryingSender(self.p, settings.topics.events, stop) if self.p is not None else None

    def add(self, ev: Envelope) -> None:
        if self.sender is None:
            return
        self.sender.add(ev.key(), ev.to_json())
        if len(self.sender) >= 5000:
            self.flush_hard()

    def flush_soft(self) -> None:
        if self.sender is not None and len(self.sender):
            self.flush_hard()

    def flush_hard(self) -> None:
        if self.sender is not None:
            self.sender.flush()

    def close(self) -> None:
        if self.p is None:
            return
        try:
            self.p.flush(timeout=30)
        finally:
            self.p.close(timeout=5)


class _GatewaySink:
    """Posts batches of contract events to `POST {gateway}/v1/events` with the internal channel's key."""

    def __init__(self, settings: Settings, url: str, api_key: str | None) -> None:
        import httpx

        from producers.gateway.config import gateway_settings

        self.url = url.rstrip("/") + "/v1/events"
        key = api_key or gateway_settings(settings).key_for("internal")
        self.client = httpx.Client(timeout=30, headers={"X-API-Key": key})
        self._batch: list[bytes] = []

    def add(self, ev: Envelope) -> None:
        self._batch.append(ev.to_json())
        if len(self._batch) >= 200:
            self.flush_hard()

    def flush_soft(self) -> None:
        self.flush_hard()

    def flush_hard(self) -> None:
        if not self._batch:
            return
        body = b"[" + b",".join(self._batch) + b"]"
        for attempt in range(5):
            r = self.client.post(self.url, content=body, headers={"Content-Type": "application/json",
                                                                  "Idempotency-Key": f"sim-{hash(body)}"})
            if r.status_code == 202:
                break
            if r.status_code != 503 or attempt == 4:
                raise RuntimeError(f"gateway answered {r.status_code}: {r.text[:300]}")
            time.sleep(0.5 * (attempt + 1))
        self._batch.clear()

    def close(self) -> None:
        self.client.close()


__all__ = ["generate_events", "run_simulator", "DEFAULT_START", "timedelta"]
