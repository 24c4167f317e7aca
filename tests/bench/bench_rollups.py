"""A one-year range query on one sensor: from the rollups vs from the raw datapoints.

Run: ``python -m tests.bench.bench_rollups [--points N]`` (or ``BENCH_ROLLUP_POINTS=N``;
default 100,000,000).

A fresh PostgreSQL database gets the year 2025's monthly partitions (by the cloud's own
maintenance pass), then N datapoints of one sensor spread evenly over that year, written
with ``INSERT .. SELECT generate_series`` a day per statement, so the rollup trigger sees
batches as ingest would. Then, in the same run and on the same data, the range API's service
answers the year with ``max_points=1000`` (hourly buckets, read from the hourly rollups), and
the very same buckets are computed from the raw table; both answers must agree. The ratio is
raw time over rollup time (warm cache, best of several runs). The database is dropped at the
end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from cloud.db.session import Database
from cloud.models import Sensor
from cloud.services.buckets import Bucket, BucketPlan, Level, bucketed, plan_buckets
from cloud.services.series import series
from cloud.services.storage import maintain
from tests.bench.support import fresh_database

YEAR = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
MAX_POINTS = 1000
ROLLUP_RUNS, RAW_RUNS = 20, 3
GENERATE = """
INSERT INTO datapoints (sensor_id, ts, value)
SELECT $1, t, 20 + 10 * sin(extract(epoch FROM t) / 3600.0) + random()
FROM generate_series($2::timestamptz, $3::timestamptz - interval '1 microsecond', $4::interval) t
"""


def grid(points: int) -> tuple[timedelta, int]:
    """The step (whole microseconds) that spreads about ``points`` over YEAR, and how many
    points it makes exactly."""
    start, end = YEAR
    step = (end - start) / points
    return step, -(-(end - start) // step)


async def generate(dsn: str, sensor_id: int, points: int) -> float:
    """Write ``points`` evenly over YEAR, a day per statement; the seconds it took."""
    start, end = YEAR
    step, _ = grid(points)
    connection = await asyncpg.connect(dsn)
    began = time.perf_counter()
    try:
        # A lost tail on a crash does not matter here; waiting for each WAL flush would.
        await connection.execute("SET synchronous_commit = off")
        day = start
        while day < end:
            following = min(day + timedelta(days=1), end)
            # Each day starts on the grid of ``step`` from the year's start.
            first = start + -(-(day - start) // step) * step
            await connection.execute(GENERATE, sensor_id, first, following, step)
            day = following
            if day.day == 1:
                print(f"  generated up to {day:%Y-%m-%d} ({time.perf_counter() - began:6.0f} s)")
        await connection.execute("ANALYZE datapoints, datapoint_minutes, datapoint_hours")
        return time.perf_counter() - began
    finally:
        await connection.close()


async def best_of(
    runs: int, work: Callable[[], Awaitable[list[Bucket]]]
) -> tuple[float, list[Bucket]]:
    best: float = float("inf")
    answer: list[Bucket] = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = await work()
        best = min(best, time.perf_counter() - began)
    return best, answer


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = int(os.environ.get("BENCH_ROLLUP_POINTS", "100000000"))
    parser.add_argument("--points", type=int, default=default)
    args = parser.parse_args()
    async with fresh_database() as database:
        db = Database(database.url)
        try:
            for month in (1, 5, 9):  # each pass makes its month and the three after it
                await maintain(db, 0, datetime(2025, month, 1, tzinfo=UTC))
            async with db.transaction() as session:
                sensor = Sensor(name="bench", unit="°C")
                session.add(sensor)
                await session.flush()
            _, count = grid(args.points)
            print(f"rollup benchmark: {count:,} points of one sensor over 2025")
            took = await generate(database.dsn, sensor.id, args.points)
            print(f"generated in {took:,.0f} s ({count / took:,.0f} points/s, rollups incl.)")
            start, end = YEAR
            plan = plan_buckets(start, end, MAX_POINTS, rollups=True)
            raw_plan = BucketPlan(Level.RAW, plan.origin, plan.width)

            async def from_rollups() -> list[Bucket]:
                async with db.sessions() as session:
                    answer = await series(session, sensor, start, end, MAX_POINTS)
                assert answer.level is Level.HOUR
                return [Bucket(-1, p.min, p.max, p.avg * p.count, p.count) for p in answer.points]

            async def from_raw() -> list[Bucket]:
                async with db.sessions() as session:
                    return await bucketed(session, sensor.id, start, end, raw_plan)

            await from_rollups()  # warm both
            await from_raw()
            rollup_time, rolled = await best_of(ROLLUP_RUNS, from_rollups)
            raw_time, raw = await best_of(RAW_RUNS, from_raw)
            assert [(b.count, b.min, b.max) for b in rolled] == [
                (b.count, b.min, b.max) for b in raw
            ]
            assert sum(b.count for b in raw) == count
            print(
                f"one year, max_points={MAX_POINTS}: {len(raw)} buckets of "
                f"{plan.width.total_seconds() / 3600:g} h, {count:,} points"
            )
            print(f"from the raw table:      {raw_time * 1000:10.1f} ms (best of {RAW_RUNS})")
            print(f"from the hourly rollups: {rollup_time * 1000:10.1f} ms (best of {ROLLUP_RUNS})")
            print(f"rollups are {raw_time / rollup_time:,.0f}x faster than raw")
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
