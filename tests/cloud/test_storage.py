"""Storage that stays fast: monthly partitions, retention, rollups, and the level a range
query reads from. Real PostgreSQL databases of their own (retention drops partitions, which
would take other tests' rows), and a real SQLite file."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from cloud.core.config import CloudSettings
from cloud.db.migrate import upgrade
from cloud.db.session import Database
from cloud.models import Sensor
from cloud.services import sensors as sensor_service
from cloud.services.buckets import EPOCH, Level, micros
from cloud.services.datapoints import DatapointRow, write_datapoints
from cloud.services.series import Series, series
from cloud.services.storage import AHEAD_MONTHS, StorageMaintainer, maintain
from tests.rig.postgres import PostgresServer, own_database

US = timedelta(microseconds=1)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
Point = tuple[datetime, float]


def floor(moment: datetime, unit: timedelta) -> datetime:
    return EPOCH + (moment - EPOCH) // unit * unit


@pytest.fixture(scope="module")
def storage_url(postgres_server: PostgresServer) -> Iterator[str]:
    with own_database(postgres_server, "revlink_storage") as url:
        yield url


@pytest.fixture
async def db(storage_url: str) -> AsyncIterator[Database]:
    database = Database(storage_url)
    yield database
    await database.dispose()


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn(url))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def new_sensor(db: Database) -> tuple[int, uuid.UUID]:
    async with db.transaction() as session:
        sensor = await sensor_service.create_sensor(session, f"s-{uuid.uuid4().hex[:8]}")
        return sensor.id, sensor.public_id


async def write(db: Database, sensor_id: int, points: Sequence[Point]) -> None:
    """Through the ingest doors' write path (COPY on PostgreSQL), one transaction."""
    rows: list[DatapointRow] = [(sensor_id, ts, value, None) for ts, value in points]
    async with db.transaction() as session:
        await write_datapoints(session, rows)


async def read(db: Database, sensor_id: int, start: datetime, end: datetime, n: int) -> Series:
    async with db.sessions() as session:
        sensor = await session.get(Sensor, sensor_id)
        assert sensor is not None
        return await series(session, sensor, start, end, n)


async def partitions_of(url: str, table: str) -> list[str]:
    rows = await fetch(
        url,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = $1::regclass ORDER BY 1",
        table,
    )
    return [r["relname"] for r in rows]


def summaries(points: Sequence[Point], unit: timedelta) -> dict[datetime, tuple[int, float, float]]:
    """(count, min, max) per unit bucket, computed here."""
    groups: dict[datetime, list[float]] = {}
    for ts, value in points:
        start = (
            datetime(1970, 1, 1, tzinfo=UTC)
            + (ts - datetime(1970, 1, 1, tzinfo=UTC)) // unit * unit
        )
        groups.setdefault(start, []).append(value)
    return {k: (len(v), min(v), max(v)) for k, v in groups.items()}


async def rollups(url: str, table: str, sensor_id: int) -> dict[datetime, tuple[int, float, float]]:
    rows = await fetch(
        url, f"SELECT bucket, count, min, max, sum FROM {table} WHERE sensor_id = $1", sensor_id
    )
    return {r["bucket"]: (r["count"], r["min"], r["max"]) for r in rows}


def random_points(rng: random.Random, start: datetime, end: datetime, n: int) -> list[Point]:
    span = micros(end) - micros(start)
    return [(start + rng.randrange(span) * US, round(rng.uniform(-100, 100), 3)) for _ in range(n)]


# Partitions, parked rows, retention.


