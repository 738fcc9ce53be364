"""Faults under load (issue 13 item 2), shared by tests/integration/test_faults.py (short form)
and bench/bench_faults.py (long form).

A `Rig` is a 3-node KRaft cluster on free ports in a temporary folder, a `fengqiao streams`
worker, a `fengqiao sink` subprocess (its own chDB path) and a `fengqiao gateway` on unique
topics; `Load` sends the simulator's deterministic events with acks=all at a steady rate and
keeps a ledger of every acknowledged event; `GatewayLoad` posts other cases' events through the
gateway in batches and keeps a ledger of every event a 202 acknowledged. After the faults, `Rig.verify` checks the ledger against ClickHouse, the
case snapshots and the alerts topic, and returns the findings as a `Verdict`.
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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from broker import cluster
from broker.topics import Replication, ensure_project_topics
from fengqiao.contract import Envelope
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.lifecycle import OPEN, CaseState, LifecycleError, apply
from fengqiao.domain.policy import load_policy
from fengqiao.domain import sla
from fengqiao.settings import Settings, SinkSettings, StreamsSettings, Topics
from producers.simulator import generate_events
from tests.integration._intake_helpers import read_topic
from tests.integration.fault_loads import GatewayLoad, Load
from tests.integration.streams_harness import TZ, Worker, worker_env, write_policy
from tests.netutil import three_free_ports
from tests.unit.domain_factory import assigned, received, signed

FENGQIAO = str(Path(sys.executable).parent / "fengqiao")
SPEED, PETITIONS_PER_S = 60.0, 110.0  # about 300 events per second of event time (whole lifecycles)
TOPIC_FIELDS = ("events", "alerts", "commands", "stats", "dlq", "cases", "audit", "repeats")

VERIFY = """
import json, sys
import clickhouse_connect
c = clickhouse_connect.get_client(dsn=sys.argv[1])
db = sys.argv[2]
rows = c.query(f"SELECT toString(event_id), count() FROM {db}.events FINAL GROUP BY event_id").result_rows
print(json.dumps({"ids": {r[0]: r[1] for r in rows}}))
"""


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> float:
    """Seconds until `check()` held (AssertionError after `timeout`)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Fault:
    name: str
    at: float  # time.monotonic() of the fault
    recovered_s: float | None = None
    notes: list[str] = field(default_factory=list)
    start_wall: datetime = field(default_factory=lambda: datetime.now(TZ))
    end_wall: datetime | None = None

    def line(self) -> str:
        rec = "not recovered" if self.recovered_s is None else f"{self.recovered_s:.1f} s"
        return f"{self.name}: time to recover {rec}" + (f" ({'; '.join(self.notes)})" if self.notes else "")

    def outage_s(self, now: datetime) -> float:
        """How long the fault held the system up: until it recovered, else until it ended."""
        if self.recovered_s is not None:
            return self.recovered_s
        return ((self.end_wall or now) - self.start_wall).total_seconds()


