"""A local Apache Kafka broker without Docker: jars from Maven Central, one KRaft node.

`start` fetches the broker jars once (mvn + a pinned maven-dependency-plugin, into
`<project>/.cache/kafka/<version>/libs`), writes `server.properties`, formats KRaft
storage once, launches `kafka.Kafka` detached and waits until it answers a Metadata
request. Everything about one broker lives in its data folder (config, storage, log,
`broker.json` with pid and ports), so several brokers run side by side, one per
folder. Every failure a person can cause or fix is a `BrokerError` with one line.
A cluster of several such nodes (broker/cluster.py) uses the same pieces: `NodeConfig`,
`launch_node`, `wait_ready`, `terminate`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import Iterator

from broker.wire import metadata_brokers
from fengqiao.settings import PROJECT_ROOT

KAFKA_VERSION = "4.3.1"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
CACHE_ROOT = PROJECT_ROOT / ".cache" / "kafka"
HOST = "127.0.0.1"
MIN_JAVA = 17
DEFAULT_HEAP = "512m"
CLUSTER_HEAP = "256m"  # each node of a local cluster: three JVMs on a small machine
STOP_GRACE_SECONDS = 20.0
MVN_TIMEOUT_SECONDS = 900.0

_HERE = Path(__file__).resolve().parent
_POM = _HERE / "pom.xml"
_LOG4J = _HERE / "log4j2.properties"
_TEMPLATE = _HERE / "server.template.properties"
_STATE = "broker.json"
_MARKER = "COMPLETE"
_MAIN_CLASS = "kafka.Kafka"
# Popen objects of brokers this process started, so they get reaped (no zombies).
_children: dict[int, subprocess.Popen[bytes]] = {}


class BrokerError(Exception):
    """A start/stop failure a person can act on; str() is one line."""


@dataclass(frozen=True)
class BrokerInfo:
    """A running broker, as recorded in `<data dir>/broker.json`."""

    port: int
    pid: int
    log_file: Path
    controller_port: int = 0
    data_dir: Path | None = None
    version: str = KAFKA_VERSION

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"


@dataclass(frozen=True)
class NodeConfig:
    """What one node's server.properties says: its id, ports, quorum and copies per partition."""

    port: int
    controller_port: int
    node_id: int = 1
    voters: str = ""  # a static quorum "1@127.0.0.1:C1,2@..."; empty: a standalone single node
    replication: int = 1
    min_insync: int = 1

    @property
    def quorum(self) -> str:
        if self.voters:
            return f"controller.quorum.voters={self.voters}"
        return f"controller.quorum.bootstrap.servers={HOST}:{self.controller_port}"


# ------------------------------------------------------------------ public API
def start(port: int, data_dir: Path, timeout: float = 90.0, *, version: str = KAFKA_VERSION,
          cache_root: Path | None = None, heap: str = DEFAULT_HEAP) -> BrokerInfo:
    """Start (or find already running) the broker of `data_dir` on 127.0.0.1:`port`.

    `timeout` bounds the wait for the broker to answer, not the one-off jar download.
    """
    data_dir = Path(data_dir).resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerError(f"无法创建数据目录 / cannot create data folder {data_dir}: {exc.strerror}") from None
    with locked(data_dir / ".lock"):
        running = status(data_dir)
        if running is not None:
            if running.port != port:
                raise BrokerError(
                    f"该目录的 broker 已在端口 {running.port} 运行 / the broker of {data_dir} already runs "
                    f"on port {running.port}, not {port}; stop it first (fengqiao kafka stop --data-dir {data_dir})")
            return running
        clear_state(data_dir)
        check_port_free(port)
        java = find_java()
        libs = ensure_jars(version, cache_root)
        node = NodeConfig(port=port, controller_port=_controller_port(data_dir, port))
        info = launch_node(java, libs, data_dir, node, None, version, heap)
        try:
            wait_ready(info, timeout)
        except BaseException:  # BrokerError, or Ctrl-C while waiting: leave no half-started broker
            terminate(info.pid, grace=5.0)
            clear_state(data_dir)
            raise
        return info


def launch_node(java: str, libs: Path, data_dir: Path, node: NodeConfig, cluster_id: str | None,
                version: str, heap: str) -> BrokerInfo:
    """Write the node's config, format its storage once, launch it detached (not yet ready).

    `cluster_id` None: a standalone node with its own id (`<data dir>/cluster.id`)."""
    check_port_free(node.port)
    props = _write_config(data_dir, node)
    _format_storage(java, libs, data_dir, props, cluster_id)
    check_port_free(node.port)
    return _launch(java, libs, data_dir, props, node.port, node.controller_port, version, heap)