async def test_partitions_are_made_ahead_and_a_far_off_row_is_kept(
    db: Database, storage_url: str
) -> None:
    now = datetime(2031, 5, 10, 12, tzinfo=UTC)
    report = await maintain(db, 0, now)
    months = ["y2031m05", "y2031m06", "y2031m07", "y2031m08"]
    assert len(months) == AHEAD_MONTHS + 1
    for table in ("datapoints", "datapoint_minutes"):
        assert {f"{table}_{m}" for m in months} <= set(report.created)
        assert {f"{table}_{m}" for m in months} <= set(await partitions_of(storage_url, table))
    assert "datapoints_y2031m09" not in await partitions_of(storage_url, "datapoints")
    assert (await maintain(db, 0, now)).created == []  # a second pass has nothing to do

    sensor_id, _ = await new_sensor(db)
    far = [
        (datetime(1999, 7, 4, 1, 2, 3, 456789, tzinfo=UTC), 1.5),
        (datetime(2150, 1, 1, tzinfo=UTC) - US, -2.5),
    ]
    await write(db, sensor_id, far)
    placed = "SELECT tableoid::regclass::text AS part, ts, value FROM datapoints WHERE sensor_id=$1"
    assert {r["part"] for r in await fetch(storage_url, placed, sensor_id)} == {
        "datapoints_default"
    }
    window = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
    assert [(p.t, p.value) for p in (await read(db, sensor_id, *window, 10)).points] == far

    report = await maintain(db, 0, now)
    assert {"datapoints_y1999m07", "datapoints_y2149m12"} <= set(report.created)
    rows = await fetch(storage_url, placed + " ORDER BY ts", sensor_id)
    assert [(r["part"], r["ts"], r["value"]) for r in rows] == [
        ("datapoints_y1999m07", *far[0]),
        ("datapoints_y2149m12", *far[1]),
    ]
    assert await fetch(storage_url, "SELECT 1 FROM datapoints_default") == []
    assert await fetch(storage_url, "SELECT 1 FROM datapoint_minutes_default") == []
    assert [(p.t, p.value) for p in (await read(db, sensor_id, *window, 10)).points] == far


@pytest.fixture
def retention_url(postgres_server: PostgresServer) -> Iterator[str]:
    with own_database(postgres_server, "revlink_retention") as url:
        yield url


async def test_retention_drops_the_partitions_wholly_before_the_cutoff_and_only_them(
    retention_url: str,
) -> None:
    db, url = Database(retention_url), retention_url
    try:
        await _retention(db, url)
    finally:
        await db.dispose()


async def _retention(db: Database, url: str) -> None:
    sensor_id, _ = await new_sensor(db)
    last_dropped = datetime(2030, 3, 1, tzinfo=UTC) - US
    first_kept = datetime(2030, 3, 1, tzinfo=UTC)
    points = [
        (datetime(2029, 11, 20, tzinfo=UTC), 1.0),
        (last_dropped, 2.0),
        (first_kept, 3.0),
        (datetime(2030, 3, 14, tzinfo=UTC), 4.0),
    ]
    await write(db, sensor_id, points)
    now = datetime(2030, 3, 15, tzinfo=UTC)
    await maintain(db, 0, now)  # the months get partitions; retention off drops nothing
    assert len(await fetch(url, "SELECT 1 FROM datapoints WHERE sensor_id=$1", sensor_id)) == 4

    # 15 days back is in February: February is not wholly older, so it stays.
    before = await partitions_of(url, "datapoints")
    dropped = (await maintain(db, 15, now)).dropped
    assert {"datapoints_y2029m11", "datapoint_minutes_y2029m11"} <= set(dropped)
    kept = [p for p in before if p == "datapoints_default" or p >= "datapoints_y2030m02"]
    assert await partitions_of(url, "datapoints") == kept
    assert kept[:3] == ["datapoints_default", "datapoints_y2030m02", "datapoints_y2030m03"]
    values = "SELECT value FROM datapoints WHERE sensor_id=$1 ORDER BY ts"
    assert [r["value"] for r in await fetch(url, values, sensor_id)] == [2.0, 3.0, 4.0]

    # 14 days back is 1 March 00:00: all of February is now older than that.
    report = await maintain(db, 14, now)
    assert report.dropped == ["datapoints_y2030m02", "datapoint_minutes_y2030m02"]
    assert [r["value"] for r in await fetch(url, values, sensor_id)] == [3.0, 4.0]
    assert "datapoints_y2030m03" in await partitions_of(url, "datapoints")
    for table in ("datapoint_minutes", "datapoint_hours"):
        buckets = await rollups(url, table, sensor_id)
        assert min(buckets) == first_kept
        assert sum(count for count, _, _ in buckets.values()) == 2
    answer = await read(db, sensor_id, datetime(2029, 1, 1, tzinfo=UTC), now, 1)
    assert [(p.count, p.min, p.max) for p in answer.points] == [(2, 3.0, 4.0)]


def test_retention_days_is_limited_at_its_edges() -> None:
    assert CloudSettings(retention_days=0).retention_days == 0
    assert CloudSettings(retention_days=365_000).retention_days == 365_000
    for bad in (-1, 365_001):
        with pytest.raises(ValidationError, match="retention_days"):
            CloudSettings(retention_days=bad)


# Rollups.