@dataclass
class Verdict:
    acked: int
    stored: int
    lost: list[str]
    twice: list[str]
    forged: list[str]
    cases: int
    cases_wrong: dict[str, tuple[int, int]]  # case -> (expected version, seen version)
    alerts_twice: dict[str, int]
    due_in_faults: int
    due_missing: list[str]  # case:target:round with no stage raised
    max_late_s: float
    dead_letters: int
    wrong_case_letters: list[str]  # the dead letters of the cases with a wrong version
    late_over_outage: list[str] = field(default_factory=list)  # raised after due + outage + slack
    max_over_outage_s: float = 0.0  # the most a stage was raised past due + its fault's outage
    raised_after_drain: list[str] = field(default_factory=list)  # raised after the worker drained + slack
    slack_s: float = 0.0
    missing_stages: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # key -> (dedup key, due)

    def problems(self) -> list[str]:
        out = []
        if self.lost:
            out.append(f"{len(self.lost)} acknowledged events not in ClickHouse, e.g. {self.lost[:3]}")
        if self.twice:
            out.append(f"{len(self.twice)} events more than once in ClickHouse FINAL, e.g. {self.twice[:3]}")
        if self.forged:
            out.append(f"{len(self.forged)} events in ClickHouse that were never sent, e.g. {self.forged[:3]}")
        if self.cases_wrong:
            out.append(f"{len(self.cases_wrong)} cases with a wrong version (expected, seen), e.g. "
                       f"{list(self.cases_wrong.items())[:3]}; their dead letters: {self.wrong_case_letters[:3]}")
        if self.alerts_twice:
            out.append(f"{len(self.alerts_twice)} alerts raised more than once, e.g. {list(self.alerts_twice.items())[:3]}")
        if self.due_missing:
            out.append(f"{len(self.due_missing)} SLA targets with a stage due during a fault and none raised, "
                       f"e.g. {self.due_missing[:3]}")
        return out

    def summary(self) -> str:
        return (f"ledger {self.acked} acknowledged, {self.stored} in ClickHouse, lost {len(self.lost)}, twice "
                f"{len(self.twice)}, forged {len(self.forged)}; {self.cases} cases, wrong version "
                f"{len(self.cases_wrong)}; {self.dead_letters} dead letters; alerts raised twice {len(self.alerts_twice)}; "
                f"SLA targets with a stage due during faults {self.due_in_faults}, none raised {len(self.due_missing)}, "
                f"latest raise {self.max_late_s:.1f} s after due; late by more than the outage + {self.slack_s:.0f} s: "
                f"{len(self.late_over_outage)} (at most {self.max_over_outage_s:.1f} s past due + outage), raised more "
                f"than {self.slack_s:.0f} s after the worker drained: {len(self.raised_after_drain)}")


def _replayed(events: list[Envelope], policy: Any, cal: Any) -> CaseState | None:
    """The state the worker should reach: each event applied, a disallowed one skipped (it is a
    dead letter there too)."""
    state = None
    for ev in events:
        try:
            state = apply(state, ev, policy, cal)
        except LifecycleError:
            continue
    return state


def _target_of(dedup_key: str) -> str:
    """`sla:<case>:<target[.round]>` of a stage's dedup key (its stage and level cut off)."""
    return dedup_key.rsplit(":", 2)[0]


def owed_stages(events: list[Envelope], acked_at: dict[str, datetime], policy: Any, cal: Any, now: datetime,
                margin_s: float = 2.0) -> list[Any]:
    """Every SLA stage the worker owes the case, replayed event by event: after each event, the
    stages of the state it made that fell due before the next applied event could end them (its
    `occurred_at` or its acknowledgement, whichever came first: the worker raises a stage due before
    an event's instant when it applies the event, fengqiao/domain/case.py), and the last state's up
    to `now`. Stages within `margin_s` of that boundary may go either way and are left out."""
    state: CaseState | None = None
    owed: list[Any] = []

    def close(upto: datetime) -> None:
        if state is not None and state.status in OPEN:
            owed.extend(p for p in sla.pending_stages(state, policy, cal) if p.at <= upto - timedelta(seconds=margin_s))

    for ev in events:
        try:
            new = apply(state, ev, policy, cal)
        except LifecycleError:
            continue
        if new is state:  # a duplicate event_id: nothing changes
            continue
        acked = acked_at.get(str(ev.event_id), ev.occurred_at)
        close(min(ev.occurred_at, acked))
        state = new
    close(now)
    return owed


