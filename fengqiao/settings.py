"""One frozen settings object per entry point, read from `FENGQIAO_*` variables.

Nested groups use `__` (e.g. `FENGQIAO_TOPICS__EVENTS=my.events`). Entry points
build it once (`Settings()`) and pass it down; nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    partitions: int = Field(default=4, ge=1)


class SinkSettings(BaseModel):
    """Batching: flush a partition's buffer at `batch_rows` rows or `batch_seconds`."""

    model_config = ConfigDict(frozen=True)

    group_id: str = "fengqiao-sink"
    batch_rows: int = Field(default=5000, ge=1)
    batch_seconds: float = Field(default=1.0, gt=0)


class WallSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = 8501
    refresh_seconds: float = Field(default=5.0, gt=0)
    stale_after_seconds: float = Field(default=120.0, gt=0)
    embedded_sink: bool = True
    map_dir: Path | None = None  # a deployment's approved GeoJSON folder (审图号)


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


CHANNELS = ("hotline", "web", "app", "wechat", "qrcode", "window", "open311", "internal")


class GatewaySettings(BaseModel):
    """The intake gateway. API keys: one per channel,
    `FENGQIAO_GATEWAY__API_KEYS='{"hotline": "...", ...}'`; the `internal` key may
    submit events of any channel. Without keys the gateway uses `dev-<channel>`
    keys and warns at start: never run like that outside a laptop."""

    model_config = ConfigDict(frozen=True)

    api_keys: dict[str, str] = Field(default_factory=dict)  # channel -> key
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    streams_url: str = ""  # default: http://127.0.0.1:<streams.web_port>
    duplicate_window_days: float = 7.0
    rebuild_index: bool = True  # read the last 7 days of the events topic at start
    idempotency_ttl_seconds: float = 24 * 3600.0
    kafka_timeout_seconds: float = Field(default=10.0, gt=0)

    def keys(self) -> dict[str, str]:
        return dict(self.api_keys) if self.api_keys else {c: f"dev-{c}" for c in CHANNELS}

    def key_for(self, channel: str) -> str:
        return self.keys()[channel]

    @property
    def dev_keys(self) -> bool:
        return not self.api_keys


class Settings(BaseSettings):
    """Everything the parts need to find each other."""

    model_config = SettingsConfigDict(
        env_prefix="FENGQIAO_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    kafka_bootstrap: str = "127.0.0.1:9092"
    clickhouse_url: str = ""  # empty: chDB under data_dir; http(s)://… : a server
    clickhouse_database: str = "fengqiao"
    data_dir: Path = DEFAULT_DATA_DIR
    topics: Topics = Topics()
    sink: SinkSettings = SinkSettings()
    wall: WallSettings = WallSettings()
    streams: StreamsSettings = StreamsSettings()
    gateway: GatewaySettings = GatewaySettings()
    pii_key: str = "fengqiao-dev-only-change-me"

    def all_topics(self) -> list[str]:
        t = self.topics
        return [t.events, t.alerts, t.commands, t.stats, t.dlq, t.cases]

    @property
    def chdb_path(self) -> Path:
        return (self.data_dir / "chdb").resolve()

    @property
    def effective_clickhouse_url(self) -> str:
        """The URL clickhouse-connect gets: a server URL or `chdb:///abs/path`."""
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{self.chdb_path}"

    @property
    def embedded_store(self) -> bool:
        return not self.clickhouse_url.startswith(("http://", "https://"))
