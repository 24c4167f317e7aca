"""A replica's Redis side (cloud.live.cluster) against the real Redis: what a burst of device
connections asks of it at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from cloud.live.cluster import REDIS_CONNECTIONS, Cluster
from cloud.live.hub import LiveHub
from cloud.uplink.registry import DeviceConnections
from tests.rig.redis import REDIS_URL, require_redis

DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/unused"  # never connected to


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    require_redis()
    live = LiveHub()
    prefix = f"test-cluster-{uuid.uuid4().hex}"
    shared = Cluster(REDIS_URL, DATABASE_URL, live, DeviceConnections(), prefix=prefix)
    try:
        yield shared
    finally:
        assert shared.redis is not None
        keys = [key async for key in shared.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await shared.redis.delete(*keys)
        await shared.stop()


async def test_a_burst_of_connects_and_disconnects_beyond_the_pool_all_land(
    cluster: Cluster,
) -> None:
    """Many more marks at once than the pool has connections: they wait their turn."""
    async with asyncio.timeout(30):
        devices = [uuid.uuid4() for _ in range(REDIS_CONNECTIONS * 12)]
        await asyncio.gather(*(cluster.presence.connected(d, 1) for d in devices))
        assert await cluster.presence.online_among(devices) == set(devices)
        gone = devices[::2]
        await asyncio.gather(*(cluster.presence.disconnected(d, 1) for d in gone))
        assert await cluster.presence.online_among(devices) == set(devices) - set(gone)
