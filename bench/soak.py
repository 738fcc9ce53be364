"""Soak: the whole system for `--minutes` at `--rate` events/s, a headless browser on the wall (issue 13 item 4).

    .venv/bin/python bench/soak.py --minutes 60 --rate 100

Runs what users run, `fengqiao up` (its own Kafka broker on a free port in a temp data folder, a
streams worker, the wall with its embedded sink, the simulator), and headless Chromium on the wall
(selenium + Debian's chromium-driver). Every `--sample-seconds` (60) it reads each process's RSS
from /proc (a part's whole process tree: the wall's Streamlit, Chromium's renderers) and, after the
warm-up (a sixth of the run, at most 10 min), fits a least-squares line: the slope in MB/hour with
its 95 % interval and a verdict, flat when |slope| <= `--flat-mb-per-hour` (10 MB/h, i.e. < 1.7 GB a
week), and the slope over the second half alone: a part whose working set is still filling (the
simulator's and the worker's cases in flight: at speed 60 a case lives for hours, so an hour's run
does not reach their steady state; `--speed` changes it) grows less in the second half, a leak does not. The wall's refresh time is what the browser sees: the gap between two successive updates of
the wall's content (nominal: `wall.refresh_seconds`) and the longest time the KPI tiles were absent
(a visible blank), plus a full page load (navigation until every tile shows) at start and end.

The simulator's `--rate` is new petitions/s; once lifecycles run to their end a petition brings
about 6.5 events (measured from `producers.scenario` with the demo profile over the second simulated
hour, at speeds 60, 1,000 and 3,000: 6.43, 6.44, 6.62), so `--rate R` runs R/6.5 petitions/s. The
default speed, 1,000, ends a case's life (archive after up to 4 days) within minutes, so the run
reaches its steady state within the warm-up; at `up`'s 60 a case lives for up to 1.6 hours and an
hour's run is still filling (the load ramps from 2.8 to 6.5 events per petition). The daily curve (a
day in 86 s at speed 1,000) makes the load swing round the mean, and the events/s actually landed in
ClickHouse are printed per sample. The machine may be shared: the load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMEDRIVER = "/usr/bin/chromedriver"
EVENTS_PER_PETITION = 6.5  # whole lifecycles, demo profile (producers.scenario, second simulated hour)
SPEED = 1000.0
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--window-size=1920,1080", "--lang=zh-CN"]
TILES = ("今日受理", "在办", "待评价", "24小时内到期", "已超期")
# Polls the wall every 100 ms in the page. The header clock (server time, to the second) is drawn once per run
# of the wall's fragment: its change is one refresh, seen by the browser at performance.now(); the browser's
# Date.now() minus the clock's instant is the delivery lag. The KPI row missing (after it was once there) is a
# visible blank.
WATCH_JS = """
if (!window.__fq) {
  window.__fq = {updates: [], lags: [], blanks: [], last: null, blankSince: null};
  setInterval(() => {
    const f = window.__fq, k = document.querySelector('.fq-kpis'), c = document.querySelector('.fq-clock');
    const now = performance.now();
    if (!k || !c) { if (f.last !== null && f.blankSince === null) f.blankSince = now; return; }
    if (f.blankSince !== null) { f.blanks.push(now - f.blankSince); f.blankSince = null; }
    const m = c.innerText.match(/(\\d+)年(\\d+)月(\\d+)日\\s*(\\d+):(\\d+):(\\d+)/);
    if (!m || m[0] === f.last) return;
    f.last = m[0];
    f.updates.push(now);
    const at = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4] - 8, +m[5], +m[6]);  // the wall shows China Standard Time, UTC+8
    f.lags.push(Date.now() - at - 500);  // the clock is truncated to the second: half a second on average
  }, 100);
}
"""
DRAIN_JS = ("const f = window.__fq || {updates: [], lags: [], blanks: []}; return {updates: f.updates.splice(0), "
            "lags: f.lags.splice(0), blanks: f.blanks.splice(0), installed: !!window.__fq};")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- processes and RSS (/proc)
def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, command line) of every process we may read."""
    out: dict[int, tuple[int, str]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            continue
        out[int(d)] = (ppid, cmd)
    return out


def _tree(root: int, table: dict[int, tuple[int, str]]) -> list[int]:
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in table:
            out.append(p)
            todo.extend(kids.get(p, []))
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


PARTS = (("streams worker", re.compile(r"fengqiao\.cli streams")),
         ("wall (Streamlit + embedded sink)", re.compile(r"fengqiao\.cli wall|dashboard\.launch|streamlit")),
         ("simulator", re.compile(r"fengqiao\.cli simulate")))


def part_rss(up_pid: int, driver_pid: int | None, soak_pid: int, folder: Path) -> dict[str, tuple[float, str]]:
    """Each part's RSS in MB (its process tree summed) and its pids: `fengqiao up`'s children by
    their subcommand, the Kafka broker (java, in up's data folder), Chromium under chromedriver."""
    table = _proc_table()
    out: dict[str, tuple[float, str]] = {}

    def add(name: str, pids: list[int]) -> None:
        if pids:
            out[name] = (sum(_rss_mb(p) for p in pids), ",".join(map(str, sorted(pids)[:3])))

    add("fengqiao up (supervisor)", [up_pid] if up_pid in table else [])
    for pid, (ppid, cmd) in table.items():
        if ppid != up_pid:
            continue
        for name, pat in PARTS:
            if pat.search(cmd):
                add(name, _tree(pid, table))
    add("kafka broker (java)", [p for p, (_, cmd) in table.items() if "kafka.Kafka" in cmd and str(folder) in cmd])
    if driver_pid:
        add("chromium + chromedriver", _tree(driver_pid, table))
    add("soak client (selenium, this script)", [soak_pid])
    return out


# ---------------------------------------------------------------- figures
@dataclass
class Fit:
    slope: float  # MB per hour
    half_ci: float  # 95 % half-width
    mean: float
    n: int


def fit(samples: list[tuple[float, float]]) -> Fit | None:
    """Least squares of (seconds, MB) -> MB/hour with a t-based 95 % interval of the slope."""
    if len(samples) < 3:
        return None
    xs = [t / 3600 for t, _ in samples]
    ys = [m for _, m in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    resid = [y - (my + b * (x - mx)) for x, y in zip(xs, ys)]
    se = math.sqrt(sum(r * r for r in resid) / (len(xs) - 2) / sxx)
    t = 2.0 if len(xs) > 30 else {3: 12.7, 4: 4.3, 5: 3.18, 6: 2.78, 7: 2.57, 8: 2.45, 9: 2.36, 10: 2.31}.get(
        len(xs), 2.2)
    return Fit(b, t * se, my, len(xs))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] if s else float("nan")


def _metric(url: str, name: str, label: str = "") -> float | None:
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return None
    vals = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(name) and label in line and not line.startswith("#")]
    return sum(vals) if vals else None


