"""Which socket speaks for which device: one connection per device ("ghost protocol").

A new connection for a device closes the old one with 1008; the old connection, when it
finally ends, can only unregister itself, never the connection that replaced it.
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
        self._lock = asyncio.Lock()

    async def register(self, device_id: uuid.UUID, socket: DeviceSocket) -> None:
        async with self._lock:
            old = self._current.get(device_id)
            self._current[device_id] = socket
        if old is not None and old is not socket:
            await _close_quietly(old, 1008, REPLACED)

    async def unregister(self, device_id: uuid.UUID, socket: DeviceSocket) -> bool:
        """Forget ``socket`` if it is still the device's connection; True if it was."""
        async with self._lock:
            if self._current.get(device_id) is socket:
                del self._current[device_id]
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
        if socket is not None:
            await _close_quietly(socket, code, reason)


async def _close_quietly(socket: DeviceSocket, code: int, reason: str) -> None:
    # Already closed by the peer: there is nothing left to tell it.
    with contextlib.suppress(RuntimeError, OSError):
        await socket.close(code=code, reason=reason)
