"""Cloud settings, read from ``REVLINK_*`` environment variables (flags override them)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.db.session import PoolLimits
from cloud.webhooks.addresses import parse_networks

__all__ = ["DEFAULT_DASHBOARD_DIR", "MAX_UPLINK_BATCH", "CloudSettings"]

MAX_UPLINK_BATCH = 500
# A source checkout keeps the dashboard build beside the package; an image sets the variable.
DEFAULT_DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "frontend" / "dist"


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REVLINK_", extra="ignore")

    cloud_listen: str = Field(default="127.0.0.1:8000", description="HOST:PORT to serve on.")
    data_dir: Path = Field(default=Path("var"), description="Where the cloud keeps its files.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite at <data_dir>/cloud.db. "
        "Production: postgresql+asyncpg://user:pass@host/db.",
    )
    api_rate_per_second: float = Field(
        default=50.0,
        ge=0,
        le=100_000,
        description="REST requests a second one bearer token may make after its burst "
        "(per replica; 0 turns the limit off). Beyond it: 429 with Retry-After.",
    )
    api_burst: int = Field(
        default=200,
        ge=1,
        le=1_000_000,
        description="REST requests one bearer token may make at once before the rate applies.",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Database connections this process keeps open; also how many ingest "
        "transactions run at once (the rest wait their turn, in order).",
    )
    db_max_overflow: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="Connections opened beyond the pool for a burst (API reads, connects).",
    )
    db_pool_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long a request waits for a database connection before it fails.",
    )
    dashboard_dir: Path = Field(
        default=DEFAULT_DASHBOARD_DIR,
        description="The dashboard build (frontend/dist) served at /.",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db shared by every replica (live fan-out, who is "
        "online); unset: one process, nothing shared but the database.",
    )
    redis_prefix: str = Field(
        default="revlink",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Names of this cluster's Redis keys and channel; clusters sharing one "
        "Redis need different prefixes.",
    )
    presence_ttl_seconds: float = Field(
        default=30.0,
        ge=3,
        le=3600,
        description="With Redis: a replica that stops refreshing its devices' online marks "
        "(it died) has them read offline after this long.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 key for access tokens; default: generated once into <data_dir>.",
    )
    jwt_ttl_minutes: int = Field(default=720, ge=1, le=60 * 24 * 30)
    login_max_attempts: int = Field(default=5, ge=1, description="Failed logins per window.")
    login_window_seconds: int = Field(default=900, ge=1)
    uplink_max_batch: int = Field(
        default=MAX_UPLINK_BATCH, ge=1, le=MAX_UPLINK_BATCH, description="Records per uplink batch."
    )
    uplink_records_per_second: float = Field(
        default=10_000.0,
        ge=0,
        le=10_000_000,
        description="Records a second one device may uplink once its burst is spent (per "
        "replica; 0: no limit). A batch beyond it is refused whole with a RATE_LIMITED Error.",
    )
    uplink_records_burst: int = Field(
        default=20_000,
        ge=MAX_UPLINK_BATCH,
        le=100_000_000,
        description="Records one device may uplink at once before the rate applies (at least "
        "a full batch).",
    )
    max_frame_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest WebSocket frame."
    )
    stream_interval_ms: int = Field(
        default=200, ge=10, description="Live stream: at most one update per sensor this often."
    )
    ws_ping_interval_seconds: float = Field(
        default=20.0, gt=0, description="Server keepalive pings on WebSockets."
    )
    ws_compression: bool = Field(
        default=False,
        description="Offer permessage-deflate on WebSockets: less traffic for JSON streams, "
        "but each socket then holds compressor state (measured: about 3x the memory).",
    )
    ws_implementation: Literal["websockets-sansio", "websockets"] = Field(
        default="websockets-sansio",
        description="uvicorn's WebSocket implementation; the sans-I/O one holds less per socket.",
    )
    telemetry_drop_log_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A telemetry socket's dropped items reach the event log at most this often.",
    )
    revocation_check_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often an open socket re-checks its token while revocation "
        "notifications cannot be relied on (PostgreSQL listener not connected).",
    )
    notified_recheck_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="While notices arrive (revocations, device work), how often an open "
        "socket re-checks its token and a device link its pending work anyway: a safety net.",
    )
    channel_write_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often a device link looks for channel writes made on another replica.",
    )
    observer_ttl_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A dashboard stops counting as watching a device's apps this long after "
        "its last heartbeat.",
    )

    run_automation: bool = Field(
        default=True,
        description="This process evaluates rules and delivers webhooks. Set false on API "
        "replicas when `revlink cloud worker` processes do that work (PostgreSQL only).",
    )
    retention_days: int = Field(
        default=0,
        ge=0,
        le=365_000,
        description="Datapoints (and their rollups) older than this many days are dropped, "
        "a whole month at a time; 0 keeps them forever.",
    )
    storage_maintenance_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How often the automation process makes partitions ahead and applies "
        "the retention (it also does at every cloud start).",
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower the OS runs `revlink cloud worker` than ingest (nice "
        "increment): on a shared machine ingest gets the CPU first.",
    )
    worker_listen: str = Field(
        default="127.0.0.1:8001",
        description="HOST:PORT where `revlink cloud worker` answers /healthz and /metrics.",
    )

    rule_refresh_seconds: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="How often each replica reloads which sensors have rules (a rule saved "
        "on another replica applies here within this time).",
    )
    rule_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="How often the rule evaluator looks for values other replicas stored "
        "(values stored by this process wake it at once).",
    )
    webhook_reading_interval_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="At most one sensor.reading webhook event per sensor this often.",
    )

    webhook_allowed_networks: str = Field(
        default="",
        max_length=4096,
        description="Comma-separated CIDRs (e.g. 127.0.0.1/32,10.0.0.0/8) that webhooks may "
        "reach although they are private, loopback or link-local (on-premises receivers). "
        "Default: none; webhooks only reach public addresses.",
    )
    webhook_max_attempts: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Tries per webhook delivery (the first and its retries) before it is "
        "dead-lettered.",
    )
    webhook_backoff_seconds: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="Wait before the first retry; each next wait doubles (WebMACS's 2, 4, 8 s).",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Longest one webhook request may take, connect to last byte (WebMACS's 10 s).",
    )
    webhook_concurrency: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Webhook requests in flight at once per cloud process (WebMACS's 10).",
    )
    webhook_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="How often the webhook dispatcher looks for due deliveries (queued by "
        "other replicas, or retries); this process's own events wake it at once.",
    )
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a claimed webhook delivery stays reserved to its replica; a "
        "replica that dies mid-delivery has its claims retried after this. Must exceed "
        "REVLINK_WEBHOOK_TIMEOUT_SECONDS.",
    )
    webhook_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Finished webhook deliveries (delivered, failed, dead letter) and their "
        "attempts are deleted this many days after they were queued; pending ones are kept.",
    )

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at startup, not at the first delivery
        return value

    @model_validator(mode="after")
    def _lease_outlasts_timeout(self) -> CloudSettings:
        # A lease that ends while its request runs would let a second replica send it too.
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("webhook_lease_seconds must exceed webhook_timeout_seconds")
        return self

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cloud.db').resolve()}"

    def pool_limits(self) -> PoolLimits:
        return PoolLimits(self.db_pool_size, self.db_max_overflow, self.db_pool_timeout_seconds)

    def resolved_jwt_secret(self) -> str:
        """The configured key, or one generated on first use and kept in the data dir."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
