"""The device-wide calls of :class:`~apps.sdk.platform.PlatformInterface` (pydoover's names).

Where the RevPi has no source for a figure the answer says so (``None``), never a made-up
number: no RevPi reports its supply voltage or power in the process image, and it has no
position source. Reboot and shutdown act only when the bridge's operator enabled power
control (``REVLINK_PLATFORM_ALLOW_POWER_CONTROL``); otherwise, and during a shutdown
immunity, they raise :class:`~apps.sdk.errors.FailedPreconditionError` with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC

from google.protobuf.duration_pb2 import Duration

from apps.sdk.client import BridgeClient
from apps.sdk.platform_types import duration
from apps.sdk.runtime import maybe_async
from revlink.platform.v1 import platform_pb2 as pb

__all__ = ["Location", "PlatformSystemCalls"]


@dataclass(frozen=True, slots=True)
class Location:
    """A position fix (pydoover's ``Location``)."""

    latitude: float
    longitude: float
    altitude_m: float | None = None
    accuracy_m: float | None = None
    timestamp: str | None = None  # ISO 8601


def _seconds(value: Duration) -> float:
    return float(value.seconds + value.nanos / 1e9)


class PlatformSystemCalls(BridgeClient):
    async def test_comms_async(self, message: str = "Comms Check Message") -> str:
        """The bridge echoes ``message`` back."""
        reply = await self._call("TestComms", pb.TestCommsRequest(message=message))
        return str(reply.message)

    async def get_system_voltage_async(self) -> float | None:
        """Supply voltage in volts; ``None``: no RevPi reports it."""
        reply = await self._call("GetSystemStatus", pb.GetSystemStatusRequest())
        return reply.supply_voltage_volts if reply.HasField("supply_voltage_volts") else None

    async def get_system_power_async(self) -> float | None:
        """Power drawn in watts; ``None``: no RevPi reports it."""
        reply = await self._call("GetSystemStatus", pb.GetSystemStatusRequest())
        return reply.power_watts if reply.HasField("power_watts") else None

    async def get_location_async(self) -> Location | None:
        """The device's position; ``None`` without a position source (every RevPi)."""
        reply = await self._call("GetLocation", pb.GetLocationRequest())
        if not reply.HasField("location"):
            return None
        fix = reply.location
        stamp = fix.time.ToDatetime(tzinfo=UTC).isoformat() if fix.HasField("time") else None
        return Location(
            fix.latitude,
            fix.longitude,
            fix.altitude_m if fix.HasField("altitude_m") else None,
            fix.accuracy_m if fix.HasField("accuracy_m") else None,
            stamp,
        )

    async def sync_rtc_async(self) -> bool:
        """Write the system time to the hardware clock (the operator's command); True when
        it ran (pydoover answers its truthy response)."""
        await self._call("SyncRtc", pb.SyncRtcRequest())
        return True

    async def get_immunity_seconds_async(self) -> float:
        """Seconds for which reboot and shutdown requests are still refused (0: none)."""
        reply = await self._call("GetShutdownImmunity", pb.GetShutdownImmunityRequest())
        return _seconds(reply.remaining)

    async def set_immunity_seconds_async(self, immunity_secs: float) -> float:
        """Refuse reboot and shutdown for ``immunity_secs`` from now (0 ends it)."""
        request = pb.SetShutdownImmunityRequest(immunity=duration(immunity_secs))
        return _seconds((await self._call("SetShutdownImmunity", request)).remaining)

    async def schedule_startup_async(self, time_secs: float) -> float:
        """Power on in ``time_secs``: a RevPi cannot, so this raises FailedPreconditionError."""
        request = pb.ScheduleStartupRequest(delay=duration(time_secs))
        reply = await self._call("ScheduleStartup", request)
        return float(reply.due_time.ToNanoseconds() / 1e9 - time.time())

    async def schedule_shutdown_async(self, time_secs: float) -> float:
        """Shut down in ``time_secs`` (replacing an earlier schedule); returns the seconds
        until it is due (more when a shutdown immunity runs longer)."""
        request = pb.ScheduleShutdownRequest(delay=duration(time_secs))
        reply = await self._call("ScheduleShutdown", request)
        due = float(reply.due_time.ToNanoseconds()) / 1e9
        return max(0.0, due - time.time())

    async def reboot_async(self) -> bool:
        """Run the operator's reboot command; True when it ran."""
        await self._call("Reboot", pb.RebootRequest())
        return True

    async def shutdown_async(self) -> bool:
        """Run the operator's shutdown command; True when it ran."""
        await self._call("Shutdown", pb.ShutdownRequest())
        return True

    test_comms = maybe_async(test_comms_async)
    get_system_voltage = maybe_async(get_system_voltage_async)
    get_system_power = maybe_async(get_system_power_async)
    get_location = maybe_async(get_location_async)
    sync_rtc = maybe_async(sync_rtc_async)
    get_immunity_seconds = maybe_async(get_immunity_seconds_async)
    set_immunity_seconds = maybe_async(set_immunity_seconds_async)
    schedule_startup = maybe_async(schedule_startup_async)
    schedule_shutdown = maybe_async(schedule_shutdown_async)
    reboot = maybe_async(reboot_async)
    shutdown = maybe_async(shutdown_async)