# What the parts hold by their own accounting, from their /metrics: (name, which endpoint, metric, label,
# divisor, unit). With the RSS it tells a native cache filling (RocksDB, chDB) from Python objects piling up.
INSIDE = (("worker RocksDB memtables", "worker", "fengqiao_streams_rocksdb_bytes", 'kind="memtables"', 1 << 20, "MB"),
          ("worker RocksDB block cache", "worker", "fengqiao_streams_rocksdb_bytes", 'kind="block_cache"', 1 << 20, "MB"),
          ("worker RocksDB index+filter", "worker", "fengqiao_streams_rocksdb_bytes", 'kind="table_readers"', 1 << 20,
           "MB"),
          ("worker Python blocks", "worker", "fengqiao_streams_python_allocated_blocks", "", 1000, "k"),
          ("worker malloc in use", "worker", "fengqiao_streams_malloc_bytes", 'kind="in_use"', 1 << 20, "MB"),
          ("worker malloc free", "worker", "fengqiao_streams_malloc_bytes", 'kind="free"', 1 << 20, "MB"),
          ("worker similar petitions", "worker", "fengqiao_streams_similar_petitions", "", 1000, "k"),
          ("worker similar capacity", "worker", "fengqiao_streams_similar_capacity", "", 1000, "k"),
          ("wall chDB MemoryTracking", "wall", "fengqiao_store_memory_bytes", 'metric="MemoryTracking"', 1 << 20, "MB"),
          ("wall chDB mark cache", "wall", "fengqiao_store_memory_bytes", 'metric="MarkCacheBytes"', 1 << 20, "MB"),
          ("wall chDB primary index", "wall", "fengqiao_store_memory_bytes", 'metric="PrimaryIndexCacheBytes"', 1 << 20,
           "MB"),
          ("wall chDB query conditions", "wall", "fengqiao_store_memory_bytes", 'metric="QueryConditionCacheBytes"',
           1 << 20, "MB"),
          ("wall chDB compiled expressions", "wall", "fengqiao_store_memory_bytes",
           'metric="CompiledExpressionCacheBytes"', 1 << 20, "MB"),
          ("wall Python blocks", "wall", "fengqiao_sink_python_allocated_blocks", "", 1000, "k"),
          ("wall malloc in use", "wall", "fengqiao_sink_malloc_bytes", 'kind="in_use"', 1 << 20, "MB"),
          ("wall malloc free", "wall", "fengqiao_sink_malloc_bytes", 'kind="free"', 1 << 20, "MB"))


