"""`fengqiao`: one CLI, one subcommand per part. The composition root.

Adapters are imported inside each command so that `fengqiao sla` or
`fengqiao validate` start without loading Kafka, Faust, ClickHouse or Streamlit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError

from fengqiao.settings import Settings

app = typer.Typer(
    help="网上枫桥 指挥中心 Fengqiao command centre: broker, streams, sink, wall, simulator.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
kafka_app = typer.Typer(help="本地 Kafka broker / a local Apache Kafka broker (no Docker).", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
secrets_app = typer.Typer(help="密钥 / the deployment's secrets: `fengqiao secrets init`.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")


def fail(message: str, code: int = 1) -> None:
    """One clear error line on stderr, no traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:  # a bad FENGQIAO_* variable; the input is not echoed (it may be a secret)
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
        fail(f"invalid settings / 配置无效: {where}", 2)
        raise  # unreachable
    except Exception as exc:  # e.g. a variable that is not JSON
        fail(f"invalid settings / 配置无效: {exc}", 2)
        raise  # unreachable
    from fengqiao import contract

    contract.configure(settings.contract.limits())  # the contract's bounds for this process
    return settings


def _default_kafka_dir(nodes: int | None = None) -> Path:
    """`<data>/kafka` for one broker, `<data>/kafka-N` for a cluster of N nodes."""
    return _settings().data_dir / ("kafka" if (nodes or 1) == 1 else f"kafka-{nodes}")


# ---------------------------------------------------------------- kafka
@kafka_app.command("start")
def kafka_start(
    port: Optional[int] = typer.Option(None, help="PLAINTEXT port on 127.0.0.1 (default 9092); a cluster's nodes "
                                                  "use P, P+1, P+2"),
    data_dir: Optional[Path] = typer.Option(None, help="broker folder (logs, pid, storage); default <data>/kafka, "
                                                       "a cluster <data>/kafka-N"),
    nodes: Optional[int] = typer.Option(None, min=1, help="KRaft nodes: 1 (default) or a cluster, e.g. 3 (every "
                                                          "topic 3 copies, min.insync.replicas 2; controller ports: "
                                                          "free ones picked at the first start, kept in "
                                                          "<dir>/cluster.json); on a cluster, starts only the nodes "
                                                          "that are down"),
    timeout: float = typer.Option(90.0, help="seconds to wait for the broker(s) to answer"),
) -> None:
    """Fetch the Kafka jars (once), format KRaft storage and start a broker, or a cluster's missing nodes."""
    from broker import cluster
    from broker.local import BrokerError

    folder = (data_dir or _default_kafka_dir(nodes)).resolve()
    try:
        started = cluster.start(nodes, port, folder, timeout=timeout)
    except BrokerError as exc:
        fail(str(exc))
    if not cluster.is_cluster(folder):
        info = started[0]
        typer.echo(f"kafka running: 127.0.0.1:{info.port} pid={info.pid} log={info.log_file}")
        return
    for n in started:
        typer.echo(f"node {n.node_id}: {'started' if n.started else 'already running'} 127.0.0.1:{n.port} "
                   f"pid={n.pid} controller=127.0.0.1:{n.controller_port} log={n.log_file}")
    typer.echo(f"kafka cluster running: {cluster.read_bootstrap(folder)}")


_NODES_FOLDER = "without --data-dir: the default folder of a cluster of this many nodes"


@kafka_app.command("stop")
def kafka_stop(
    data_dir: Optional[Path] = typer.Option(None),
    nodes: Optional[int] = typer.Option(None, min=1, help=_NODES_FOLDER),
) -> None:
    """Stop the broker (or every node of the cluster) recorded in the data folder."""
    from broker import cluster
    from broker.local import BrokerError

    try:
        stopped = cluster.stop((data_dir or _default_kafka_dir(nodes)).resolve())
    except BrokerError as exc:
        fail(str(exc))
    typer.echo("kafka stopped" if stopped else "kafka was not running")


@kafka_app.command("status")
def kafka_status(
    data_dir: Optional[Path] = typer.Option(None),
    as_json: bool = typer.Option(False, "--json", help='print {"nodes": [{"node_id", "pid", "port", "state"}]}'),
    nodes: Optional[int] = typer.Option(None, min=1, help=_NODES_FOLDER),
) -> None:
    """Each node with its pid, port and state (running | dead | stopped); exit 0 only when all run."""
    from broker import cluster

    folder = (data_dir or _default_kafka_dir(nodes)).resolve()
    nodes = cluster.status(folder)
    all_running = bool(nodes) and all(n.state == cluster.RUNNING for n in nodes)
    if as_json:
        typer.echo(json.dumps({"nodes": [n.as_json() for n in nodes]}))
    elif not cluster.is_cluster(folder):
        info = nodes[0] if all_running else None
        typer.echo(f"kafka running: 127.0.0.1:{info.port} pid={info.pid} log={info.log_file}" if info
                   else "kafka not running")
    else:
        for n in nodes:
            typer.echo(f"node {n.node_id}: {n.state} 127.0.0.1:{n.port} pid={n.pid or '-'} "
                       f"controller=127.0.0.1:{n.controller_port} log={n.log_file or '-'}")
    raise typer.Exit(0 if all_running else 1)


