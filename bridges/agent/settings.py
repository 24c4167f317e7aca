"""Settings of the device agent (``REVLINK_*`` variables; flags override them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from bridges.agent.queue.admission import FullPolicy
from bridges.kit import BridgeSettings, MetricsListen

__all__ = ["AgentSettings"]


class AgentSettings(BridgeSettings):
    agent_listen: str = Field(default="127.0.0.1:50051", description="gRPC address.")
    cloud_url: str | None = Field(
        default=None,
        description="Cloud base URL, http(s)://host:port; unset: work offline, queue only.",
    )
    device_token: SecretStr | None = Field(default=None, description="This device's token.")
    max_batch_size: int = Field(default=100, ge=1, le=500, description="Records per batch.")
    data_dir: Path = Field(default=Path("var/agent"), description="Queue and state directory.")
    queue_max_records: int = Field(default=1_000_000, ge=1)
    queue_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    queue_full_policy: FullPolicy = Field(default=FullPolicy.DROP_OLDEST)
    queue_sync: Literal["full", "normal"] = Field(
        default="full", description="SQLite synchronous mode: full survives power loss."
    )
    agent_metrics_listen: MetricsListen = Field(
        default="127.0.0.1:9151", description="Prometheus endpoint; empty disables it."
    )
    uplink_backoff_max: float = Field(default=2.0, gt=0, le=60)
    uplink_replaced_backoff: float = Field(default=30.0, ge=0)

    def uplink_url(self) -> str | None:
        """The device door derived from the cloud's base URL (http→ws, https→wss)."""
        if not self.cloud_url:
            return None
        base = self.cloud_url.rstrip("/")
        if base.startswith("https://"):
            return "wss://" + base.removeprefix("https://") + "/ws/devices/uplink"
        if base.startswith("http://"):
            return "ws://" + base.removeprefix("http://") + "/ws/devices/uplink"
        raise ValueError(f"REVLINK_CLOUD_URL must start with http:// or https://, not {base!r}")
