"""Settings of the platform bridge (``REVLINK_*`` variables; flags override them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bridges.kit import BridgeSettings
from bridges.platform.iotable import IOValue

__all__ = ["PlatformSettings"]


class PlatformSettings(BridgeSettings):
    platform_listen: str = Field(
        default="127.0.0.1:50053", description="HOST:PORT or unix:PATH to serve gRPC on."
    )
    procimg: Path = Field(
        default=Path("/dev/piControl0"), description="Process image: piControl or a plain file."
    )
    configrsc: Path = Field(
        default=Path("/etc/revpi/config.rsc"), description="piCtory configuration (JSON)."
    )
    platform_cycle_ms: int = Field(
        default=20, ge=5, le=2000, description="How often inputs are read and changes reported."
    )
    platform_safe_values: dict[str, IOValue] = Field(
        default_factory=dict,
        description="Watchdog safe value per output name (JSON); others fall back to off/0.",
    )