async def assert_rollups_match(url: str, sensor_id: int, points: Sequence[Point]) -> None:
    for table, unit in (
        ("datapoint_minutes", timedelta(minutes=1)),
        ("datapoint_hours", timedelta(hours=1)),
    ):
        assert await rollups(url, table, sensor_id) == summaries(points, unit), table
        sums = await fetch(url, f"SELECT bucket, sum FROM {table} WHERE sensor_id = $1", sensor_id)
        expected: dict[datetime, float] = {}
        for ts, value in points:
            key = (
                datetime(1970, 1, 1, tzinfo=UTC)
                + (ts - datetime(1970, 1, 1, tzinfo=UTC)) // unit * unit
            )
            expected[key] = expected.get(key, 0.0) + value
        for row in sums:
            assert row["sum"] == pytest.approx(expected[row["bucket"]], abs=1e-9)


async def test_rollups_count_late_and_back_filled_points_and_go_with_their_sensor(
    db: Database, storage_url: str
) -> None:
    rng = random.Random(18)
    sensor_id, public_id = await new_sensor(db)
    other_id, _ = await new_sensor(db)
    base = datetime(2032, 6, 1, 10, tzinfo=UTC)
    first = random_points(rng, base, base + timedelta(hours=3), 600)
    await write(db, sensor_id, first)
    # Late: a second batch into minutes and hours that already have rollups, including a
    # point on an exact minute boundary and new extremes; then a back-fill of a month ago
    # (its own partition) and of a month with none (the DEFAULT one).
    late = random_points(rng, base, base + timedelta(hours=3), 300)
    late += [(base + timedelta(minutes=7), 1e6), (base + timedelta(minutes=7) - US, -1e6)]
    await write(db, sensor_id, late)
    backfill = random_points(rng, base - timedelta(days=31), base - timedelta(days=30), 50)
    backfill += random_points(
        rng, datetime(2011, 2, 3, tzinfo=UTC), datetime(2011, 2, 4, tzinfo=UTC), 20
    )
    await write(db, sensor_id, backfill)
    await write(db, other_id, [(base, 5.0)])
    everything = first + late + backfill
    await assert_rollups_match(storage_url, sensor_id, everything)
    await assert_rollups_match(storage_url, other_id, [(base, 5.0)])

    async with db.transaction() as session:
        await sensor_service.delete_sensor(session, public_id)
    for table in ("datapoints", "datapoint_minutes", "datapoint_hours"):
        left = await fetch(storage_url, f"SELECT 1 FROM {table} WHERE sensor_id = $1", sensor_id)
        assert left == [], table
    await assert_rollups_match(storage_url, other_id, [(base, 5.0)])


# The level a range query reads from.