class Rig:
    """The system under test, every part on its own ports and folders under `root`."""

    def __init__(self, root: Path, partitions: int = 3) -> None:
        self.root = root
        self.folder = root / "kafka-3"
        self.tag = uuid.uuid4().hex[:8]
        self.partitions = partitions
        self.policy_file = write_policy(root / "policy.toml")
        self.worker: Worker | None = None
        self.sink: subprocess.Popen[bytes] | None = None
        self.sink_runs = 0
        self.faults: list[Fault] = []
        self.settings: Settings | None = None
        self.gateway: subprocess.Popen[bytes] | None = None
        self.gateway_port = 0
        self.gateway_runs = 0
        self.drained_at: datetime | None = None

    # -- parts -----------------------------------------------------------------------------------
    def start_cluster(self) -> float:
        t0 = time.monotonic()
        cluster.start(3, three_free_ports(), self.folder, timeout=180)
        bootstrap = cluster.read_bootstrap(self.folder)
        assert bootstrap
        rep = self.use_broker(bootstrap)
        assert (rep.factor, rep.min_insync) == (3, 2)
        return time.monotonic() - t0

    def use_broker(self, bootstrap: str) -> Replication:
        """Settings on unique topics of `bootstrap` (the rig's cluster, or a broker it does not own)."""
        self.settings = Settings(
            kafka_bootstrap=bootstrap, data_dir=self.root / "data", clickhouse_url="",
            clickhouse_database=f"faults_{self.tag}",
            topics=Topics(**{k: f"f{self.tag}.{k}" for k in TOPIC_FIELDS}, partitions=self.partitions),
            streams=StreamsSettings(app_id=f"it-f{self.tag}"),
            sink=SinkSettings(group_id=f"sink-f{self.tag}", batch_rows=2000, batch_seconds=0.5))
        return ensure_project_topics(self.settings)

    @property
    def s(self) -> Settings:
        assert self.settings is not None
        return self.settings

    def node_pid(self, node_id: int) -> int:
        for n in cluster.status(self.folder):
            if n.node_id == node_id and n.state == "running" and n.pid:
                return n.pid
        raise AssertionError(f"node {node_id} is not running")

    def start_worker(self) -> Worker:
        """A worker; one that exits with the watchdog's status (a stream stalled) is started again, as
        `fengqiao up`'s supervisor would (`watchdog_restarts` counts them)."""
        if not hasattr(self, "watchdog_restarts"):
            self.watchdog_restarts = 0
            threading.Thread(target=self._supervise_worker, name="worker-supervisor", daemon=True).start()
        return self._new_worker()

    def _supervise_worker(self) -> None:
        from streams.watchdog import EXIT_STALLED

        while True:
            time.sleep(1.0)
            w = self.worker
            if w is not None and w.proc.poll() == EXIT_STALLED:
                self.watchdog_restarts += 1
                self._new_worker()

    def _new_worker(self) -> Worker:
        env = worker_env(self.s, FENGQIAO_STREAMS__POLICY_FILE=str(self.policy_file),
                         FENGQIAO_STREAMS__POLICY_PROFILE="itest", FENGQIAO_STREAMS__RENOTIFY_SECONDS="3600",
                         FENGQIAO_STREAMS__AUTO_DISPATCH_AFTER_SECONDS="3600")
        n = len([f for f in self.faults if f.name.startswith("worker")])
        self.worker = Worker(env, self.root / "worker", self.root / f"worker-{n}.log")
        return self.worker

    def sink_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
        env.update({"FENGQIAO_KAFKA_BOOTSTRAP": self.s.kafka_bootstrap, "FENGQIAO_DATA_DIR": str(self.s.data_dir),
                    "FENGQIAO_CLICKHOUSE_DATABASE": self.s.clickhouse_database,
                    "FENGQIAO_SINK__GROUP_ID": self.s.sink.group_id, "FENGQIAO_SINK__BATCH_ROWS": "2000",
                    "FENGQIAO_SINK__BATCH_SECONDS": "0.5", "FENGQIAO_LOG_LEVEL": "INFO",
                    "FENGQIAO_TOPICS__PARTITIONS": str(self.partitions)})
        for f in TOPIC_FIELDS:
            env[f"FENGQIAO_TOPICS__{f.upper()}"] = getattr(self.s.topics, f)
        return env

    def start_sink(self, timeout: float = 90) -> float:
        self.sink_runs += 1
        log = self.root / f"sink-{self.sink_runs}.log"
        t0 = time.monotonic()
        self.sink = subprocess.Popen([FENGQIAO, "sink"], env=self.sink_env(), stdout=subprocess.DEVNULL,
                                     stderr=log.open("wb"), start_new_session=True)
        proc = self.sink
        wait_for(lambda: "assigned" in log.read_text("utf-8", "replace") or proc.poll() is not None, timeout,
                 "the sink's partitions")
        assert proc.poll() is None, log.read_text("utf-8", "replace")[-3000:]
        return time.monotonic() - t0

    def start_gateway(self, timeout: float = 90) -> float:
        """`fengqiao gateway` on a free port (loopback, the dev keys); until /healthz answers 200."""
        import httpx

        from tests.integration.streams_harness import free_port

        self.gateway_runs += 1
        self.gateway_port = self.gateway_port or free_port()
        log = self.root / f"gateway-{self.gateway_runs}.log"
        t0 = time.monotonic()
        self.gateway = subprocess.Popen([FENGQIAO, "gateway", "--port", str(self.gateway_port)], env=self.sink_env(),
                                        stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)
        proc = self.gateway

        def healthy() -> bool:
            assert proc.poll() is None, log.read_text("utf-8", "replace")[-3000:]
            try:
                return httpx.get(f"{self.gateway_url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout, "the gateway's /healthz", step=0.3)
        return time.monotonic() - t0

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def gateway_load(self, seconds: float, rate: float = 60.0, seed: int = 14) -> GatewayLoad:
        """The simulator's events of other cases (no duplicate citizens: the gateway would merge
        them) posted through the gateway with the internal channel's key."""
        from producers.gateway.config import gateway_settings

        policy = load_policy(self.policy_file, "itest")
        evs = generate_events(seed, int(seconds * rate), datetime.now(TZ), SPEED, rate=rate / 2.7, policy=policy,
                              duplicate_share=0.0)
        return GatewayLoad(self.gateway_url, gateway_settings(self.s).key_for("internal"), evs, rate)

    def stop_all(self) -> None:
        if self.gateway is not None and self.gateway.poll() is None:
            self.gateway.kill()
            self.gateway.wait(10)
        if self.worker is not None:
            self.worker.stop()
        if self.sink is not None and self.sink.poll() is None:
            self.sink.send_signal(signal.SIGTERM)
            try:
                self.sink.wait(30)
            except subprocess.TimeoutExpired:
                self.sink.kill()
        if self.folder.exists():
            cluster.stop(self.folder, grace=15)

    # -- load ------------------------------------------------------------------------------------
    def load(self, seconds: float, rate: float = 300.0, seed: int = 13) -> Load:
        policy = load_policy(self.policy_file, "itest")
        evs = generate_events(seed, int(seconds * rate), datetime.now(TZ), SPEED, rate=PETITIONS_PER_S,
                              policy=policy)
        return Load(self.s.kafka_bootstrap, self.s.topics.events, evs, rate)

    def sla_probe(self, cases: int = 12, reminder_in: float = 8.0, sign_at: float = 11.0) -> Load:
        """Cases whose sign target's reminder falls due `reminder_in` s after the probe starts (received
        and assigned then, dated back by half the itest sign target of 1 minute); half of them are
        signed at `sign_at` s, after the reminder was due. Started just before a worker is killed: the
        reminder falls due while no worker runs, and the signature arrives before one is back, so the
        new worker must raise the reminder it missed (once), not let the signature hide it."""
        start = datetime.now(TZ)
        back = start + timedelta(seconds=reminder_in - 30)
        tag = uuid.uuid4().hex[:6]
        evs: list[Envelope] = []
        offsets: list[float] = []
        for i in range(cases):
            cid = f"PROBE-{tag}-{i:02d}"
            evs += [received(cid, back.isoformat()), assigned(cid, back.isoformat())]
            offsets += [0.0, 0.05]
        for i in range(0, cases, 2):
            evs.append(signed(f"PROBE-{tag}-{i:02d}", (start + timedelta(seconds=sign_at)).isoformat()))
            offsets.append(sign_at)
        return Load(self.s.kafka_bootstrap, self.s.topics.events, evs, rate=100.0, offsets=offsets)

    # -- lag -------------------------------------------------------------------------------------
    def offsets(self, group: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
        """(`group`'s committed offset, end offset) of each partition of `topic`."""
        from kafka import KafkaConsumer, TopicPartition
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.s.kafka_bootstrap, request_timeout_ms=10000)
        try:
            done = {tp.partition: max(o.offset, 0) for tp, o in
                    admin.list_group_offsets({group: None}).get(group, {}).items() if tp.topic == topic}
        finally:
            admin.close()
        c = KafkaConsumer(bootstrap_servers=self.s.kafka_bootstrap, request_timeout_ms=10000)
        try:
            ends = c.end_offsets([TopicPartition(topic, p) for p in range(self.partitions)])
        finally:
            c.close()
        return done, {tp.partition: end for tp, end in ends.items()}

    def lag(self, group: str, topic: str) -> int:
        """Records of `topic` not yet committed by `group` (every partition)."""
        done, ends = self.offsets(group, topic)
        return sum(end - done.get(p, 0) for p, end in ends.items())

    def caught_up(self, group: str, topic: str, mark: dict[int, int]) -> bool:
        """`group` committed at least `mark` on every partition (False while a node is unreachable)."""
        try:
            done, _ = self.offsets(group, topic)
        except Exception:  # noqa: BLE001 - a node down: ask again
            return False
        return all(done.get(p, 0) >= m for p, m in mark.items())

    def safe_lag(self, group: str, topic: str) -> int:
        try:
            return self.lag(group, topic)
        except Exception:  # noqa: BLE001 - a node down: ask again
            return 1 << 30

    # -- faults ----------------------------------------------------------------------------------
    def producer_recovered(self, load: Load, fault: Fault, timeout: float = 120) -> None:
        """Recovered: every event sent in the fault's first second acknowledged, backlog under 1 s."""
        mark = load.sent
        wait_for(lambda: len(load.acked) + len(load.failed) >= mark and load.pending() <= load.rate, timeout,
                 f"the producer after {fault.name}")
        fault.recovered_s = time.monotonic() - fault.at

    def kill_broker(self, load: Load, node_id: int = 2) -> Fault:
        """SIGKILL one node under load, then `kafka start` again brings it back."""
        pid = self.node_pid(node_id)
        f = Fault(f"broker node {node_id} SIGKILL", time.monotonic())
        os.kill(pid, signal.SIGKILL)
        self.faults.append(f)
        self.producer_recovered(load, f)
        t1 = time.monotonic()
        cluster.start(None, None, self.folder, timeout=180)
        f.notes.append(f"node back in {time.monotonic() - t1:.1f} s")
        f.end_wall = datetime.now(TZ)
        return f

    def stop_broker(self, load: Load, seconds: float = 30.0, node_id: int = 3) -> Fault:
        """SIGSTOP one node for `seconds`, then SIGCONT."""
        pid = self.node_pid(node_id)
        f = Fault(f"broker node {node_id} SIGSTOP {seconds:.0f} s", time.monotonic())
        os.kill(pid, signal.SIGSTOP)
        self.faults.append(f)
        try:
            time.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGCONT)
        f.end_wall = datetime.now(TZ)
        self.producer_recovered(load, f)
        return f

    def kill_worker(self) -> Fault:
        """SIGKILL the streams worker and start a new one on the same folder; recovered when the
        new one is healthy and has committed every event that was on the topic at the kill."""
        assert self.worker is not None
        f = Fault("worker SIGKILL", time.monotonic())
        self.faults.append(f)
        mark = self.offsets(self.s.streams.app_id, self.s.topics.events)[1]
        self.worker.kill()
        w = self._new_worker()
        w.wait_ready(120)
        f.notes.append(f"healthy after {time.monotonic() - f.at:.1f} s")
        f.end_wall = datetime.now(TZ)
        self._caught_up(f, self.s.streams.app_id, mark)
        return f

    def _caught_up(self, f: Fault, group: str, mark: dict[int, int], timeout: float = 300) -> None:
        """Recovered once `group` committed past `mark`; a part slower than the load may never get
        there while the load runs: then the fault says so and the run goes on."""
        try:
            wait_for(lambda: self.caught_up(group, self.s.topics.events, mark), timeout,
                     f"{group} past the events there at the fault", step=1.0)
            f.recovered_s = time.monotonic() - f.at
        except AssertionError:
            f.notes.append(f"not caught up within {timeout:.0f} s (slower than the load)")

    def kill_sink(self) -> Fault:
        """SIGKILL `fengqiao sink` and start it again; recovered when it has committed every
        event that was on the topic at the kill."""
        assert self.sink is not None
        f = Fault("sink SIGKILL", time.monotonic())
        self.faults.append(f)
        mark = self.offsets(self.s.sink.group_id, self.s.topics.events)[1]
        self.sink.send_signal(signal.SIGKILL)
        self.sink.wait(10)
        self.start_sink()
        f.end_wall = datetime.now(TZ)
        self._caught_up(f, self.s.sink.group_id, mark)
        return f

    def stop_gateway(self, gl: GatewayLoad, sig: int = signal.SIGKILL, seconds: float = 10.0) -> Fault:
        """While a batch is in flight (posted, not yet answered): SIGKILL the gateway and start a
        new one, or SIGSTOP it for `seconds` then SIGCONT. Recovered at the next 202."""
        assert self.gateway is not None
        wait_for(lambda: gl.in_flight.is_set() or not gl.is_alive(), 60, "a batch in flight to the gateway", step=0.002)
        assert gl.is_alive(), "the gateway load ended before the fault"
        time.sleep(0.03)  # the batch is being parsed and written now (200 events take longer)
        name = "SIGKILL" if sig == signal.SIGKILL else f"SIGSTOP {seconds:.0f} s"
        f = Fault(f"gateway {name} mid-batch", time.monotonic())
        mark, cut = gl.posts_ok, gl.in_flight.is_set()
        os.kill(self.gateway.pid, sig)
        self.faults.append(f)
        if sig == signal.SIGKILL:
            self.gateway.wait(10)
            f.notes.append(f"new gateway healthy in {self.start_gateway():.1f} s")
        else:
            time.sleep(seconds)
            os.kill(self.gateway.pid, signal.SIGCONT)
        f.end_wall = datetime.now(TZ)
        wait_for(lambda: gl.posts_ok > mark or not gl.is_alive(), 120, "a 202 from the gateway after the fault")
        f.recovered_s = time.monotonic() - f.at
        f.notes.append(f"batch in flight at the signal: {'yes' if cut else 'answered just before'}; "
                       f"{gl.posts_failed} posts without a 202 so far, posted again")
        return f

    # -- checks ----------------------------------------------------------------------------------
    def drain(self, load: Load, *more: GatewayLoad, timeout: float = 240) -> float:
        """After the loads: until the worker and the sink committed everything on the events topic."""
        for ld in (load, *more):
            ld.join(timeout)
            assert not ld.is_alive(), f"the {ld.name} did not finish"
        groups = (self.s.streams.app_id, self.s.sink.group_id)
        if more:  # transaction markers at the partitions' ends (see `near_end`)
            took = wait_for(lambda: all(self.near_end(g) for g in groups), timeout,
                            "the worker and the sink to commit every event", step=1.0)
        else:
            took = wait_for(lambda: all(self.safe_lag(g, self.s.topics.events) == 0 for g in groups), timeout,
                            "the worker and the sink to commit every event", step=1.0)
        self.drained_at = datetime.now(TZ)
        return took

    def near_end(self, group: str) -> bool:
        """`group` committed every record of the events topic but at most one per partition: the
        gateway writes in transactions, so a partition may end in a commit or abort marker that a
        consumer never commits past."""
        try:
            done, ends = self.offsets(group, self.s.topics.events)
        except Exception:  # noqa: BLE001 - a node down: ask again
            return False
        return all(end - done.get(p, 0) <= 1 for p, end in ends.items())

    def sink_drained(self, timeout: float = 180) -> float:
        """Until the sink is `near_end`, held for 5 s (nothing more comes)."""
        t0 = time.monotonic()
        for _ in range(2):
            wait_for(lambda: self.near_end(self.s.sink.group_id), timeout, "the sink to commit every event", step=1.0)
            time.sleep(5)
        return time.monotonic() - t0

    def stored_ids(self) -> dict[str, int]:
        """event_id -> rows in ClickHouse FINAL (the sink is stopped first: one process per chDB path)."""
        assert self.sink is not None
        self.sink.send_signal(signal.SIGTERM)
        self.sink.wait(60)
        out = subprocess.run([sys.executable, "-c", VERIFY, self.s.effective_clickhouse_url,
                              self.s.clickhouse_database], capture_output=True, text=True, timeout=180, check=True)
        return json.loads(out.stdout)["ids"]

    def verify(self, load: Load, *more: Load | GatewayLoad, wait_cases_s: float = 60, slack_s: float = 15.0,
               wait_alerts_s: float = 30.0) -> Verdict:
        """The ledger against ClickHouse, the case snapshots and the alerts topic. `slack_s`: how
        much later than due + its fault's outage an SLA stage may be raised (a check tick, the
        commit interval, a rebalance)."""
        loads: list[Load | GatewayLoad] = [load, *more]
        sent = ({str(e.event_id) for ld in loads for e in ld.events[:ld.sent]}
                | {i for ld in more for i in getattr(ld, "derived", ())})
        ids = self.stored_ids()
        acked = {k: v for ld in loads for k, v in ld.acked.items()}
        # each case: the version its acknowledged events give, in the order they were sent
        by_case: dict[str, list[Envelope]] = {}
        for ld in loads:
            for e in ld.events[:ld.sent]:
                if str(e.event_id) in acked:
                    by_case.setdefault(e.case_id, []).append(e)
        policy, cal = load_policy(self.policy_file, "itest"), load_calendar()
        states = {cid: _replayed(evs, policy, cal) for cid, evs in by_case.items()}
        want = {cid: st.version for cid, st in states.items() if st is not None}
        seen: dict[str, int] = {}

        def cases_done() -> bool:
            for snap in read_topic(self.s, self.s.topics.cases):
                seen[snap["case_id"]] = max(seen.get(snap["case_id"], 0), snap["version"])
            return all(seen.get(c) == v for c, v in want.items())

        try:
            wait_for(cases_done, wait_cases_s, "every case's events applied", step=1.0)
        except AssertionError:
            pass
        now = datetime.now(TZ) - timedelta(seconds=5)
        windows = [(f.start_wall, f.end_wall or now, f) for f in self.faults]
        # a worker that finds several stages of one target due at once raises the latest only (the
        # others are superseded, fengqiao/domain/case.py): for each target with a stage due during a
        # fault, that stage or a later one of the same target must be raised
        acked_at = {k: v for ld in loads for k, v in ld.acked_at.items()}
        owed: dict[tuple[str, str, int], dict[str, Any]] = {}
        for cid, evs in by_case.items():
            for p in owed_stages(evs, acked_at, policy, cal, now):
                owed.setdefault((p.case_id, p.target, p.round), {})[p.dedup_key] = p
        due: dict[tuple[str, str, int], list[Any]] = {}
        earlier: dict[tuple[str, str, int], set[str]] = {}  # the target's stages due before the first in a fault
        for k, stages in owed.items():
            in_fault = [p for p in stages.values() if any(a <= p.at <= b for a, b, _ in windows)]
            if in_fault:
                first = min(p.at for p in in_fault)
                due[k] = sorted((p for p in stages.values() if p.at >= first), key=lambda p: p.at)
                earlier[k] = {dk for dk, p in stages.items() if p.at < first}
        target_of = {k: _target_of(sla.dedup_key(k[0], k[1], "-", 0, k[2])) for k in due}
        firsts: Counter[str] = Counter()
        raised: dict[str, datetime] = {}

        def unraised() -> list[tuple[str, str, int]]:
            """The targets of `due` with no stage raised from the first due in a fault on: a raised
            stage past the replay's margin (`owed_stages`) counts too, it superseded the others."""
            alerts = read_topic(self.s, self.s.topics.alerts)
            # a raise is its instant: the worker that takes over a partition sends the alerts changed lately
            # again (fengqiao/domain/case.py `redeliver`), a copy of a version is not a second raise; an
            # alert whose first version was lost with a killed worker still counts as raised through a later one
            firsts.clear()
            raised.clear()
            firsts.update(k for k, _ in {(a["dedup_key"], a["raised_at"]) for a in alerts if a.get("version") == 1})
            for a in alerts:
                at = datetime.fromisoformat(a["raised_at"])
                raised[a["dedup_key"]] = min(at, raised.get(a["dedup_key"], at))
            firsts.update({k: 1 for k in raised if k not in firsts})
            by_target: dict[str, set[str]] = {}
            for dk in firsts:
                by_target.setdefault(_target_of(dk), set()).add(dk)
            return [k for k in due if not by_target.get(target_of[k], set()) - earlier[k]]

        try:  # a worker back from a fault raises what it owes once its input is applied: give it the slack
            wait_for(lambda: not unraised(), wait_alerts_s, "every SLA target owed raised", step=2.0)
        except AssertionError:
            pass
        unraised_keys = unraised()
        missing = sorted(":".join(map(str, k)) for k in unraised_keys)
        late = [(raised[p.dedup_key] - p.at).total_seconds() for v in due.values() for p in v if p.dedup_key in raised]
        # late by at most the outage: each stage due in a fault's window, against that fault's outage
        over: dict[str, float] = {}
        after_drain: list[str] = []
        drained = self.drained_at or now
        for v in due.values():
            for p in v:
                at = raised.get(p.dedup_key)
                if at is None:
                    continue
                for a, b, f in windows:
                    if a <= p.at <= b:
                        past = (at - p.at).total_seconds() - f.outage_s(now)
                        if past > slack_s:
                            over[p.dedup_key] = max(over.get(p.dedup_key, 0.0), past)
                if (at - max(drained, p.at)).total_seconds() > slack_s:
                    after_drain.append(p.dedup_key)
        letters = read_topic(self.s, self.s.topics.dlq)
        wrong = {c: (v, seen.get(c, 0)) for c, v in want.items() if seen.get(c) != v}
        wrong_letters = [d["error"][:200] for d in letters if any(c in d.get("raw", "") for c in wrong)]
        return Verdict(
            acked=len(acked), stored=len(ids), lost=sorted(set(acked) - set(ids)),
            twice=sorted(k for k, n in ids.items() if n > 1), forged=sorted(set(ids) - sent),
            cases=len(want), cases_wrong=wrong, alerts_twice={k: n for k, n in firsts.items() if n > 1},
            due_in_faults=len(due), due_missing=missing, max_late_s=max(late, default=0.0),
            dead_letters=len(letters), wrong_case_letters=wrong_letters, late_over_outage=sorted(over),
            max_over_outage_s=max(over.values(), default=0.0), raised_after_drain=sorted(after_drain), slack_s=slack_s,
            missing_stages={":".join(map(str, k)): [(p.dedup_key, p.at.isoformat()) for p in due[k]]
                            for k in unraised_keys})
