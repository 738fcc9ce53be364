"""End to end (issue 12 mark 7): simulator -> Kafka -> two workers -> sink -> ClickHouse, wall open.

    FENGQIAO_KAFKA_BOOTSTRAP=127.0.0.1:39192 .venv/bin/python bench/bench_e2e.py [--rate 2000] [--minutes 5]

On the broker of FENGQIAO_KAFKA_BOOTSTRAP (a quiet one of your own: `fengqiao kafka start --port P
--data-dir D`), on fresh topics: two `fengqiao streams` workers, `fengqiao wall` (its embedded sink
writes chDB) with the wall page open in headless Chromium (skipped, and said so, without
chromium/chromedriver), and the simulator's events sent with acks=all at `--rate` per second for
`--minutes` (a ledger of every acknowledged event). Prints, beside the offered rate: what the
producer reached, what the workers and the sink committed while the load ran, how long both took
to catch up after it, and the ledger check (every acknowledged event in ClickHouse exactly once,
every case at the version its events give, alerts raised once). The mark: the offered rate held for
the whole run, both parts caught up within 10 s of its end, and the ledger clean. Exit 1 otherwise.

The events are generated before the clock starts (600,000 take minutes on 2 cores) and cached
under /tmp/fq-e2e-cache so that a second run starts at once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker.topics import ensure_project_topics  # noqa: E402
from fengqiao.contract import parse_event  # noqa: E402
from fengqiao.domain.policy import load_policy  # noqa: E402
from fengqiao.settings import Settings, SinkSettings, StreamsSettings, Topics  # noqa: E402
from producers.simulator import generate_events  # noqa: E402
from tests.integration.fault_harness import (  # noqa: E402
    FENGQIAO, PETITIONS_PER_S, SPEED, TOPIC_FIELDS, Load, Rig, wait_for)
from tests.integration.streams_harness import TZ, Worker, free_port, worker_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/tmp/fq-e2e-cache")
CHROMEDRIVER = "/usr/bin/chromedriver"
CATCH_UP_S = 10.0


def events_for(rate: float, seconds: float, policy_file: Path, seed: int = 21) -> list:
    """The simulator's events, about `rate` per second of event time (whole lifecycles, as the
    fault harness's load, scaled), generated once per (seed, count, rate) and cached."""
    n = int(rate * seconds)
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"s{seed}-n{n}-r{rate:.0f}.jsonl"
    t0 = time.perf_counter()
    if path.exists():
        evs = [parse_event(line) for line in path.read_bytes().splitlines() if line]
        how = "read from the cache"
    else:
        policy = load_policy(policy_file, "itest")
        evs = generate_events(seed, n, datetime.now(TZ), SPEED, rate=PETITIONS_PER_S * rate / 300, policy=policy)
        path.write_bytes(b"\n".join(e.to_json() for e in evs))
        how = "generated"
    # the cached events keep their event times: shift them so the run starts now (timers ahead)
    shift = datetime.now(TZ) - evs[0].occurred_at
    evs = [e.model_copy(update={"occurred_at": e.occurred_at + shift}) for e in evs]
    print(f"{len(evs):,} events {how} in {time.perf_counter() - t0:.0f} s", flush=True)
    return evs


