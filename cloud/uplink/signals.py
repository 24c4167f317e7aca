"""Per-device wake-ups: "this device has new writes", from the API to the device's link.

Only a hint: the link also looks on its own every few seconds, so a write made on another
cloud replica (which cannot reach this process's signal) still goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

__all__ = ["DeviceSignals"]


class DeviceSignals:
    def __init__(self) -> None:
        self._events: dict[uuid.UUID, asyncio.Event] = {}

    def notify(self, device_id: uuid.UUID) -> None:
        event = self._events.get(device_id)
        if event is not None:
            event.set()

    async def wait(self, device_id: uuid.UUID, timeout: float) -> None:
        """Until ``notify(device_id)`` or ``timeout`` seconds, whichever comes first."""
        event = self._events.setdefault(device_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
        event.clear()

    def forget(self, device_id: uuid.UUID) -> None:
        self._events.pop(device_id, None)