def stop(data_dir: Path, grace: float = STOP_GRACE_SECONDS) -> bool:
    """Stop the broker of `data_dir`: SIGTERM (controlled shutdown), SIGKILL after `grace` s."""
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        return False
    with locked(data_dir / ".lock"):
        info = status(data_dir)
        if info is None:
            clear_state(data_dir)
            return False
        terminate(info.pid, grace=grace)
        clear_state(data_dir)
        wait_port_released(info.port, 5.0)
        return True


def status(data_dir: Path) -> BrokerInfo | None:
    """The broker recorded in `data_dir` if its pid is alive and is our java process."""
    info = recorded(data_dir)
    if info is None or not _alive(info.pid):
        return None
    if not _is_our_broker(info.pid, info.data_dir or Path(data_dir).resolve()):
        return None
    return info


def recorded(data_dir: Path) -> BrokerInfo | None:
    """The broker `data_dir` says it runs, alive or not (a killed one stays recorded)."""
    return _read_state(Path(data_dir).resolve())


def configured_port(data_dir: Path) -> int | None:
    """The client port of the node's last config, if it has one (a stopped node's port)."""
    try:
        text = (Path(data_dir) / "server.properties").read_text("utf-8")
    except OSError:
        return None
    m = re.search(r"^listeners=PLAINTEXT://[^:]+:(\d+)", text, re.M)
    return int(m.group(1)) if m else None


def ensure_jars(version: str = KAFKA_VERSION, cache_root: Path | None = None) -> Path:
    """The folder holding the broker's jars; fetched with mvn the first time only."""
    root = (cache_root or CACHE_ROOT) / version
    libs = root / "libs"
    marker = root / _MARKER
    if marker.is_file() and (libs / f"kafka_2.13-{version}.jar").is_file():
        return libs
    root.mkdir(parents=True, exist_ok=True)
    with locked(root / ".lock"):
        if marker.is_file() and (libs / f"kafka_2.13-{version}.jar").is_file():
            return libs  # another process fetched them while we waited
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError("找不到 mvn / `mvn` (Apache Maven) is not on PATH: install Maven "
                              "(Debian: apt-get install maven) to fetch the Kafka jars")
        if libs.exists():
            shutil.rmtree(libs)
        cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(_POM),
               f"-Dkafka.version={version}", f"-Dkafka.libs={libs}",
               f"{DEPENDENCY_PLUGIN}:copy-dependencies"]
        proc = _run_with_progress(cmd, root, f"获取 Kafka {version} 依赖 / fetching the Kafka {version} jars "
                                             f"with mvn (once)")
        if proc is None:
            raise BrokerError(f"mvn 超时 / mvn did not finish fetching Kafka {version} within "
                              f"{MVN_TIMEOUT_SECONDS:.0f} s")
        if proc.returncode != 0 or not (libs / f"kafka_2.13-{version}.jar").is_file():
            reason = _mvn_reason(proc.stdout + "\n" + proc.stderr)
            raise BrokerError(f"mvn 获取 Kafka {version} 失败 / mvn could not fetch "
                              f"org.apache.kafka:kafka_2.13:{version}: {reason}")
        jars = sorted(p.name for p in libs.glob("*.jar"))
        marker.write_text("\n".join(jars) + "\n", "utf-8")
    return libs


def _run_with_progress(cmd: list[str], cwd: Path, what: str,
                       every: float = 10.0) -> subprocess.CompletedProcess[str] | None:
    """`cmd` with its output captured and a progress line on stderr every `every` s while it runs
    (mvn -q says nothing for minutes); None when it outlived MVN_TIMEOUT_SECONDS (then killed)."""
    from fengqiao.progress import Progress

    with tempfile.TemporaryFile("w+") as out, Progress(what, unit="jars", every=every, bar=False) as bar:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                text=True)
        deadline = time.monotonic() + MVN_TIMEOUT_SECONDS
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return None
            time.sleep(0.5)
            bar.update()
        bar.update(len(list((cwd / "libs").glob("*.jar"))))
        out.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), "")