class E2ERig(Rig):
    """The fault harness's rig on one broker (ours), with two workers and the wall as the sink."""

    def __init__(self, root: Path, bootstrap: str, partitions: int) -> None:
        super().__init__(root, partitions=partitions)
        self.settings = Settings(
            kafka_bootstrap=bootstrap, data_dir=root / "data", clickhouse_url="",
            clickhouse_database=f"e2e_{self.tag}",
            topics=Topics(**{k: f"e{self.tag}.{k}" for k in TOPIC_FIELDS}, partitions=partitions),
            streams=StreamsSettings(app_id=f"it-e{self.tag}"),
            sink=SinkSettings(group_id=f"sink-e{self.tag}", batch_rows=5000, batch_seconds=0.5))
        ensure_project_topics(self.settings)
        self.workers: list[Worker] = []
        self.wall_port = free_port()

    def start_workers(self, n: int) -> None:
        env = worker_env(self.s, FENGQIAO_STREAMS__POLICY_FILE=str(self.policy_file),
                         FENGQIAO_STREAMS__POLICY_PROFILE="itest", FENGQIAO_STREAMS__RENOTIFY_SECONDS="3600",
                         FENGQIAO_STREAMS__AUTO_DISPATCH_AFTER_SECONDS="3600",
                         FENGQIAO_STREAMS__STATS_INTERVAL_SECONDS="2.0")
        self.workers = [Worker(env, self.root / f"worker{i}", self.root / f"worker{i}.log") for i in range(n)]
        for w in self.workers:
            w.wait_ready(180)
        time.sleep(1.0)
        for w in self.workers:  # the last one to join triggered a rebalance
            w.wait_ready(180)
        self.worker = self.workers[0]

    def start_sink(self, timeout: float = 120) -> float:
        """`fengqiao wall` with its embedded sink (the process that owns the chDB path)."""
        env = self.sink_env()
        env.update({"FENGQIAO_WALL__REFRESH_SECONDS": "5", "FENGQIAO_WALL__STALE_AFTER_SECONDS": "3600",
                    "PYTHONPATH": str(ROOT)})
        log = self.root / "wall.log"
        t0 = time.monotonic()
        self.sink = subprocess.Popen([FENGQIAO, "wall", "--port", str(self.wall_port), "--host", "127.0.0.1"],
                                     env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        proc = self.sink
        wait_for(lambda: "assigned" in log.read_text("utf-8", "replace") or proc.poll() is not None, timeout,
                 "the wall's embedded sink")
        assert proc.poll() is None, log.read_text("utf-8", "replace")[-3000:]
        return time.monotonic() - t0

    def committed(self, group: str) -> int:
        try:
            done, _ = self.offsets(group, self.s.topics.events)
        except Exception:  # noqa: BLE001 - ask again next time
            return -1
        return sum(done.values())

    def stop_all(self) -> None:
        for w in self.workers:
            w.stop()
        if self.sink is not None and self.sink.poll() is None:
            self.sink.send_signal(signal.SIGTERM)
            try:
                self.sink.wait(60)
            except subprocess.TimeoutExpired:
                self.sink.kill()


def open_wall(url: str):  # type: ignore[no-untyped-def]
    """Headless Chromium on the wall (None, said, when it is not installed)."""
    if not (Path(CHROMEDRIVER).exists() and shutil.which("chromium")):
        print("chromium / chromium-driver not installed: the wall is not open in a browser", flush=True)
        return None, None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1920,1080", "--lang=zh-CN"):
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="fq-e2e-chrome-")
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.get(url + "/")
    wait_for(lambda: "全省案件态势" in driver.find_element("tag name", "body").text, 90, "the wall page")
    return driver, profile


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=2000.0, help="events per second offered")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the folder (logs) after the run")
    args = ap.parse_args()
    bootstrap = os.environ.get("FENGQIAO_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    root = Path(tempfile.mkdtemp(prefix="fq-e2e-"))
    rig = E2ERig(root, bootstrap, args.partitions)
    driver = profile = None
    ok = False
    try:
        evs = events_for(args.rate, args.minutes * 60, rig.policy_file)
        rig.start_workers(args.workers)
        print(f"{args.workers} workers ready; wall + embedded sink up in {rig.start_sink():.1f} s "
              f"(http://127.0.0.1:{rig.wall_port}); folder {root}", flush=True)
        driver, profile = open_wall(f"http://127.0.0.1:{rig.wall_port}")
        load = Load(bootstrap, rig.s.topics.events, evs, args.rate)
        t0 = time.monotonic()
        load.start()
        groups = {"workers": rig.s.streams.app_id, "sink": rig.s.sink.group_id}
        while load.is_alive():
            load.join(15)
            el = time.monotonic() - t0
            seen = {k: rig.committed(g) for k, g in groups.items()}
            print(f"  {el:5.0f} s: sent {load.sent:,} ({load.sent / el:,.0f}/s); committed: workers "
                  f"{seen['workers']:,}, sink {seen['sink']:,}", flush=True)
        t_load = time.monotonic() - t0
        at_end = {k: rig.committed(g) for k, g in groups.items()}
        offered = load.sent / t_load
        caught: dict[str, float] = {}
        for k, g in groups.items():
            try:
                caught[k] = wait_for(lambda g=g: rig.safe_lag(g, rig.s.topics.events) == 0, 3600, f"{k} to catch up",
                                     step=1.0)
            except AssertionError:
                caught[k] = float("inf")
        wall_ok = driver is not None and "全省案件态势" in driver.find_element("tag name", "body").text
        print(f"\nload: {load.sent:,} events in {t_load:.0f} s = {offered:,.0f} ev/s offered (asked {args.rate:,.0f}), "
              f"{len(load.failed)} not acknowledged")
        for k in groups:
            rate_during = at_end[k] / t_load
            total = load.sent / (t_load + caught[k])
            print(f"{k}: {rate_during:,.0f} ev/s committed while the load ran ({rate_during / offered:.0%} of offered), "
                  f"caught up {caught[k]:.0f} s after its end, {total:,.0f} ev/s over the whole run")
        print(f"wall open in a browser for the whole run: {'yes' if wall_ok else 'no'}")
        verdict = rig.verify(load, wait_cases_s=120)
        print(verdict.summary())
        for p in verdict.problems():
            print("  PROBLEM: " + p)
        held = offered >= 0.98 * args.rate and t_load >= args.minutes * 60 * 0.98
        ok = (held and max(caught.values()) <= CATCH_UP_S and not verdict.problems() and wall_ok
              and args.rate >= 2000 and args.minutes >= 5)
        print(f"\n[mark 7: >= 2,000 ev/s for 5 minutes end to end, every event once: {'MET' if ok else 'NOT MET'}] "
              f"(end to end {load.sent / (t_load + max(caught.values())):,.0f} ev/s)")
    finally:
        if driver is not None:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        rig.stop_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