def inside(urls: dict[str, str]) -> dict[str, float]:
    texts: dict[str, str] = {}
    for part, url in urls.items():
        try:
            texts[part] = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            texts[part] = ""
    out = {}
    for name, part, metric, label, div, _ in INSIDE:
        vals = [float(line.rsplit(" ", 1)[1]) for line in texts[part].splitlines()
                if line.startswith(metric) and label in line and not line.startswith("#")]
        if vals:
            out[name] = sum(vals) / div
    return out


# ---------------------------------------------------------------- the browser
@dataclass
class Watch:
    driver: Any
    gaps: list[float] = field(default_factory=list)  # s between two refreshes
    last: float | None = None  # browser ms of the last refresh seen
    lags: list[float] = field(default_factory=list)  # ms
    blanks: list[float] = field(default_factory=list)  # ms
    loads: list[tuple[str, float]] = field(default_factory=list)  # (when, seconds)
    reinstalls: int = 0

    def load(self, url: str, when: str, timeout: float = 180) -> None:
        t0 = time.monotonic()
        self.driver.get(url)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            try:
                text = self.driver.find_element("tag name", "body").text
            except Exception:  # re-rendered under our feet
                text = ""
            if all(t in text for t in TILES):
                self.loads.append((when, time.monotonic() - t0))
                break
            time.sleep(0.2)
        else:
            self.loads.append((when, float("inf")))
        self.driver.execute_script(WATCH_JS)
        self.last = None  # a new page: its clock starts a new series

    def drain(self) -> None:
        got = self.driver.execute_script(DRAIN_JS)
        if not got["installed"]:
            self.reinstalls += 1
            self.driver.execute_script(WATCH_JS)
        self.gaps.extend((b - a) / 1000 for a, b in zip([self.last, *got["updates"]], got["updates"])
                         if a is not None)
        if got["updates"]:
            self.last = got["updates"][-1]
        self.lags.extend(got["lags"])
        self.blanks.extend(got["blanks"])


def open_browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='fq-soak-chrome-')}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