# ------------------------------------------------------------------ checks
def check_port_free(port: int) -> None:
    if not 0 < port < 65536:
        raise BrokerError(f"端口无效 / invalid port {port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does
    try:
        sock.bind((HOST, port))
    except OSError:
        raise BrokerError(f"端口 {port} 已被占用 / port {port} on {HOST} is already in use "
                          f"(another broker or program listens there; choose --port)") from None
    finally:
        sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    try:
        check_port_free(port)
        return True
    except BrokerError:
        return False


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise BrokerError(f"找不到 java / `java` is not on PATH: install a JDK {MIN_JAVA}+ "
                          f"(Debian: apt-get install openjdk-{MIN_JAVA}-jre-headless)")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerError(f"无法运行 java / cannot run {java} -version: {exc}") from None
    major = _java_major(out.stderr + out.stdout)
    if major is None:
        raise BrokerError(f"无法识别 java 版本 / cannot tell the version of {java}")
    if major < MIN_JAVA:
        raise BrokerError(f"java 版本过低 / Kafka 4.x needs Java {MIN_JAVA} or newer, {java} is Java {major}")
    return java


def _java_major(text: str) -> int | None:
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_292"
        major = int(m.group(2))
    return major


def _mvn_reason(output: str) -> str:
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in output.splitlines()]
    errors = [ln.removeprefix("[ERROR]").strip() for ln in lines if ln.startswith("[ERROR]")]
    errors = [e for e in errors if e and not e.startswith(("->", "To see", "Re-run", "For more"))]
    text = errors[0] if errors else next((ln for ln in reversed(lines) if ln), "no output")
    return re.sub(r"\s*-> \[Help \d+\]$", "", text)[:300]


# ------------------------------------------------------------------ config + storage
def _controller_port(data_dir: Path, port: int) -> int:
    """Reuse the controller port of an earlier run when free (the voter set records it;
    a changed port also works, the node updates its own voter entry)."""
    previous = read_json(data_dir / "ports.json").get("controller_port")
    if isinstance(previous, int) and previous != port and port_free(previous):
        return previous
    chosen = free_port()
    while chosen == port:
        chosen = free_port()
    (data_dir / "ports.json").write_text(json.dumps({"controller_port": chosen}), "utf-8")
    return chosen


def _write_config(data_dir: Path, node: NodeConfig) -> Path:
    text = Template(_TEMPLATE.read_text("utf-8")).substitute(
        port=node.port, controller_port=node.controller_port, node_id=node.node_id, quorum=node.quorum,
        replication=node.replication, min_insync=node.min_insync, log_dirs=str(data_dir / "kraft-logs"))
    props = data_dir / "server.properties"
    props.write_text(text, "utf-8")
    return props


def _cluster_id(data_dir: Path) -> str:
    path = data_dir / "cluster.id"
    if path.is_file():
        return path.read_text("utf-8").strip()
    cid = new_cluster_id()
    path.write_text(cid + "\n", "utf-8")
    return cid


def new_cluster_id() -> str:
    cid = "-"
    while cid.startswith("-"):  # Kafka's own ids never start with '-' (CLI parsing)
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cid


