"""Ingest under storage that is slower than the pool: commits wait their turn for an ingest
slot (``REVLINK_DB_POOL_SIZE``) instead of failing at the pool's timeout, which would close
every waiting device's socket (1011) and make it resend."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from revlink.uplink.v1 import uplink_pb2 as pb
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.postgres import PostgresDatabase
from tests.rig.uplink import UplinkClient, record, uplink_client

POOL = {"REVLINK_DB_POOL_SIZE": "1", "REVLINK_DB_MAX_OVERFLOW": "2"}
POOL_TIMEOUT_S = 1.0
HELD_S = 3 * POOL_TIMEOUT_S  # longer than any commit may wait for a connection
DEVICES = 6
LOCKED = 3  # as many as the pool's connections: all of them stuck behind the locks


@pytest.fixture(scope="module")
def slow_cloud(
    cloud_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    env = {**POOL, "REVLINK_DB_POOL_TIMEOUT_SECONDS": str(POOL_TIMEOUT_S)}
    with start_cloud(cloud_database_url, tmp_path_factory.mktemp("slots"), env=env) as server:
        yield server


@contextlib.asynccontextmanager
async def rows_locked(dsn: str, device_ids: list[uuid.UUID]) -> AsyncIterator[None]:
    """The devices' rows locked by another transaction: their commits block on it."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT 1 FROM devices WHERE id = ANY($1::uuid[]) FOR UPDATE", device_ids
            )
            yield
    finally:
        await connection.close()


async def test_commits_beyond_the_pool_wait_for_a_slot_and_none_is_lost(
    slow_cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    devices = [slow_cloud.device() for _ in range(DEVICES)]
    async with contextlib.AsyncExitStack() as stack:
        links: list[UplinkClient] = []
        for _, token in devices:
            link = await stack.enter_async_context(uplink_client(slow_cloud.ws_url, token))
            await link.hello()
            links.append(link)
        locked = [device_id for device_id, _ in devices[:LOCKED]]
        async with rows_locked(postgres_database.dsn, locked):
            for link in links:
                await link.send(_batch())
            await asyncio.sleep(HELD_S)
        acks = await asyncio.wait_for(asyncio.gather(*(link.until_ack() for link in links)), 30)
    assert [(ack.up_to_seq if ack else None, errors) for ack, errors in acks] == [(1, [])] * DEVICES
    connection = await asyncpg.connect(postgres_database.dsn)
    try:
        stored = await connection.fetch(
            "SELECT id, last_committed_seq FROM devices WHERE id = ANY($1::uuid[])",
            [device_id for device_id, _ in devices],
        )
    finally:
        await connection.close()
    assert {r["last_committed_seq"] for r in stored} == {1}
    assert "uplink.commit_failed" not in slow_cloud.log_path.read_text()


def _batch() -> bytes:
    frame = pb.DeviceFrame(batch=pb.Batch(records=[record(1, message={"level": 1.5})]))
    return frame.SerializeToString()
