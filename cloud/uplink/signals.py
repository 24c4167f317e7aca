"""Per-device wake-ups: "this device has new writes or commands", for the device's link.

Raised by the API in this process and, for work queued by another process, by the
PostgreSQL listener (:mod:`cloud.live.notices`). Only a hint: the link also looks on its own,
rarely while notices arrive and every few seconds while they cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable

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

    def notify_many(self, device_ids: Iterable[uuid.UUID]) -> None:
        for device_id in device_ids:
            self.notify(device_id)

    def notify_all(self) -> None:
        for event in self._events.values():
            event.set()

    def forget(self, device_id: uuid.UUID) -> None:
        self._events.pop(device_id, None)