def _format_storage(java: str, libs: Path, data_dir: Path, props: Path, cluster_id: str | None) -> None:
    """Format once. A standalone node makes itself the quorum (`--standalone`); a cluster's
    node gets the shared id and finds its quorum in `controller.quorum.voters`."""
    if (data_dir / "kraft-logs" / "meta.properties").is_file():
        return
    quorum = ["--standalone", "-t", _cluster_id(data_dir)] if cluster_id is None else ["-t", cluster_id]
    cmd = [java, "-Xmx256m", "-cp", f"{libs}/*", f"-Dlog4j2.configurationFile={_LOG4J}",
           "kafka.tools.StorageTool", "format", *quorum, "-c", str(props)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        reason = _meaningful_line((proc.stdout + "\n" + proc.stderr).splitlines()) or f"exit {proc.returncode}"
        raise BrokerError(f"KRaft 存储格式化失败 / formatting KRaft storage in {data_dir} failed: {reason}")


# ------------------------------------------------------------------ process
def _launch(java: str, libs: Path, data_dir: Path, props: Path, port: int, controller_port: int,
            version: str, heap: str) -> BrokerInfo:
    log_file = data_dir / "broker.log"
    if log_file.exists():
        log_file.replace(data_dir / "broker.log.1")  # keep the previous run's log
    # the whole heap committed and touched at start, as Kafka's own start script sizes it (Xms = Xmx): the
    # broker's memory is its size from the first minute instead of a slope over hours (issue 13's soak)
    cmd = [java, f"-Xmx{heap}", f"-Xms{heap}", "-XX:+AlwaysPreTouch", "-server", "-XX:+UseG1GC",
           "-XX:MaxGCPauseMillis=20",
           "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
           "-Djava.awt.headless=true", "-Dlog4j2.shutdownHookEnabled=false",
           f"-Dlog4j2.configurationFile={_LOG4J}",
           f"-Dfengqiao.broker.dir={data_dir}", "-cp", f"{libs}/*", _MAIN_CLASS, str(props)]
    with open(log_file, "wb") as log:
        try:
            proc = subprocess.Popen(cmd, cwd=data_dir, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise BrokerError(f"无法启动 java / cannot start {java}: {exc.strerror}") from None
    _children[proc.pid] = proc
    info = BrokerInfo(port=port, pid=proc.pid, log_file=log_file, controller_port=controller_port,
                      data_dir=data_dir, version=version)
    state = {**asdict(info), "log_file": str(log_file), "data_dir": str(data_dir),
             "libs": str(libs), "started_at": time.time()}
    tmp = data_dir / f".{_STATE}.tmp"
    tmp.write_text(json.dumps(state, indent=2), "utf-8")
    tmp.replace(data_dir / _STATE)
    return info


def wait_ready(info: BrokerInfo, timeout: float, brokers: int = 1) -> None:
    """Until the node answers a Metadata request listing at least `brokers` brokers."""
    deadline = time.monotonic() + timeout
    while True:
        if not _alive(info.pid):
            reason = _last_log_line(info.log_file) or "no output"
            raise BrokerError(f"Kafka 启动失败 / the broker exited during start-up: {reason} "
                              f"(log: {info.log_file})")
        listed = metadata_brokers(HOST, info.port, timeout=2.0)
        if listed and len(listed) >= brokers:
            return
        if time.monotonic() >= deadline:
            seen = f" (it sees {len(listed)} of {brokers} brokers)" if listed else ""
            raise BrokerError(f"Kafka 启动超时 / the broker did not answer on {HOST}:{info.port} within "
                              f"{timeout:.0f} s{seen} (log: {info.log_file})")
        time.sleep(0.2)


def signal_stop(pid: int) -> bool:
    """SIGTERM: the broker's controlled shutdown begins. False if it is already gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def terminate(pid: int, grace: float) -> None:
    """SIGTERM (a controlled shutdown), SIGKILL after `grace` s; returns once it is gone."""
    if not signal_stop(pid):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10.0
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_port_released(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not port_free(port) and time.monotonic() < deadline:
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            _children.pop(pid, None)
            return False
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_our_broker(pid: int, data_dir: Path) -> bool:
    """The pid runs kafka.Kafka for this data folder (guards against pid reuse)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc: trust the pid
    args = [a.decode("utf-8", "replace") for a in argv]
    return _MAIN_CLASS in args and f"-Dfengqiao.broker.dir={data_dir}" in args


# ------------------------------------------------------------------ state + logs
def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_state(data_dir: Path) -> BrokerInfo | None:
    raw = read_json(data_dir / _STATE)
    try:
        return BrokerInfo(port=int(raw["port"]), pid=int(raw["pid"]), log_file=Path(raw["log_file"]),
                          controller_port=int(raw.get("controller_port", 0)),
                          data_dir=Path(raw.get("data_dir") or data_dir),
                          version=str(raw.get("version", KAFKA_VERSION)))
    except (KeyError, TypeError, ValueError):
        return None


def clear_state(data_dir: Path) -> None:
    (data_dir / _STATE).unlink(missing_ok=True)


_LOG_LEVEL = re.compile(r"^\[[^\]]+\] (ERROR|FATAL|WARN) ")


def _meaningful_line(lines: list[str]) -> str:
    """The line that says why: the deepest cause after the last ERROR, else the last plain line."""
    lines = [ln.rstrip() for ln in lines if ln.strip()]
    idx = next((i for i in range(len(lines) - 1, -1, -1) if re.match(r"^\[[^\]]+\] (ERROR|FATAL) ", lines[i])), None)
    if idx is not None:
        head = _LOG_LEVEL.sub("", lines[idx])
        head = re.sub(r" \([\w.$]+\)$", "", head)
        tail = [ln for ln in lines[idx + 1:] if not ln.startswith(("\t", " ")) and not _LOG_LEVEL.match(ln)
                and not ln.startswith("[")]
        causes = [ln.removeprefix("Caused by: ") for ln in tail if ln.startswith("Caused by: ")]
        detail = causes[-1] if causes else (tail[0] if tail else "")
        line = f"{head}: {detail}" if detail and detail not in head else head
        return line[:400]
    plain = [ln for ln in lines if not ln.startswith(("\t", " ", "["))]
    return (plain[-1] if plain else (lines[-1] if lines else ""))[:400]


def _last_log_line(log_file: Path) -> str:
    try:
        with open(log_file, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 64_000))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return _meaningful_line(text.splitlines())


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (two `kafka start` on one folder, one jar fetch)."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
