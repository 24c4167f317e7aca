"""Which devices are online, as the whole cluster sees it.

One process knows from its own sockets (:class:`LocalPresence`). Replicas share a Redis key
per connected device (:class:`RedisPresence`), holding which replica and which connection
number (``devices.connection_gen``) it is. Keys expire unless their replica refreshes them,
so a replica that dies takes its devices offline within the TTL instead of forever, and a
closing connection deletes the key only while it still names that connection: an old socket
ending late cannot take a device offline that has reconnected elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Collection
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from cloud.core.tasks import cancel_and_wait
from cloud.uplink.registry import DeviceConnections

__all__ = ["LocalPresence", "Presence", "RedisPresence"]

log = structlog.get_logger(__name__)

# Delete the key only if it still holds this connection's mark.
_FORGET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Presence(Protocol):
    async def connected(self, device_id: uuid.UUID, gen: int) -> None: ...

    async def disconnected(self, device_id: uuid.UUID, gen: int) -> None: ...

    async def online_among(self, device_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of ``device_ids`` have a connection on any replica."""
        ...


class LocalPresence:
    """One process: online means a socket here."""

    def __init__(self, connections: DeviceConnections) -> None:
        self.connections = connections

    async def connected(self, device_id: uuid.UUID, gen: int) -> None:
        return None

    async def disconnected(self, device_id: uuid.UUID, gen: int) -> None:
        return None

    async def online_among(self, device_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return {d for d in device_ids if self.connections.online(d)}


class RedisPresence:
    """Shared through Redis keys with a TTL, refreshed by the replica holding the socket."""

    def __init__(
        self,
        redis: Redis,
        connections: DeviceConnections,
        replica_id: str,
        prefix: str,
        ttl_s: float = 30.0,
    ) -> None:
        self.redis = redis
        self.key_prefix = f"{prefix}:online:"
        self.connections = connections
        self.replica_id = replica_id
        self.ttl_ms = max(1000, int(ttl_s * 1000))
        self._marks: dict[uuid.UUID, str] = {}  # this replica's devices and their marks
        self._forget = redis.register_script(_FORGET)
        self._task: asyncio.Task[None] | None = None

    def _key(self, device_id: uuid.UUID) -> str:
        return self.key_prefix + str(device_id)

    def _mark(self, gen: int) -> str:
        return f"{self.replica_id}:{gen}"

    async def connected(self, device_id: uuid.UUID, gen: int) -> None:
        mark = self._marks[device_id] = self._mark(gen)
        try:
            await self.redis.set(self._key(device_id), mark, px=self.ttl_ms)
        except (RedisError, OSError):
            log.warning("presence.set_failed", device_id=str(device_id), exc_info=True)

    async def disconnected(self, device_id: uuid.UUID, gen: int) -> None:
        mark = self._mark(gen)
        if self._marks.get(device_id) == mark:
            del self._marks[device_id]
        try:
            await self._forget(keys=[self._key(device_id)], args=[mark])
        except (RedisError, OSError):
            log.warning("presence.forget_failed", device_id=str(device_id), exc_info=True)

    async def online_among(self, device_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(device_ids)
        if not ids:
            return set()
        try:
            found = await self.redis.mget([self._key(d) for d in ids])
        except (RedisError, OSError):
            # Redis away: say what this replica knows rather than fail the request.
            log.warning("presence.read_failed", exc_info=True)
            return {d for d in ids if self.connections.online(d)}
        return {d for d, mark in zip(ids, found, strict=True) if mark is not None}

    async def refresh(self) -> None:
        """Renew the keys of every device connected here (a lost key is written again)."""
        marks = [
            (device, mark)
            for device, mark in self._marks.items()
            if self.connections.online(device)
        ]
        if not marks:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for device, mark in marks:
                pipe.set(self._key(device), mark, px=self.ttl_ms)
            await pipe.execute()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                await self.refresh()
            except (RedisError, OSError):
                log.warning("presence.refresh_failed", exc_info=True)

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="presence-refresh")

    async def stop(self) -> None:
        """Stop refreshing and take this replica's devices offline (its sockets are closing)."""
        await cancel_and_wait(self._task)
        self._task = None
        for device, mark in list(self._marks.items()):
            with contextlib.suppress(RedisError, OSError):
                await self._forget(keys=[self._key(device)], args=[mark])
        self._marks.clear()
