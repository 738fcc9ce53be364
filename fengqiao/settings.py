"""One frozen settings object per entry point, read from `FENGQIAO_*` variables.

Nested groups use `__` (e.g. `FENGQIAO_TOPICS__EVENTS=my.events`). Entry points
build it once (`Settings()`) and pass it down; nothing else reads the environment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fengqiao.domain.metrics import MIN_SAMPLE
from fengqiao.vocab import TZ

if TYPE_CHECKING:
    from fengqiao.contract import Limits
    from fengqiao.domain.callback import CallbackRule

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data"


class Topics(BaseModel):
    """Kafka topic names (DESIGN.md section 3)."""

    model_config = ConfigDict(frozen=True)

    events: str = "petitions.events"
    alerts: str = "petitions.alerts"
    commands: str = "petitions.commands"
    stats: str = "petitions.stats"
    dlq: str = "petitions.dlq"
    cases: str = "petitions.cases"  # CaseSnapshot per applied event (compacted; see records.py)
    audit: str = "petitions.audit"  # refused requests (who, what, why; no personal data): gateway authz
    repeats: str = "petitions.repeats"  # RepeatRecord per repeat petition (key case_id): streams -> sink
    partitions: int = Field(default=4, ge=1)
    # per deployment; unset: from the broker count (1/1 for one broker, 3/2 for three or more)
    replication_factor: int | None = Field(default=None, ge=1)
    min_insync_replicas: int | None = Field(default=None, ge=1)


class SinkSettings(BaseModel):
    """Batching: flush a partition's buffer at `batch_rows` rows or `batch_seconds`."""

    model_config = ConfigDict(frozen=True)

    group_id: str = "fengqiao-sink"
    batch_rows: int = Field(default=5000, ge=1)
    batch_seconds: float = Field(default=1.0, gt=0)
    # rows' keys remembered to skip a repeat in this process (a re-read after a rebalance, a batch
    # posted again): ~250 bytes each, so 100,000 hold ~25 MB and about 5 minutes of a 300 rows/s
    # stream; older repeats are merged by the store (ReplacingMergeTree, FINAL)
    recent_keys: int = Field(default=100_000, ge=1000)
    metrics_port: int = 9465  # `fengqiao sink`'s Prometheus /metrics (prometheus_client's server)


class ClickHouseSettings(BaseModel):
    """The server's layout. `cluster` (`FENGQIAO_CLICKHOUSE__CLUSTER`) names a cluster of the server's
    `remote_servers`: the schema is then Replicated tables plus Distributed ones `ON CLUSTER` (sinks/cluster.py);
    unset: plain tables on one server or in chDB, which cannot run ON CLUSTER."""

    model_config = ConfigDict(frozen=True)

    cluster: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # interpolated into DDL


class WallSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = 8501
    refresh_seconds: float = Field(default=5.0, gt=0)
    stale_after_seconds: float = Field(default=120.0, gt=0)
    embedded_sink: bool = True
    metrics_port: int = 9464  # the wall's (and its embedded sink's) Prometheus /metrics
    map_dir: Path | None = None  # a deployment's approved GeoJSON folder (审图号)
    ranking_min_sample: int = Field(default=MIN_SAMPLE, ge=1)  # fewer decided cases: 样本不足, not ranked
    command_timeout_seconds: float = Field(default=10.0, gt=0)  # the console waits this long for acks=all
    session_idle_minutes: float = Field(default=30.0, gt=0)  # console sessions end after this idle time
    session_max_hours: float = Field(default=12.0, gt=0)  # ... and this long after login, whatever
    login_max_failures: int = Field(default=5, ge=1)  # failed logins (per user, per client) before a delay
    login_delay_seconds: float = Field(default=30.0, gt=0)  # then doubled per further failure, up to 1 h


class CallbackSettings(BaseModel):
    """The callback desk's daily sample (随机回访, `fengqiao.domain.callback`): the random share of the
    cases concluded the day before (every dissatisfied one and every formal petition come on top) and
    the seed of the draw (whoever knows it can re-draw a day to audit it)."""

    model_config = ConfigDict(frozen=True)

    share: float = Field(default=0.1, ge=0, le=1)
    seed: str = "fengqiao-callback"

    def rule(self) -> "CallbackRule":
        from fengqiao.domain.callback import CallbackRule

        return CallbackRule(self.share, self.seed)


class StreamsSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    app_id: str = "fengqiao-streams"
    web_port: int = 6066
    store: str = "rocksdb://"
    tick_seconds: float = Field(default=0.2, gt=0)
    stats_interval_seconds: float = Field(default=2.0, gt=0)
    auto_dispatch_after_seconds: float = Field(default=300.0, ge=0)
    renotify_seconds: float = Field(default=900.0, gt=0)  # unacknowledged critical alerts re-fire
    policy_profile: str = "default"
    policy_file: Path | None = None


