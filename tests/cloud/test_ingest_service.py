"""The ingest transaction on PostgreSQL: the database decides what is new."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg

from cloud.db.session import Database
from cloud.services.ingest import ConcurrentCommitError, SensorCache, commit_batch
from cloud.uplink.records import validate_record
from tests.rig.cloud import CloudServer
from tests.rig.postgres import PostgresDatabase
from tests.rig.uplink import record


async def test_two_connections_committing_the_same_records_store_them_once(
    cloud: CloudServer, cloud_database_url: str, postgres_database: PostgresDatabase
) -> None:
    device_id, _ = cloud.device()
    now = datetime.now(UTC)
    records = tuple(validate_record(record(s, message={"v": s}), now) for s in range(1, 51))
    database = Database(cloud_database_url)

    async def commit() -> int:
        for _ in range(3):
            try:
                async with database.transaction() as session:
                    result = await commit_batch(session, device_id, records, 50, SensorCache(), now)
                    return result.stored
            except ConcurrentCommitError:
                continue
        raise AssertionError("never committed")

    try:
        stored = await asyncio.gather(commit(), commit())
    finally:
        await database.dispose()
    assert sorted(stored) == [0, 50]
    connection = await asyncpg.connect(postgres_database.dsn)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM channel_messages WHERE device_id=$1", device_id
        )
        points = await connection.fetchval(
            "SELECT count(*) FROM datapoints d JOIN sensors s ON s.id = d.sensor_id"
            " WHERE s.device_id=$1",
            device_id,
        )
    finally:
        await connection.close()
    assert (count, points) == (50, 50)
