"""Datapoints packed in PostgreSQL's binary COPY format (cloud.db.binary_copy) read back
exactly as written, through the ingest doors' write path into the real database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from cloud.db.binary_copy import encode_datapoints
from cloud.db.session import Database
from cloud.services.datapoints import MAX_MAGNITUDE, DatapointRow, write_datapoints
from cloud.services.sensors import create_sensor
from tests.rig.postgres import PostgresDatabase


@pytest.fixture
async def db(cloud_database_url: str) -> AsyncIterator[Database]:
    database = Database(cloud_database_url)
    yield database
    await database.dispose()


async def stored(dsn: str, sensor_ids: list[int]) -> list[tuple[int, datetime, float, int | None]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT sensor_id, ts, value, experiment_id FROM datapoints"
            " WHERE sensor_id = ANY($1::int[]) ORDER BY ts, ctid",
            sensor_ids,
        )
    finally:
        await connection.close()
    return [(r["sensor_id"], r["ts"], r["value"], r["experiment_id"]) for r in rows]


async def test_rows_read_back_exactly(db: Database, postgres_database: PostgresDatabase) -> None:
    async with db.transaction() as session:
        sensors = [
            (await create_sensor(session, f"copy-{uuid.uuid4().hex[:8]}")).id for _ in range(4)
        ]
    # Before and after PostgreSQL's epoch (negative and positive microseconds), at the
    # microsecond, and values at the edges a datapoint may hold.
    times = [
        datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 11, 12, 345_678, tzinfo=UTC),
        datetime(2099, 6, 30, 1, 2, 3, 1, tzinfo=UTC),
    ]
    values = [0.0, -0.0, 1.5, -2.25, 5e-324, MAX_MAGNITUDE, -MAX_MAGNITUDE, 1 / 3]
    rows: list[DatapointRow] = []
    for n, ts in enumerate(times):
        for value in values:
            # A run of rows sharing one datetime, as a record's values do; ints too (the
            # WebMACS door passes JSON integers through).
            rows.append((sensors[n], ts, value, None if n % 2 else 2_147_483_647))
        rows.append((sensors[n], ts + timedelta(microseconds=1), 42, None))
    async with db.transaction() as session:
        await write_datapoints(session, rows)
    expected = sorted(
        ((s, ts, float(v), e) for s, ts, v, e in rows), key=lambda r: (r[1], rows.index(r))
    )
    assert await stored(postgres_database.dsn, sensors) == [
        (s, ts, v, e) for s, ts, v, e in expected
    ]


def test_the_stream_has_the_format_s_frame() -> None:
    ts = datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC)
    data = encode_datapoints([(7, ts, 1.0, None), (8, ts, 2.0, 9)])
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
    assert data.endswith(b"\xff\xff")
    # 19-byte header, 2 + 8 + 12 + 12 + 4 bytes for a row without an experiment, +4 with one.
    assert len(data) == 19 + 38 + 42 + 2
    assert encode_datapoints([]) == bytearray(b"PGCOPY\n\xff\r\n\x00" + bytes(8) + b"\xff\xff")
