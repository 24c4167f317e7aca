"""Settings of the platform bridge (``REVLINK_*`` variables; flags override them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bridges.kit import BridgeSettings, MetricsListen
from bridges.platform.iotable import IOValue
from bridges.platform.power import PowerSettings

__all__ = ["PlatformSettings"]


class PlatformSettings(BridgeSettings):
    platform_listen: str = Field(
        default="127.0.0.1:50053", description="HOST:PORT or unix:PATH to serve gRPC on."
    )
    platform_metrics_listen: MetricsListen = Field(
        default="127.0.0.1:9153",
        description="HOST:PORT of the Prometheus endpoint (/metrics); empty disables it.",
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
    platform_event_log_size: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="How many DI edges and system events GetEvents keeps (oldest go first).",
    )
    platform_allow_power_control: bool = Field(
        default=False,
        description="Let apps reboot and shut down the device (Reboot, Shutdown, schedules).",
    )
    platform_reboot_command: str = Field(
        default="systemctl reboot", description="Command Reboot runs (split like a shell)."
    )
    platform_shutdown_command: str = Field(
        default="systemctl poweroff", description="Command Shutdown runs (split like a shell)."
    )
    platform_rtc_sync_command: str = Field(
        default="hwclock --systohc",
        description="Command SyncRtc runs to write the system time to the RTC; empty refuses.",
    )

    def power_settings(self) -> PowerSettings:
        return PowerSettings(
            allow_power_control=self.platform_allow_power_control,
            reboot_command=self.platform_reboot_command,
            shutdown_command=self.platform_shutdown_command,
            rtc_sync_command=self.platform_rtc_sync_command,
        )
