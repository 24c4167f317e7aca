"""Group commit for the WebMACS doors (cloud.services.telemetry_queue): which batches share a
transaction, that a sender's batches keep their order, and that one failing batch fails alone.
The queue runs against the real PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator

import pytest

from cloud.db.session import Database
from cloud.services.sensors import create_sensor
from cloud.services.telemetry import ParsedBatch, validate_items
from cloud.services.telemetry_queue import TelemetryQueue, _Job, take_group
from tests.rig.postgres import PostgresDatabase, stored_values


def items(sensor: uuid.UUID, *values: float) -> ParsedBatch:
    return validate_items([{"value": v, "event_public_id": str(sensor)} for v in values])


# Which batches make a group (pure).


async def test_a_group_is_the_oldest_batches_within_the_limit_and_keeps_each_sender_s_order() -> (
    None
):
    a, b = object(), object()
    s = uuid.uuid4()
    jobs = [
        _Job(items(s, 1, 2), a),
        _Job(items(s, 3, 4, 5), b),
        _Job(items(s, 6), a),
        _Job(items(s, 7, 8), b),
    ]
    waiting = deque(jobs)
    assert take_group(waiting) == jobs  # several of one sender may share a group, in order
    assert not waiting

    waiting = deque(jobs)
    assert take_group(waiting, max_datapoints=5) == jobs[:2]  # 2 + 3 datapoints
    assert take_group(waiting, max_datapoints=1) == [jobs[2]]  # the first always goes

    # A sender another worker is storing waits, and so does everything it sent after.
    waiting = deque(jobs)
    assert take_group(waiting, busy={a}) == [jobs[1], jobs[3]]
    assert list(waiting) == [jobs[0], jobs[2]]

    jobs[1].outcome.cancel()  # its connection stopped waiting
    waiting = deque(jobs)
    assert take_group(waiting) == [jobs[0], jobs[2], jobs[3]]


# Groups in the database.


@pytest.fixture
async def db(cloud_database_url: str) -> AsyncIterator[Database]:
    database = Database(cloud_database_url)
    yield database
    await database.dispose()


async def test_batches_of_many_senders_are_all_stored_each_sender_s_in_order(
    db: Database, postgres_database: PostgresDatabase
) -> None:
    async with db.transaction() as session:
        sensors = [
            (await create_sensor(session, f"tq-{uuid.uuid4().hex[:8]}")).public_id for _ in range(3)
        ]
    queue = TelemetryQueue(db, workers=2)
    queue.start()
    try:

        async def send(sensor: uuid.UUID) -> list[int]:
            sender = object()
            # Handed in all at once, as a connection keeping several in flight does.
            results = await asyncio.gather(
                *(queue.commit(items(sensor, float(n), float(n) + 0.5), sender) for n in range(40))
            )
            return [r.stored for r in results]

        stored = await asyncio.gather(*(send(sensor) for sensor in sensors))
    finally:
        await queue.stop()
    assert stored == [[2] * 40] * 3
    for sensor in sensors:
        expected = [v for n in range(40) for v in (float(n), float(n) + 0.5)]
        assert await stored_values(postgres_database.dsn, sensor) == expected


async def test_a_batch_that_cannot_be_stored_fails_alone(
    db: Database, postgres_database: PostgresDatabase
) -> None:
    async with db.transaction() as session:
        sensor = (await create_sensor(session, f"tq-{uuid.uuid4().hex[:8]}")).public_id
    good, bad = items(sensor, 1.0), items(sensor, 2.0)
    bad.accepted[0] = type(bad.accepted[0])(0, "not a number", sensor)  # type: ignore[arg-type]
    queue = TelemetryQueue(db, workers=1)
    # Both wait before the worker starts, so they are tried as one group first.
    stores = [asyncio.create_task(queue.commit(b)) for b in (good, bad)]
    await asyncio.sleep(0)
    queue.start()
    try:
        outcomes = await asyncio.gather(*stores, return_exceptions=True)
    finally:
        await queue.stop()
    assert not isinstance(outcomes[0], BaseException)
    assert outcomes[0].stored == 1
    assert isinstance(outcomes[1], Exception)
    assert await stored_values(postgres_database.dsn, sensor) == [1.0]
