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
    policy_profile: str = "default"
    policy_file: Path | None = None


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