class ContractSettings(BaseModel):
    """Bounds of the wire contract (`fengqiao.contract.Limits`): the window of `occurred_at`
    (earliest instant, how far ahead of now) and the size and depth of one event's JSON."""

    model_config = ConfigDict(frozen=True)

    earliest: datetime = datetime(2000, 1, 1, tzinfo=TZ)
    ahead_hours: float = Field(default=24.0, ge=0)
    max_json_bytes: int = Field(default=64 * 1024, ge=1024)
    max_json_depth: int = Field(default=32, ge=4)

    def limits(self) -> "Limits":
        from fengqiao.contract import Limits

        return Limits(earliest=self.earliest, ahead=timedelta(hours=self.ahead_hours),
                      max_bytes=self.max_json_bytes, max_depth=self.max_json_depth)


CHANNELS = ("hotline", "web", "app", "wechat", "qrcode", "window", "open311", "internal")
INTAKE_CHANNELS = tuple(c for c in CHANNELS if c != "internal")
PLATFORM_KEY = "internal"  # the simple form's name of the platform key


DEV_PII_KEY = "fengqiao-dev-only-change-me"  # the built-in personal-data key: a laptop only
DEV_COMMAND_KEY = "fengqiao-dev-only-command-key"  # the built-in command-signing key: a laptop only
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def reveal(value: SecretStr | str) -> str:
    """The clear text of a secret setting (also accepts a plain str set by `model_copy`)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class KeyRole(StrEnum):
    """What an API key's holder is (the gateway's authorization, producers/gateway/authz.py)."""

    intake = "intake"  # a citizen-facing channel: new petitions and the citizen's own evaluation
    department = "department"  # a 承办单位: sign, reply, return, extend its own cases
    platform = "platform"  # the platform itself (dispatcher, simulator, migrations): everything


class ApiKey(BaseModel):
    """One API key. The simple form `{"hotline": "<secret>"}` is an intake key of that channel
    (`internal` names the platform key); the full form is
    `{"zoning": {"secret": "...", "role": "department", "departments": ["市住建局"]}}`."""

    model_config = ConfigDict(frozen=True)

    secret: SecretStr
    role: KeyRole = KeyRole.intake
    channel: str | None = None  # intake: its channel (default: the key's name)
    departments: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> "ApiKey":
        if not self.secret.get_secret_value():
            raise ValueError("empty API key secret / API 密钥为空")
        if self.role == KeyRole.intake and self.channel not in INTAKE_CHANNELS:
            raise ValueError(f"intake key needs a channel of {', '.join(INTAKE_CHANNELS)}, got {self.channel!r} "
                             f"/ 受理密钥须指定渠道")
        if self.role == KeyRole.department and not self.departments:
            raise ValueError("department key needs its departments / 部门密钥须列出所属部门 departments")
        return self


class GatewaySettings(BaseModel):
    """The intake gateway. API keys by name, each with its role (see `ApiKey`):
    `FENGQIAO_GATEWAY__API_KEYS='{"hotline": "...", "internal": "...", "zoning": {...}}'`.
    Without keys the gateway uses `dev-<channel>` keys, warns at start and refuses
    to bind anything but loopback (`exposure_problem`)."""

    model_config = ConfigDict(frozen=True)

    api_keys: dict[str, ApiKey] = Field(default_factory=dict)  # key name -> key
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    streams_url: str = ""  # default: http://127.0.0.1:<streams.web_port>
    duplicate_window_days: float = 7.0
    rebuild_index: bool = True  # read the last 7 days of the events topic at start
    idempotency_ttl_seconds: float = 24 * 3600.0
    kafka_timeout_seconds: float = Field(default=10.0, gt=0)
    rate_limit_per_second: float = Field(default=50.0, ge=0)  # per API key, token bucket; 0 = no limit
    rate_limit_burst: float = Field(default=200.0, ge=1)
    # citizen tracking (/v1/track, /track), stricter: per client address, and per case number
    track_per_minute: float = Field(default=10.0, ge=0)  # 0 = no limit
    track_burst: float = Field(default=10.0, ge=1)
    track_case_per_hour: float = Field(default=30.0, ge=0)  # attempts on one case number from anywhere
    track_floor_seconds: float = Field(default=0.1, ge=0)  # every answer takes at least this long (no timing hint)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _simple_form(cls, value: Any) -> Any:
        """`{"hotline": "<secret>"}` → an intake key of channel hotline; `internal` → the platform key."""
        if not isinstance(value, dict):
            return value
        return {name: _key_entry(name, v) for name, v in value.items()}

    def keys(self) -> dict[str, ApiKey]:
        """The keys in effect: the configured ones, or the `dev-<channel>` development keys."""
        if self.api_keys:
            return dict(self.api_keys)
        return {c: ApiKey.model_validate(_key_entry(c, f"dev-{c}")) for c in CHANNELS}

    def key_for(self, name: str) -> str:
        """The clear secret of one key (a client of the gateway, e.g. the simulator, sends it)."""
        return self.keys()[name].secret.get_secret_value()

    @property
    def dev_keys(self) -> bool:
        """No keys configured, or one whose secret is still a `dev-<name>` development key."""
        return not self.api_keys or any(k.secret.get_secret_value() in (f"dev-{n}", f"dev-{k.channel}")
                                        for n, k in self.api_keys.items())


class Settings(BaseSettings):
    """Everything the parts need to find each other."""

    model_config = SettingsConfigDict(
        env_prefix="FENGQIAO_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    kafka_bootstrap: str = "127.0.0.1:9092"
    clickhouse_url: SecretStr = SecretStr("")  # empty: chDB under data_dir; http(s)://user:pw@… : a server
    clickhouse_database: str = "fengqiao"
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    data_dir: Path = DEFAULT_DATA_DIR
    topics: Topics = Topics()
    sink: SinkSettings = SinkSettings()
    wall: WallSettings = WallSettings()
    streams: StreamsSettings = StreamsSettings()
    gateway: GatewaySettings = GatewaySettings()
    contract: ContractSettings = ContractSettings()
    callback: CallbackSettings = CallbackSettings()
    pii_key: SecretStr = SecretStr(DEV_PII_KEY)
    command_key: SecretStr = SecretStr(DEV_COMMAND_KEY)  # HMAC key shared by the console and the worker

    @model_validator(mode="after")
    def _cluster_needs_a_server(self) -> "Settings":
        if self.clickhouse.cluster and self.embedded_store:
            raise ValueError("集群模式须连接 ClickHouse 服务器（FENGQIAO_CLICKHOUSE_URL），内嵌 chDB 不能执行 ON CLUSTER / "
                             "FENGQIAO_CLICKHOUSE__CLUSTER needs a ClickHouse server (FENGQIAO_CLICKHOUSE_URL): "
                             "embedded chDB cannot run ON CLUSTER")
        return self

    def all_topics(self) -> list[str]:
        t = self.topics
        return [t.events, t.alerts, t.commands, t.stats, t.dlq, t.cases, t.audit, t.repeats]

    @property
    def chdb_path(self) -> Path:
        return (self.data_dir / "chdb").resolve()

    @property
    def effective_clickhouse_url(self) -> str:
        """The URL clickhouse-connect gets: a server URL or `chdb:///abs/path`."""
        url = reveal(self.clickhouse_url)
        return url or f"chdb://{self.chdb_path}"

    @property
    def embedded_store(self) -> bool:
        return not reveal(self.clickhouse_url).startswith(("http://", "https://"))

    def default_secrets(self) -> list[str]:
        """The shared variables still at their built-in development value (the wall adds its demo
        users, the gateway its dev keys): serving beyond loopback is refused while any is."""
        out = ["FENGQIAO_PII_KEY"] if reveal(self.pii_key) == DEV_PII_KEY else []
        return out + (["FENGQIAO_COMMAND_KEY"] if reveal(self.command_key) == DEV_COMMAND_KEY else [])


def _key_entry(name: str, value: Any) -> Any:
    """One `api_keys` entry in the full form (the key's name is the default channel)."""
    if isinstance(value, (str, SecretStr)):
        role = KeyRole.platform if name == PLATFORM_KEY else KeyRole.intake
        return {"secret": value, "role": role, "channel": name if role == KeyRole.intake else None}
    if isinstance(value, dict) and value.get("role", KeyRole.intake) == KeyRole.intake:
        return {"channel": name, **value}
    return value


class ExposureRefused(Exception):
    """A server asked to listen beyond loopback while a default secret is in effect (the one-line reason)."""


def is_loopback(host: str) -> bool:
    return host.strip("[]") in LOOPBACK_HOSTS or host.startswith("127.")


def exposure_problem(host: str, defaults: list[str]) -> str | None:
    """The one zh+en line that refuses a non-loopback bind while `defaults` are in effect, else None."""
    if is_loopback(host) or not defaults:
        return None
    names = ", ".join(defaults)
    return (f"拒绝在 {host} 上对外服务：仍在使用默认密钥，请设置 {names}（可用 `fengqiao secrets init` 生成） / "
            f"refusing to serve on {host} with default secrets in effect: set {names} "
            f"(`fengqiao secrets init` writes them)")
