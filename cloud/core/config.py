"""Cloud settings, read from ``REVLINK_*`` environment variables (flags override them)."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    dashboard_dir: Path = Field(
        default=DEFAULT_DASHBOARD_DIR,
        description="The dashboard build (frontend/dist) served at /.",
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
    max_frame_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest WebSocket frame."
    )
    stream_interval_ms: int = Field(
        default=200, ge=10, description="Live stream: at most one update per sensor this often."
    )
    ws_ping_interval_seconds: float = Field(
        default=20.0, gt=0, description="Server keepalive pings on WebSockets."
    )
    revocation_check_seconds: float = Field(
        default=2.0, gt=0, description="How often an open socket re-checks its token."
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

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cloud.db').resolve()}"

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
