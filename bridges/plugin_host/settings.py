"""Settings of the plugin host (``REVLINK_*`` variables; flags override them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bridges.kit import BridgeSettings, MetricsListen

__all__ = ["PluginHostSettings"]


class PluginHostSettings(BridgeSettings):
    plugins_listen: str = Field(default="127.0.0.1:50055", description="gRPC address.")
    plugins_metrics_listen: MetricsListen = Field(
        default="127.0.0.1:9155",
        description="HOST:PORT of the Prometheus endpoint (/metrics); empty disables it.",
    )
    plugins_data_dir: Path = Field(
        default=Path("var/plugins"),
        description="Where instance definitions and command resume points are kept.",
    )
    agent_uri: str = Field(
        default="127.0.0.1:50051",
        description="Device agent that readings go to; empty keeps them on the host.",
    )
    plugin_call_timeout: float = Field(
        default=5.0, gt=0, le=300, description="Longest a plugin call may take."
    )
    plugin_restart_backoff_max: float = Field(
        default=30.0, gt=0, le=3600, description="Longest wait before restarting a plugin."
    )
    plugins_outbox_size: int = Field(
        default=10_000, ge=1, description="Records held while the agent is away."
    )