# ---------------------------------------------------------------- contract
@app.command()
def schema() -> None:
    """Print the JSON Schema of the event envelope (all event types)."""
    from fengqiao.contract import event_json_schema

    typer.echo(json.dumps(event_json_schema(), ensure_ascii=False, indent=2))


@app.command()
def validate() -> None:
    """Read JSON lines on stdin; print `ok` or `error: …` per line; exit 1 if any is bad."""
    from fengqiao.contract import ContractError, parse_event

    bad = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            parse_event(line.strip())
            typer.echo("ok")
        except ContractError as exc:
            bad += 1
            typer.echo(f"error: {exc.bilingual()}")
    raise typer.Exit(1 if bad else 0)


@app.command()
def sla(
    category: str = typer.Option(..., help="consult|help|dispute|report|complaint|suggestion"),
    urgency: str = typer.Option(..., help="urgent|pressing|normal"),
    start: str = typer.Option(..., help="RFC 3339 instant with offset, e.g. 2026-09-30T16:00:00+08:00"),
    formal: bool = typer.Option(False, "--formal", help="statutory 信访 track (60 natural days)"),
    policy: Optional[Path] = typer.Option(None, help="SLA policy file (TOML)"),
    profile: str = typer.Option("default", help="policy profile: default | demo"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Due instants and stage instants of a case received (and assigned) at --start."""
    from fengqiao.domain.report import SlaArgumentError, sla_report

    try:
        report = sla_report(category=category, urgency=urgency, start=start, formal=formal,
                            policy_file=policy, profile=profile)
    except SlaArgumentError as exc:
        fail(str(exc), 2)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    for target, t in report["targets"].items():
        typer.echo(f"{target}: due {t['due_at']}")
        for stage, at in t["stages"].items():
            typer.echo(f"  {stage:<9} {at}")
    if report["calendar_estimated"]:
        typer.echo("calendar_estimated: true (周一至周五估算 / Monday–Friday estimate)")


# ---------------------------------------------------------------- pipeline
@app.command()
def simulate(
    rate: float = typer.Option(5.0, help="new petitions per second (before --speed)"),
    duration: Optional[float] = typer.Option(None, help="seconds to run; default forever"),
    seed: int = typer.Option(7),
    speed: float = typer.Option(1.0, help="time compression factor of the lifecycle"),
    gateway: Optional[str] = typer.Option(None, help="post through this gateway URL instead of Kafka"),
    max_events: Optional[int] = typer.Option(None, help="stop after this many events"),
    departments: str = typer.Option("simulated", help="simulated, or manual: people sign, reply, extend and "
                                                      "return at the department desk (/department)"),
) -> None:
    """Produce realistic petition traffic (received + lifecycle events) to Kafka."""
    from fengqiao import logs
    from producers.simulator import run_simulator

    logs.install()  # a broker outage: logged once, then at a bounded rate, while the simulator waits

    from fengqiao.progress import Progress

    bar = Progress("simulate 模拟", total=max_events) if max_events else None  # stderr: stdout is the JSON
    try:
        summary = run_simulator(_settings(), rate=rate, duration=duration, seed=seed, speed=speed,
                                gateway_url=gateway, max_events=max_events,
                                progress=bar.update if bar else None, departments=departments)
    except ValueError as exc:  # a bad --departments: nothing was sent
        fail(str(exc))
    finally:
        if bar:
            bar.close()
    typer.echo(json.dumps(summary, ensure_ascii=False))


@app.command()
def streams(
    workdir: Optional[Path] = typer.Option(None, help="Faust data folder"),
    web_port: Optional[int] = typer.Option(None, help="Faust web port (health, lag, case view)"),
) -> None:
    """Run the Faust worker: case table, SLA timers, alerts, rolling counts."""
    from fengqiao.process import cap_malloc_arenas
    from streams.main import run_worker

    cap_malloc_arenas()  # RocksDB's threads
    run_worker(_settings(), workdir=workdir, web_port=web_port)


@app.command()
def sink() -> None:
    """Consume the topics and write batches to ClickHouse (owns the chDB store)."""
    from fengqiao.process import cap_malloc_arenas
    from sinks.runner import run_sink_forever

    cap_malloc_arenas()  # chDB's threads
    run_sink_forever(_settings())


@app.command()
def wall(
    port: Optional[int] = typer.Option(None),
    host: Optional[str] = typer.Option(None),
) -> None:
    """Serve the Streamlit wall (in embedded mode it also runs the sink in-process).
    Beyond loopback only without demo users and built-in keys."""
    from dashboard.serve import serve
    from fengqiao.settings import ExposureRefused

    try:
        serve(_settings(), port=port, host=host)
    except ExposureRefused as exc:
        fail(str(exc), 2)


@app.command()
def gateway(port: int = typer.Option(8080), host: str = typer.Option("127.0.0.1")) -> None:
    """Serve the HTTP intake gateway (native JSON + Open311 GeoReport v2).
    Beyond loopback only with real API keys and personal-data key."""
    from producers.gateway.config import exposure

    settings = _settings()
    problem = exposure(settings, host)
    if problem:
        fail(problem, 2)
    from producers.gateway.serve import serve

    serve(settings, host=host, port=port)


@secrets_app.command("init")
def secrets_init(
    env_file: Path = typer.Option(Path("fengqiao.env"), help="env file to write (mode 0600)"),
    users_file: Optional[Path] = typer.Option(None, help="wall users file (default <data_dir>/wall_users.toml)"),
    docker: bool = typer.Option(False, "--docker", help="also the ClickHouse password and URL for docker compose"),
    force: bool = typer.Option(False, "--force", help="overwrite existing files (a new PII key orphans sealed data)"),
) -> None:
    """Write random keys (personal data, command signing, API keys) and wall users with random passwords."""
    import os

    from dashboard.auth import users_path, write_users_file
    from fengqiao import secrets_file as sf
    from fengqiao.vocab import TZ

    users = users_file or users_path(_settings().data_dir)
    existing = [str(p) for p in (env_file, users) if p.exists()]
    if existing and not force:
        fail(f"已存在，未覆盖 / already there, not overwritten (--force to replace): {', '.join(existing)}", 1)
    from datetime import datetime

    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(sf.render(sf.new_env(docker=docker), datetime.now(TZ)))
    passwords = sf.new_passwords()
    write_users_file(users, passwords, "Written by `fengqiao secrets init`; dept_changan is an example"
                                       " department user: copy it per department, with its departments and scope.")
    os.chmod(users, 0o600)
    typer.echo(f"secrets 密钥: {env_file} (load with `set -a; . {env_file}; set +a`, or compose env_file)")
    typer.echo(f"wall users 大屏用户: {users}; passwords, shown once 初始密码仅显示一次:")
    for name, pw in passwords.items():
        typer.echo(f"  {name} / {pw}")


@app.command()
def dlq(
    limit: int = typer.Option(20),
    resubmit: Optional[Path] = typer.Option(None, help="file holding a corrected event (JSON), or several "
                                                       "(JSON Lines), to re-submit"),
) -> None:
    """List dead letters, or re-submit corrected events (progress on stderr)."""
    from fengqiao.progress import Progress
    from producers.dlq import list_dead_letters, resubmit_events

    s = _settings()
    if resubmit is not None:
        with Progress("dlq resubmit 重新提交") as bar:
            try:
                case_ids = resubmit_events(s, resubmit.read_text("utf-8"), progress=bar.update)
            except ValueError as exc:
                fail(str(exc), 1)
        for case_id in case_ids:
            typer.echo(f"resubmitted: {case_id}")
        return
    for dl in list_dead_letters(s, limit=limit):
        typer.echo(json.dumps(dl, ensure_ascii=False))


@app.command()
def status(
    workers: int = typer.Option(1, min=1, help="streams workers to probe (web ports from streams.web_port on)"),
    gateway_port: int = typer.Option(8080, help="the gateway's port (optional part: absent is not a failure)"),
    as_json: bool = typer.Option(False, "--json", help='print {"parts": [{"name", "where", "state", "detail"}]}'),
) -> None:
    """The health of every running part in one table; exit 0 all up, 1 one degraded, 2 one down."""
    from broker.wire import metadata_brokers, parse_bootstrap
    from fengqiao import status as st
    from sinks.health import read_state, stale_reason, state_path

    s = _settings()
    parts = []
    for host, port in parse_bootstrap(s.kafka_bootstrap):
        brokers = metadata_brokers(host, port, timeout=2.0)
        parts.append(st.Part("kafka", f"{host}:{port}", st.UP if brokers else st.DOWN,
                             f"{len(brokers)} broker(s) in the metadata" if brokers else "no answer / 无响应"))
    for i in range(workers):
        url = f"http://127.0.0.1:{s.streams.web_port + i}/health/"
        parts.append(st.streams_part("streams" if workers == 1 else f"streams-{i + 1}", url, st.http_probe(url)))
    wall_url = f"http://{s.wall.host}:{s.wall.port}/_stcore/health"
    parts.append(st.http_part("wall", wall_url, st.http_probe(wall_url)))
    if s.embedded_store and s.wall.embedded_sink:
        health = read_state(state_path(s.data_dir))
        reason = stale_reason(health) if health is not None else "no sink has run / 写入服务未运行"
        metrics = st.http_probe(f"http://{s.wall.host}:{s.wall.metrics_port}/metrics")
        rows = st.metric_sum(metrics[1], "fengqiao_sink_rows_total") if metrics and metrics[0] == 200 else None
        state = st.DOWN if health is None or not health.running else st.DEGRADED if reason else st.UP
        parts.append(st.Part("sink (in wall)", f"{s.wall.host}:{s.wall.metrics_port}/metrics", state,
                             reason or (f"{rows:.0f} rows since start" if rows is not None else "")))
    else:
        url = f"http://127.0.0.1:{s.sink.metrics_port}/metrics"
        parts.append(st.http_part("sink", url, st.http_probe(url)))
    url = f"http://127.0.0.1:{gateway_port}/healthz"
    parts.append(st.http_part("gateway", url, st.http_probe(url), optional=True))
    typer.echo(json.dumps({"parts": [p.as_json() for p in parts]}, ensure_ascii=False) if as_json
               else st.render(parts))
    raise typer.Exit(st.exit_code(parts))


@app.command()
def up(
    kafka_port: int = typer.Option(9092, help="broker port (a broker already running on our data folder is reused)"),
    wall_port: int = typer.Option(8501),
    rate: float = typer.Option(3.0, help="simulated petitions per second"),
    speed: float = typer.Option(60.0, help="simulator time compression"),
    nodes: int = typer.Option(1, min=1, help="Kafka nodes: 1, or a local cluster of 3 in <data>/kafka-3 "
                                             "(ports --kafka-port, +1, +2)"),
    workers: int = typer.Option(1, min=1, help="streams workers, one consumer group sharing the partitions"),
    departments: str = typer.Option("simulated", help="simulated, or manual: people play the departments "
                                                      "at the desk (the simulator's --departments)"),
) -> None:
    """Broker, streams worker, wall (+ embedded sink) and simulator together; Ctrl-C stops all."""
    from broker import cluster
    from broker.local import BrokerError
    from broker.topics import TopicError, ensure_project_topics
    from fengqiao.supervisor import run_up
    from producers.simulator import behaviour_for

    try:
        behaviour_for(departments)
    except ValueError as exc:
        fail(str(exc))
    base = _settings()
    _show_demo_logins(base)
    kafka_dir = (base.data_dir / ("kafka" if nodes == 1 else f"kafka-{nodes}")).resolve()
    before = cluster.status(kafka_dir)
    reused = bool(before) and all(n.state == cluster.RUNNING for n in before)
    try:
        kafka_nodes = before if reused else cluster.start(
            nodes, None if cluster.is_cluster(kafka_dir) else kafka_port, kafka_dir, timeout=120)
    except BrokerError as exc:
        fail(str(exc))
    for n in kafka_nodes:
        typer.echo(f"kafka: 127.0.0.1:{n.port} pid={n.pid} log={n.log_file}")
    bootstrap = ",".join(f"127.0.0.1:{n.port}" for n in kafka_nodes)
    settings = base.model_copy(update={"kafka_bootstrap": bootstrap})
    code = 1
    try:
        try:
            ensure_project_topics(settings)
        except (TopicError, TimeoutError) as exc:
            fail(f"could not create the topics / 无法创建主题: {exc}")
        code = run_up(settings, wall_port=wall_port, rate=rate, speed=speed, workers=workers,
                      departments=departments)
    finally:
        if not reused:
            cluster.stop(kafka_dir)
            typer.echo("kafka stopped")
    raise typer.Exit(code)


def _show_demo_logins(settings: Settings) -> None:
    """The demo logins of every desk, on the laptop only: the wall then listens on loopback alone
    (it refuses any other host while a demo password is in effect), so nobody else can use them."""
    from dashboard.auth import demo_logins, ensure_users_file
    from fengqiao.settings import is_loopback

    if not is_loopback(settings.wall.host):
        return
    logins = demo_logins(ensure_users_file(settings.data_dir))
    if logins:
        typer.echo("演示账号（仅本机演示）/ demo logins, this laptop only:")
        for username, name, role, password in logins:
            typer.echo(f"  {role:<10} {username:<14} {password:<12} {name}")


if __name__ == "__main__":
    app()
