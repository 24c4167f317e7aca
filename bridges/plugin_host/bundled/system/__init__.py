"""Metrics of the host the plugin runs on: CPU, memory, disk, load, uptime and temperature.

Config: ``{"disk_path": "/"}``, the mount point whose usage ``disk_percent`` reports.

``temperature`` comes from the first sensor ``psutil.sensors_temperatures()`` lists, else from
``/sys/class/thermal/thermal_zone0/temp``. A host with neither (a container, a VM) simply has
no ``temperature`` in its readings; the channel is still declared by ``channels()`` so that the
channel list does not depend on the hardware an instance happens to run on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import psutil

from bridges.plugin_host.sdk import Channel, PluginMeta, SyncDevicePlugin, Value

__all__ = ["SystemPlugin", "busy_percent", "read_temperature"]

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def read_temperature(thermal_zone: Path = THERMAL_ZONE) -> float | None:
    """Degrees Celsius of the first sensor found, or None when the host exposes none."""
    # Not every platform psutil supports has the function (macOS, Windows).
    if hasattr(psutil, "sensors_temperatures"):
        for readings in psutil.sensors_temperatures().values():
            if readings:
                return float(readings[0].current)
    try:
        return int(thermal_zone.read_text().strip()) / 1000  # the kernel reports millidegrees
    except (OSError, ValueError):
        return None


def busy_percent(before: Any, after: Any) -> float:
    """CPU usage between two ``psutil.cpu_times()`` samples, as psutil computes it.

    Each instance keeps its own earlier sample: ``psutil.cpu_percent(interval=None)`` keeps
    one for the whole process, so two instances would each measure since the other's read.
    """
    total = _total_time(after) - _total_time(before)
    idle = _idle_time(after) - _idle_time(before)
    if total <= 0:
        return 0.0
    return round(min(100.0, max(0.0, 100.0 * (total - idle) / total)), 1)


def _total_time(times: Any) -> float:
    # On Linux, guest time is already counted in user time.
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return float(sum(times)) - guest


def _idle_time(times: Any) -> float:
    return float(times.idle + getattr(times, "iowait", 0.0))


class SystemPlugin(SyncDevicePlugin):
    meta = PluginMeta(
        "system",
        "System metrics",
        "1.0.0",
        "CPU, memory and disk usage, load, uptime and temperature of the host",
    )
    config_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "disk_path": {
                "type": "string",
                "minLength": 1,
                "default": "/",
                "description": "A path on the file system whose usage disk_percent reports",
            },
        },
        "additionalProperties": False,
    }
    # A class attribute rather than config: only tests have a reason to point it elsewhere.
    thermal_zone: ClassVar[Path] = THERMAL_ZONE

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.disk_path: str = self.config.get("disk_path", "/")
        self._cpu_sample = psutil.cpu_times()

    def channels(self) -> list[Channel]:
        return [
            Channel("cpu_percent", "CPU usage", unit="%", min_value=0, max_value=100),
            Channel("memory_percent", "Memory usage", unit="%", min_value=0, max_value=100),
            Channel("disk_percent", "Disk usage", unit="%", min_value=0, max_value=100),
            Channel("load_1m", "Load average, 1 minute", min_value=0),
            Channel("uptime_s", "Uptime", unit="s", min_value=0),
            Channel("temperature", "Temperature", unit="degC"),
        ]

    def connect_sync(self) -> None:
        # CPU usage is measured between two samples; the first reading covers the time since
        # the connect.
        self._cpu_sample = psutil.cpu_times()

    def read_inputs_sync(self) -> dict[str, Value]:
        try:
            disk_percent = psutil.disk_usage(self.disk_path).percent
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OSError(f"disk_path {self.disk_path!r} cannot be read: {reason}") from exc
        sample = psutil.cpu_times()
        cpu_percent = busy_percent(self._cpu_sample, sample)
        self._cpu_sample = sample
        values: dict[str, Value] = {
            "cpu_percent": cpu_percent,
            "memory_percent": float(psutil.virtual_memory().percent),
            "disk_percent": float(disk_percent),
            "load_1m": float(psutil.getloadavg()[0]),
            "uptime_s": max(0.0, time.time() - psutil.boot_time()),
        }
        temperature = read_temperature(self.thermal_zone)
        if temperature is not None:
            values["temperature"] = temperature
        return values