# ---------------------------------------------------------------- the run
def _wait_log(log: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log.read_text("utf-8", "replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.5)
    return False


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=100.0, help="events per second (mean)")
    ap.add_argument("--sample-seconds", type=float, default=None, help="RSS sample period (default 60, "
                    "or a tenth of the run when shorter than 10 min)")
    ap.add_argument("--warmup-minutes", type=float, default=None, help="default: a sixth of the run, at most 10")
    ap.add_argument("--flat-mb-per-hour", type=float, default=10.0)
    ap.add_argument("--speed", type=float, default=SPEED, help="the simulator's time compression (up's default is 60; at 1,000 cases end within minutes)")
    ap.add_argument("--keep", action="store_true", help="keep the data folder (logs) afterwards")
    args = ap.parse_args()
    # a run in the background has SIGINT ignored: SIGTERM stops it the same way (everything it started, cleanly)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not (Path(CHROMEDRIVER).exists() and shutil.which("chromium")):
        print("chromium / chromium-driver not installed (apt-get install chromium chromium-driver)")
        return 2
    run_s = args.minutes * 60
    every = args.sample_seconds or (60.0 if args.minutes >= 10 else max(2.0, run_s / 10))
    warm_s = 60 * (args.warmup_minutes if args.warmup_minutes is not None else min(10.0, args.minutes / 6))
    root = Path(tempfile.mkdtemp(prefix="fq-soak-"))
    kafka_port, wall_port = free_port(), free_port()
    env = {**os.environ, "FENGQIAO_DATA_DIR": str(root / "data"), "PYTHONUNBUFFERED": "1",
           "FENGQIAO_STREAMS__WEB_PORT": str(free_port()), "FENGQIAO_WALL__METRICS_PORT": str(free_port()),
           "FENGQIAO_SINK__METRICS_PORT": str(free_port())}
    for k in ("FENGQIAO_KAFKA_BOOTSTRAP", "FENGQIAO_CLICKHOUSE_URL"):
        env.pop(k, None)
    petitions = args.rate / EVENTS_PER_PETITION  # at steady state
    cmd = [str(ROOT / ".venv/bin/fengqiao"), "up", "--kafka-port", str(kafka_port), "--wall-port", str(wall_port),
           "--rate", f"{petitions:.2f}", "--speed", f"{args.speed:g}"]
    print(f"soak: {args.minutes:g} min at {args.rate:g} events/s ({petitions:.1f} petitions/s, speed {args.speed:g}); "
          f"RSS every {every:g} s, warm-up {warm_s / 60:g} min; folder {root}", flush=True)
    print(f"command: {' '.join(cmd)}  (load average {_load()}, {os.cpu_count()} cores)", flush=True)
    log = root / "up.log"
    out = open(log, "wb")
    up = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                          start_new_session=True)
    driver = None
    metrics = f"http://127.0.0.1:{env['FENGQIAO_WALL__METRICS_PORT']}/metrics"
    urls = {"wall": metrics, "worker": f"http://127.0.0.1:{env['FENGQIAO_STREAMS__WEB_PORT']}/metrics/"}
    held: dict[str, list[tuple[float, float]]] = {}
    rss: dict[str, list[tuple[float, float]]] = {}
    rates: list[float] = []  # events/s landed between two samples
    pids: dict[str, set[str]] = {}
    code = 0
    try:
        if not _wait_log(log, "the wall:", up, 300):
            print("the wall never came up:\n" + log.read_text("utf-8", "replace")[-3000:])
            return 1
        url = f"http://127.0.0.1:{wall_port}/"
        driver = open_browser()
        watch = Watch(driver)
        watch.load(url, "start")
        print(f"wall up at {url}; first page load {watch.loads[-1][1]:.1f} s", flush=True)
        driver_pid = driver.service.process.pid
        t0 = time.monotonic()
        rows0 = _metric(metrics, "fengqiao_sink_rows_total", 'table="events"') or 0.0
        last_rows, last_t = rows0, t0
        while True:
            now = time.monotonic() - t0
            for name, (mb, pid_s) in part_rss(up.pid, driver_pid, os.getpid(), root).items():
                rss.setdefault(name, []).append((now, mb))
                pids.setdefault(name, set()).add(pid_s)
            try:
                watch.drain()
            except Exception as exc:  # a dead renderer: count it, load again
                print(f"  browser: {type(exc).__name__}; loading the page again", flush=True)
                watch.load(url, f"after a browser error at {now / 60:.1f} min")
            rows = _metric(metrics, "fengqiao_sink_rows_total", 'table="events"')
            lag = _metric(metrics, "fengqiao_sink_consumer_lag")
            ev_s = 0.0
            if rows is not None:
                ev_s = (rows - last_rows) / max(1e-3, time.monotonic() - last_t)
                last_rows, last_t = rows, time.monotonic()
                rates.append(ev_s)
            for name, value in inside(urls).items():
                held.setdefault(name, []).append((now, value))
            line = " ".join(f"{k.split(' ')[0]}={v[-1][1]:.0f}" for k, v in rss.items())
            print(f"[{now / 60:5.1f} min] RSS MB: {line} | events landed {ev_s:.0f}/s (total "
                  f"{(rows or 0) - rows0:.0f}), sink lag {lag if lag is not None else '?'}, wall updates "
                  f"{len(watch.gaps)}, load {_load()}", flush=True)
            if held:
                print("           held: " + ", ".join(f"{n.split(' ', 1)[1]} ({n.split(' ')[0]}) {v[-1][1]:.1f}"
                                                      for n, v in held.items() if v[-1][0] == now), flush=True)
            if up.poll() is not None:
                print("fengqiao up exited early:\n" + log.read_text("utf-8", "replace")[-3000:])
                code = 1
                break
            if now >= run_s:
                break
            time.sleep(max(0.0, min(every, run_s - now) - (time.monotonic() - t0 - now)))
        watch.drain()
        watch.load(url, "end")
        report(args, rss, pids, watch, warm_s, (last_rows - rows0) / max(1.0, last_t - t0), rates[1:])
        report_inside(held, warm_s)
        restarts = log.read_text("utf-8", "replace").count("restarted ")
        print(f"children restarted by fengqiao up during the run: {restarts}")
        if any(f is not None and abs(f.slope) > args.flat_mb_per_hour
               for f in (fit([s for s in v if s[0] >= warm_s]) for v in rss.values())):
            code = code or 3
        return code
    finally:
        if driver is not None:
            driver.quit()
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            try:
                up.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
        out.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def report(args: argparse.Namespace, rss: dict[str, list[tuple[float, float]]], pids: dict[str, set[str]],
           watch: Watch, warm_s: float, ev_s: float, rates: list[float]) -> None:
    print(f"\n== soak: {args.minutes:g} min, target {args.rate:g} events/s, landed {ev_s:.1f} events/s mean"
          + (f" (per sample min {min(rates):.0f}, p50 {pct(rates, .5):.0f}, max {max(rates):.0f})" if rates else "")
          + f"; load average at the end {_load()} ==")
    print(f"RSS slope (least squares over the samples after {warm_s / 60:g} min of warm-up; flat when "
          f"|slope| <= {args.flat_mb_per_hour:g} MB/h):")
    print(f"  {'process':<38} {'start MB':>9} {'end MB':>8} {'slope MB/h':>11} {'95% ±':>7} {'n':>3} "
          f"{'2nd half':>9}  verdict")
    for name, samples in rss.items():
        f = fit([s for s in samples if s[0] >= warm_s])
        half = fit([s for s in samples if s[0] >= samples[-1][0] / 2])  # slowing growth: a working set filling
        if f is None:
            print(f"  {name:<38} {samples[0][1]:9.1f} {samples[-1][1]:8.1f} {'-':>11} {'-':>7} {len(samples):3d}  "
                  f"too few samples")
            continue
        verdict = "flat" if abs(f.slope) <= args.flat_mb_per_hour else ("GROWING" if f.slope > 0 else "shrinking")
        restarted = f" (pids {' / '.join(sorted(pids[name]))})" if len(pids[name]) > 1 else ""
        print(f"  {name:<38} {samples[0][1]:9.1f} {samples[-1][1]:8.1f} {f.slope:11.1f} {f.half_ci:7.1f} "
              f"{f.n:3d} {half.slope if half else float('nan'):9.1f}  {verdict}{restarted}")
    gaps, lags = watch.gaps, [x / 1000 for x in watch.lags]
    if gaps:
        print(f"wall refresh, as the browser saw it (gap between two redraws of the wall's fragment; nominal "
              f"{os.environ.get('FENGQIAO_WALL__REFRESH_SECONDS', '5')} s + the time its queries take): "
              f"p50 {pct(gaps, .5):.2f} s, p95 {pct(gaps, .95):.2f} s, max {max(gaps):.2f} s over {len(gaps)} refreshes")
        print(f"  delivery lag (browser clock minus the server's header clock, ±0.5 s): p50 {pct(lags, .5):.2f} s, "
              f"p95 {pct(lags, .95):.2f} s, max {max(lags):.2f} s")
    else:
        print("wall refresh: no refresh seen")
    print(f"visible blanks (KPI tiles absent): {len(watch.blanks)}"
          + (f", longest {max(watch.blanks) / 1000:.2f} s" if watch.blanks else "")
          + f"; watcher re-installed after a page reload {watch.reinstalls} times")
    print("full page load until every tile shows: " + ", ".join(
        f"{w} {s:.1f} s" if s != float("inf") else f"{w}: not every tile within 180 s" for w, s in watch.loads))



def report_inside(held: dict[str, list[tuple[float, float]]], warm_s: float) -> None:
    """The same fit over what the parts report they hold (MB, or thousands of Python blocks)."""
    if not held:
        return
    units = {name: unit for name, *_, unit in INSIDE}
    print("held by the parts' own accounting (their /metrics), slope per hour after the warm-up:")
    for name, samples in held.items():
        f = fit([x for x in samples if x[0] >= warm_s])
        half = fit([x for x in samples if x[0] >= samples[-1][0] / 2])
        u = units.get(name, "")
        print(f"  {name:<38} {samples[0][1]:9.1f} {samples[-1][1]:8.1f} {u:>2}  slope "
              + (f"{f.slope:8.1f} ± {f.half_ci:.1f} {u}/h, 2nd half {half.slope if half else float('nan'):.1f}"
                 if f else "-"))


if __name__ == "__main__":
    sys.exit(main())
