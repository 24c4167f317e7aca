"""Group commit (cloud.uplink.ingest_queue): which batches share a transaction, and that
one failing batch fails alone. The queue runs against the real PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.exc import NoResultFound

from cloud.db.session import Database, PoolLimits
from cloud.services.ingest import (
    DuplicateDeviceError,
    SensorCache,
    UplinkBatch,
    commit_batches,
)
from cloud.uplink.ingest_queue import IngestQueue, _Job, take_group
from cloud.uplink.records import validate_record
from tests.rig.cloud import CloudServer
from tests.rig.postgres import PostgresDatabase
from tests.rig.uplink import record


def batch(device_id: uuid.UUID, seqs: range, channel: str = "tank") -> UplinkBatch:
    now = datetime.now(UTC)
    records = tuple(
        validate_record(record(s, channel=channel, message={"v": s}), now) for s in seqs
    )
    return UplinkBatch(device_id, records, seqs[-1], SensorCache())


# Which batches make a group (pure).


async def test_a_group_takes_one_batch_per_device_oldest_first_within_its_limits() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    jobs = [
        _Job(batch(a, range(1, 3))),
        _Job(batch(b, range(1, 4))),
        _Job(batch(a, range(3, 5))),  # a's second: waits for the next group
        _Job(batch(c, range(1, 2))),
    ]
    waiting = deque(jobs)
    assert take_group(waiting) == [jobs[0], jobs[1], jobs[3]]
    assert list(waiting) == [jobs[2]]

    waiting = deque(jobs)
    assert take_group(waiting, max_records=5) == [jobs[0], jobs[1]]  # 2 + 3 records
    assert list(waiting) == [jobs[2], jobs[3]]
    assert take_group(waiting, max_records=1) == [jobs[2]]  # the first always goes
    assert take_group(deque(jobs), max_batches=1) == [jobs[0]]

    # A device another worker is storing waits: its transaction holds the device's lock.
    waiting = deque(jobs)
    assert take_group(waiting, busy={a}) == [jobs[1], jobs[3]]
    assert list(waiting) == [jobs[0], jobs[2]]

    jobs[0].outcome.cancel()  # its link stopped waiting
    waiting = deque(jobs)
    assert take_group(waiting) == [jobs[1], jobs[2], jobs[3]]
    assert not waiting


# Groups in the database.


@pytest.fixture
async def db(cloud_database_url: str) -> AsyncIterator[Database]:
    database = Database(cloud_database_url, PoolLimits(size=1, max_overflow=2))
    yield database
    await database.dispose()


async def committed_seqs(dsn: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id, last_committed_seq FROM devices WHERE id = ANY($1::uuid[])", ids
        )
    finally:
        await connection.close()
    return {r["id"]: r["last_committed_seq"] for r in rows}


async def message_count(dsn: str, device_id: uuid.UUID) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM channel_messages WHERE device_id = $1", device_id
        )
    finally:
        await connection.close()
    return count


async def test_one_transaction_stores_several_devices_each_from_its_own_seq(
    cloud: CloudServer, db: Database, postgres_database: PostgresDatabase
) -> None:
    a, b = cloud.device()[0], cloud.device()[0]
    async with db.transaction() as session:
        await commit_batches(session, [batch(a, range(1, 4))], datetime.now(UTC))
    async with db.transaction() as session:
        results = await commit_batches(
            session, [batch(a, range(1, 6)), batch(b, range(1, 3))], datetime.now(UTC)
        )
    assert [(r.committed_seq, r.stored, r.late_duplicates) for r in results] == [
        (5, 2, 3),
        (2, 2, 0),
    ]
    assert await committed_seqs(postgres_database.dsn, [a, b]) == {a: 5, b: 2}
    assert await message_count(postgres_database.dsn, a) == 5
    with pytest.raises(DuplicateDeviceError):
        async with db.transaction() as session:
            await commit_batches(
                session, [batch(b, range(3, 4)), batch(b, range(4, 5))], datetime.now(UTC)
            )


async def test_a_failing_batch_fails_alone_and_the_rest_of_its_group_is_stored(
    cloud: CloudServer, db: Database, postgres_database: PostgresDatabase
) -> None:
    blocker, a, c = (cloud.device()[0] for _ in range(3))
    gone = uuid.uuid4()  # no such device: its batch cannot be stored
    queue = IngestQueue(db, workers=1)
    queue.start()
    hold = await asyncpg.connect(postgres_database.dsn)
    try:
        # The only worker waits on the blocker's locked row, so the next three queue up
        # and are taken as one group once it is released.
        locking = hold.transaction()
        await locking.start()
        await hold.execute("SELECT 1 FROM devices WHERE id = $1 FOR UPDATE", blocker)
        first = asyncio.create_task(queue.commit(batch(blocker, range(1, 2))))
        await asyncio.sleep(0.3)
        rest = [
            asyncio.create_task(queue.commit(batch(device, range(1, 3)))) for device in (a, gone, c)
        ]
        await asyncio.sleep(0.1)
        await locking.rollback()
        assert (await first).committed_seq == 1
        outcomes = await asyncio.gather(*rest, return_exceptions=True)
    finally:
        await hold.close()
        await queue.stop()
    stored_a, failed, stored_c = outcomes
    assert isinstance(failed, NoResultFound)
    assert [getattr(o, "committed_seq", None) for o in (stored_a, stored_c)] == [2, 2]
    assert await committed_seqs(postgres_database.dsn, [a, c]) == {a: 2, c: 2}
    assert await message_count(postgres_database.dsn, a) == 2
