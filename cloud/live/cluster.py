"""What a cloud process shares with its fellow replicas, chosen by ``REVLINK_REDIS_URL``.

Without Redis the process stands alone: online means a socket here and live points reach
this process's stream clients only. With it, live points are relayed to every replica and
online marks are shared (:mod:`cloud.live.relay`, :mod:`cloud.live.presence`). Revocations,
device work and connection take-overs travel by PostgreSQL ``NOTIFY`` either way
(:mod:`cloud.live.fanout`): they must never be lost with a row, so they go with its commit.
"""

from __future__ import annotations

import uuid

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.engine import make_url

from cloud.live.hub import LiveHub
from cloud.live.presence import LocalPresence, Presence, RedisPresence
from cloud.live.relay import RedisRelay
from cloud.uplink.registry import DeviceConnections

__all__ = ["REDIS_CONNECTIONS", "REDIS_WAIT_S", "Cluster", "ClusterNeedsPostgresError"]

REDIS_CONNECTIONS = 32  # per replica: the relay's two, the rest for presence and reads
REDIS_WAIT_S = 5.0  # how long a command waits for a free connection before it fails


class ClusterNeedsPostgresError(RuntimeError):
    """Replicas were asked for (``REVLINK_REDIS_URL``) over a database only one process uses."""


class Cluster:
    """This replica's presence and relay, started and stopped together."""

    def __init__(
        self,
        redis_url: str | None,
        database_url: str,
        live: LiveHub,
        devices: DeviceConnections,
        prefix: str = "revlink",
        presence_ttl_s: float = 30.0,
    ) -> None:
        self.replica_id = uuid.uuid4().hex
        self.redis: Redis | None = None
        self.relay: RedisRelay | None = None
        self.presence: Presence
        if redis_url is None:
            self.presence = LocalPresence(devices)
            return
        if make_url(database_url).get_backend_name() != "postgresql":
            raise ClusterNeedsPostgresError(
                "REVLINK_REDIS_URL (replicas) needs PostgreSQL "
                "(REVLINK_DATABASE_URL=postgresql+asyncpg://...): SQLite serves one process"
            )
        # A blocking pool: a burst of connects and disconnects (a replica's devices coming
        # back at once) waits for a free connection instead of failing past the pool's size.
        pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=REDIS_CONNECTIONS,
            timeout=REDIS_WAIT_S,
            socket_connect_timeout=5,
            health_check_interval=30,
        )
        self.redis = Redis.from_pool(pool)
        self.relay = RedisRelay(self.redis, live, self.replica_id, prefix)
        self._shared = RedisPresence(self.redis, devices, self.replica_id, prefix, presence_ttl_s)
        self.presence = self._shared

    @property
    def shared(self) -> bool:
        return self.redis is not None

    async def start(self) -> None:
        if self.relay is not None:
            await self.relay.start()
            self._shared.start()

    async def stop(self) -> None:
        if self.relay is not None:
            await self._shared.stop()
            await self.relay.stop()
        if self.redis is not None:
            await self.redis.aclose()