def expected_points(
    points: Sequence[Point], start: datetime, end: datetime, answer: Series
) -> list[tuple[datetime, int, float, float, float]]:
    """(t, count, min, max, avg) of the answer's buckets, computed here from raw points."""
    assert answer.bucket is not None
    width = micros(start + answer.bucket) - micros(start)
    origin = answer.points[0].t if answer.level is Level.RAW else None
    if origin is None:
        unit = answer.level.value
        origin = (
            datetime(1970, 1, 1, tzinfo=UTC)
            + (start - datetime(1970, 1, 1, tzinfo=UTC)) // unit * unit
        )
    groups: dict[int, list[float]] = {}
    for ts, value in points:
        if start <= ts < end:
            groups.setdefault((micros(ts) - micros(origin)) // width, []).append(value)
    return [
        (max(start, origin + k * width * US), len(v), min(v), max(v), sum(v) / len(v))
        for k, v in sorted(groups.items())
    ]


def check(answer: Series, expected: list[tuple[datetime, int, float, float, float]]) -> None:
    got = [(p.t, p.count, p.min, p.max) for p in answer.points]
    assert got == [e[:4] for e in expected]
    for point, e in zip(answer.points, expected, strict=True):
        assert point.avg == pytest.approx(e[4], rel=1e-9, abs=1e-9)
        assert point.value == point.avg


async def test_the_level_follows_max_points_and_every_level_answers_exactly(
    db: Database, storage_url: str
) -> None:
    rng = random.Random(2)
    sensor_id, _ = await new_sensor(db)
    year = datetime(2033, 1, 1, tzinfo=UTC)
    # Ragged bounds: the year starts 17 min 23.5 s into an hour and ends 42 min past one, with
    # points crowded near both ends, where finer levels must answer.
    start = year + timedelta(minutes=17, seconds=23.5)
    end = year + timedelta(days=365, hours=5, minutes=42, seconds=10.25)
    points = random_points(rng, year, end + timedelta(days=2), 3000)
    points += random_points(rng, start - timedelta(minutes=2), start + timedelta(minutes=2), 400)
    points += random_points(rng, end - timedelta(minutes=2), end + timedelta(minutes=2), 400)
    points += [(start, 7.0), (start - US, 8.0), (end - US, 9.0), (end, 10.0)]
    for chunk in range(0, len(points), 500):
        await write(db, sensor_id, points[chunk : chunk + 500])

    cases = [
        (start, end, 1000, Level.HOUR),  # needs 8.8 h buckets: whole hours
        (start, start + timedelta(days=1), 100, Level.MINUTE),  # 14.4 min
        (start, start + timedelta(hours=1), 100, Level.RAW),  # 36 s
        (start, start + timedelta(minutes=100), 100, Level.MINUTE),  # exactly a minute
        (start, start + timedelta(minutes=100) - 100 * US, 100, Level.RAW),  # 1 µs under
    ]
    for low, high, max_points, level in cases:
        answer = await read(db, sensor_id, low, high, max_points)
        assert (answer.level, len(answer.points) <= max_points) == (level, True), (low, high)
        assert answer.bucket is not None
        if level is not Level.RAW:
            assert answer.bucket % level.value == timedelta(0)
        check(answer, expected_points(points, low, high, answer))
        assert sum(p.count for p in answer.points) == sum(low <= ts < high for ts, _ in points)

    # The year really comes from the hourly rollups: a doctored one shows in the answer.
    doctored = year + timedelta(days=100, hours=3)
    await fetch(
        storage_url,
        "UPDATE datapoint_hours SET max = 1e9 WHERE sensor_id = $1 AND bucket = $2",
        sensor_id,
        doctored,
    )
    answer = await read(db, sensor_id, start, end, 1000)
    assert max(p.max for p in answer.points) == 1e9
    assert (await read(db, sensor_id, start, end, 1000)).level is Level.HOUR


# SQLite: no partitions, no rollups; the answers are the same.


async def test_sqlite_answers_long_ranges_from_raw_rows_and_applies_retention(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        rng = random.Random(5)
        sensor_id, _ = await new_sensor(db)
        start, end = datetime(2034, 1, 1, 0, 30, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC)
        points = random_points(rng, start - timedelta(days=40), end, 500)
        await write(db, sensor_id, points)
        answer = await read(db, sensor_id, start, end, 50)
        assert answer.level is Level.RAW
        check(answer, expected_points(points, start, end, answer))

        now = datetime(2034, 12, 31, tzinfo=UTC)
        assert (await maintain(db, 0, now)).dropped == []
        await maintain(db, 300, now)  # cutoff: 1 March 2034
        answer = await read(db, sensor_id, datetime(2000, 1, 1, tzinfo=UTC), end, 10_000)
        cutoff = datetime(2034, 3, 1, tzinfo=UTC)
        assert [p.t for p in answer.points] == sorted(ts for ts, _ in points if ts >= cutoff)
    finally:
        await db.dispose()


# Upkeep in the background.


async def test_the_maintainer_adopts_parked_rows_on_its_own(db: Database, storage_url: str) -> None:
    sensor_id, _ = await new_sensor(db)
    parked = datetime(1987, 10, 19, tzinfo=UTC)
    await write(db, sensor_id, [(parked, 1.0)])
    maintainer = StorageMaintainer(db, 0, interval=0.05)
    maintainer.start()
    try:
        for _ in range(400):
            if "datapoints_y1987m10" in await partitions_of(storage_url, "datapoints"):
                break
            await asyncio.sleep(0.05)
    finally:
        await maintainer.stop()
    where = "SELECT tableoid::regclass::text AS part FROM datapoints WHERE sensor_id = $1"
    assert [r["part"] for r in await fetch(storage_url, where, sensor_id)] == [
        "datapoints_y1987m10"
    ]


# Migrations 0014 (partitions, rollups) and 0016 (lean rows) on a database that has rows.


async def _admin(server: PostgresServer, statement: str) -> None:
    connection = await asyncpg.connect(server.dsn("postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _fill_at_0013(url: str, points: Sequence[tuple[int, Point]]) -> None:
    connection = await asyncpg.connect(dsn(url))
    try:
        for name in ("a", "b"):
            await connection.execute(
                "INSERT INTO sensors (public_id, name, unit, name_edited, unit_edited, type, "
                "created_at) VALUES ($1, $2, '', false, false, 'sensor', now())",
                uuid.uuid4(),
                name,
            )
        await connection.copy_records_to_table(
            "datapoints",
            records=[(s, ts, ts, v) for s, (ts, v) in points],
            columns=["sensor_id", "ts", "received_at", "value"],
        )
    finally:
        await connection.close()


ROWS = "SELECT sensor_id, ts, value, experiment_id FROM datapoints ORDER BY sensor_id, ts, value"


def test_migration_moves_every_row_into_partitions_and_builds_the_rollups(
    postgres_server: PostgresServer,
) -> None:
    from alembic import command

    from cloud.db.migrate import alembic_config

    name = f"revlink_migrate_{uuid.uuid4().hex[:8]}"
    url = postgres_server.sqlalchemy_url(name)
    asyncio.run(_admin(postgres_server, f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url, "0013")
        rng = random.Random(14)
        now = datetime.now(UTC)
        spans = [
            (datetime(2019, 11, 30, 23, tzinfo=UTC), datetime(2019, 12, 1, 1, tzinfo=UTC)),
            (datetime(2024, 2, 29, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)),
            (now - timedelta(hours=2), now),
        ]
        points = [
            (sensor, point)
            for sensor in (1, 2)
            for low, high in spans
            for point in random_points(rng, low, high, 700)
        ]
        asyncio.run(_fill_at_0013(url, points))
        before = asyncio.run(fetch(url, ROWS))

        upgrade(url)
        assert asyncio.run(fetch(url, ROWS)) == before
        assert len(before) == 4200
        placed = asyncio.run(
            fetch(url, "SELECT DISTINCT tableoid::regclass::text AS part FROM datapoints")
        )
        months = {f"datapoints_y{ts:%Y}m{ts:%m}" for _, (ts, _) in points}
        assert len(months) >= 4
        assert {r["part"] for r in placed} == months
        for sensor in (1, 2):
            mine = [point for s, point in points if s == sensor]
            asyncio.run(assert_rollups_match(url, sensor, mine))
        # The rebuilt partitions' indexes keep their names; the rows keep only what is read.
        indexes = asyncio.run(
            fetch(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'datapoints_y2024m02'")
        )
        assert [r["indexname"] for r in indexes] == ["datapoints_y2024m02_sensor_id_ts_idx"]
        columns = asyncio.run(
            fetch(
                url,
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'datapoints' ORDER BY ordinal_position",
            )
        )
        assert [r["column_name"] for r in columns] == ["sensor_id", "ts", "value", "experiment_id"]
        # New rows are rolled up by the trigger, which moved to the rebuilt table.
        later = (datetime(2019, 12, 1, 0, 30, tzinfo=UTC), 123.0)
        asyncio.run(_copy_one(url, 1, later))
        asyncio.run(assert_rollups_match(url, 1, [p for s, p in points if s == 1] + [later]))

        command.downgrade(alembic_config(url), "0013")
        after = asyncio.run(fetch(url, ROWS))
        assert len(after) == len(before) + 1
        assert sorted([*before, (1, *later, None)]) == sorted(tuple(r) for r in after)
        # Numbered again, in time order, and the sequence goes on after the last.
        numbered = asyncio.run(fetch(url, "SELECT id, ts FROM datapoints ORDER BY id"))
        assert [r["id"] for r in numbered] == list(range(1, len(after) + 1))
        assert [r["ts"] for r in numbered] == sorted(r["ts"] for r in numbered)
        asyncio.run(_copy_one(url, 2, later, received_at=True))
        (newest,) = asyncio.run(fetch(url, "SELECT max(id) AS id FROM datapoints"))
        assert newest["id"] == len(after) + 1
        upgrade(url)  # and up again
        assert len(asyncio.run(fetch(url, ROWS))) == len(after) + 1
    finally:
        asyncio.run(_admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _copy_one(url: str, sensor_id: int, point: Point, received_at: bool = False) -> None:
    """COPY one row as a writer of that revision would: before 0016 with ``received_at``."""
    connection = await asyncpg.connect(dsn(url))
    try:
        extra = [point[0]] if received_at else []
        await connection.copy_records_to_table(
            "datapoints",
            records=[(sensor_id, point[0], point[1], *extra)],
            columns=["sensor_id", "ts", "value", *(["received_at"] if received_at else [])],
        )
    finally:
        await connection.close()
