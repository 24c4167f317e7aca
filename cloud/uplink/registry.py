"""Which socket speaks for which device: one connection per device ("ghost protocol").

A new connection for a device closes the old one with 1008; the old connection, when it
finally ends, can only unregister itself, never the connection that replaced it. Across
replicas every connection carries the device's connection number (``devices.connection_gen``,
taken at connect): told that a higher one opened elsewhere (:meth:`superseded`), a replica
closes its own the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Protocol

__all__ = ["DeviceConnections", "DeviceSocket"]

REPLACED = "replaced by a newer connection for this device"


class DeviceSocket(Protocol):
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...
    async def send_bytes(self, data: bytes) -> None: ...


class DeviceConnections:
    def __init__(self) -> None:
        self._current: dict[uuid.UUID, DeviceSocket] = {}
        self._gens: dict[uuid.UUID, int] = {}
        self._lock = asyncio.Lock()

    async def register(self, device_id: uuid.UUID, socket: DeviceSocket, gen: int = 0) -> None:
        async with self._lock:
            if gen and gen < self._gens.get(device_id, 0):
                # A newer connection registered first: this one is already out of date.
                await _close_quietly(socket, 1008, REPLACED)
                return
            old = self._current.get(device_id)
            self._current[device_id] = socket
            self._gens[device_id] = gen
        if old is not None and old is not socket:
            await _close_quietly(old, 1008, REPLACED)

    async def superseded(self, device_id: uuid.UUID, gen: int) -> None:
        """Connection ``gen`` of the device opened on another replica: close an older one
        here."""
        async with self._lock:
            socket = self._current.get(device_id)
            if socket is None or self._gens.get(device_id, 0) >= gen:
                return
            del self._current[device_id]
            self._gens.pop(device_id, None)
        await _close_quietly(socket, 1008, REPLACED)

    async def unregister(self, device_id: uuid.UUID, socket: DeviceSocket) -> bool:
        """Forget ``socket`` if it is still the device's connection; True if it was."""
        async with self._lock:
            if self._current.get(device_id) is socket:
                del self._current[device_id]
                self._gens.pop(device_id, None)
                return True
            return False

    def is_current(self, device_id: uuid.UUID, socket: DeviceSocket) -> bool:
        return self._current.get(device_id) is socket

    def online(self, device_id: uuid.UUID) -> bool:
        return device_id in self._current

    def __len__(self) -> int:
        return len(self._current)

    async def send(self, device_id: uuid.UUID, data: bytes) -> bool:
        """Send a frame on the device's current connection; False when it has none."""
        socket = self._current.get(device_id)
        if socket is None:
            return False
        try:
            await socket.send_bytes(data)
        except (RuntimeError, OSError):
            return False
        return True

    async def disconnect(self, device_id: uuid.UUID, code: int, reason: str) -> None:
        async with self._lock:
            socket = self._current.pop(device_id, None)
            self._gens.pop(device_id, None)
        if socket is not None:
            await _close_quietly(socket, code, reason)


async def _close_quietly(socket: DeviceSocket, code: int, reason: str) -> None:
    # Already closed by the peer: there is nothing left to tell it.
    with contextlib.suppress(RuntimeError, OSError):
        await socket.close(code=code, reason=reason)
