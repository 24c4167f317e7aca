"""Equal-width buckets of one sensor's range, read from the coarsest level that is exact.

Levels: raw datapoints, per-minute and per-hour rollups (cloud.models.rollup). The width a
range needs is ``ceil(span / max_points)``; when it is at least an hour (a minute) and the
database keeps rollups, the buckets are whole hours (minutes) wide, aligned to the hour
(minute) holding ``start``, so every rollup row lies in exactly one bucket. Rollup rows can
only answer whole units, so the part of the range before the first and after the last whole
unit is read from the next finer level, down to raw rows: the answer is exact at every
level, whatever the bounds.

Time arithmetic is done in whole microseconds on both databases, so a point lying exactly on
a bucket boundary always lands in the later bucket; float epoch seconds (or SQLite's
``julianday``) would misplace such points by rounding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    SQLColumnExpression,
    cast,
    extract,
    func,
    label,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from cloud.models import Datapoint, DatapointHour, DatapointMinute

__all__ = ["EPOCH", "Bucket", "BucketPlan", "Level", "bucketed", "micros", "plan_buckets"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class Level(enum.Enum):
    """Where values are read from, with the time unit its rows cover (raw: none)."""

    RAW = timedelta(0)
    MINUTE = timedelta(minutes=1)
    HOUR = timedelta(hours=1)

    @property
    def finer(self) -> Level:
        return Level.MINUTE if self is Level.HOUR else Level.RAW


@dataclass(frozen=True, slots=True)
class BucketPlan:
    """Bucket ``i`` covers ``[origin + i*width, origin + (i+1)*width)`` within the range."""

    level: Level
    origin: datetime
    width: timedelta


@dataclass(frozen=True, slots=True)
class Bucket:
    index: int
    min: float
    max: float
    sum: float
    count: int


def micros(moment: datetime) -> int:
    """Whole microseconds since the epoch, exactly (timedelta arithmetic is integral)."""
    return (moment - EPOCH) // _US


def _floor(moment: datetime, unit: timedelta) -> datetime:
    return EPOCH + (moment - EPOCH) // unit * unit


def _ceil(moment: datetime, unit: timedelta) -> datetime:
    return EPOCH - (EPOCH - moment) // unit * unit


def plan_buckets(start: datetime, end: datetime, max_points: int, *, rollups: bool) -> BucketPlan:
    """The level and the at most ``max_points`` buckets that cover [start, end)."""
    needed = -(-(end - start) // max_points // _US) * _US  # ceil, in whole microseconds
    for level in (Level.HOUR, Level.MINUTE) if rollups else ():
        if needed >= level.value:
            origin = _floor(start, level.value)
            # Aligned to whole units: the span from origin (not start) must fit max_points.
            units = -(-(end - origin) // (level.value * max_points))
            return BucketPlan(level, origin, units * level.value)
    return BucketPlan(Level.RAW, start, needed)


def _pieces(level: Level, start: datetime, end: datetime) -> list[tuple[Level, datetime, datetime]]:
    """[start, end) split into stretches each read from one level: whole units of ``level``
    in the middle, finer levels for the ragged ends."""
    if start >= end:
        return []
    if level is Level.RAW:
        return [(level, start, end)]
    low, high = _ceil(start, level.value), _floor(end, level.value)
    if low >= high:
        return _pieces(level.finer, start, end)
    return [
        *_pieces(level.finer, start, low),
        (level, low, high),
        *_pieces(level.finer, high, end),
    ]


def epoch_micros(
    session: AsyncSession, column: SQLColumnExpression[datetime]
) -> ColumnElement[int]:
    """``column`` as integer microseconds since the epoch, in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        # extract() answers numeric on PostgreSQL 14+, so this is exact.
        return cast(extract("epoch", column) * 1_000_000, BigInteger)
    # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff". strftime('%s') would round a fraction
    # (…:59.999999 becomes the next second), so it gets the whole seconds only and the
    # microseconds come from the text, padded in case fewer digits were written.
    seconds = cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger)
    fraction = func.substr(func.substr(column, 21).op("||")(literal("000000")), 1, 6)
    return seconds * 1_000_000 + cast(fraction, BigInteger)


_NAMES = ("min", "max", "sum", "count")
_Summary = tuple[
    SQLColumnExpression[float],
    SQLColumnExpression[float],
    SQLColumnExpression[float],
    SQLColumnExpression[int],
]


def _source(
    level: Level,
) -> tuple[SQLColumnExpression[datetime], SQLColumnExpression[int], _Summary]:
    """The time and sensor columns of ``level`` and its (min, max, sum, count) per row: a
    raw value is its own min, max and sum, with a count of one."""
    if level is Level.RAW:
        value = Datapoint.value
        return Datapoint.ts, Datapoint.sensor_id, (value, value, value, literal(1, BigInteger))
    rollup = DatapointHour if level is Level.HOUR else DatapointMinute
    summary = (rollup.min, rollup.max, rollup.sum, rollup.count)
    return rollup.bucket, rollup.sensor_id, summary


def _piece_query(
    session: AsyncSession, sensor_id: int, plan: BucketPlan, piece: tuple[Level, datetime, datetime]
) -> Select[int, float, float, float, int]:
    level, low, high = piece
    time_column, sensor, summary = _source(level)
    bucket = (epoch_micros(session, time_column) - literal(micros(plan.origin), BigInteger)) // (
        literal(plan.width // _US, BigInteger)
    )
    # Grouping on a subquery column: repeating a parameterised expression in GROUP BY gives
    # PostgreSQL different placeholders, which it will not treat as the same expression.
    inner = (
        select(
            bucket.label("bucket"),
            *(label(name, column) for column, name in zip(summary, _NAMES, strict=True)),
        )
        .where(sensor == sensor_id, time_column >= low, time_column < high)
        .subquery()
    )
    return _merge(inner)


def _merge(rows: Subquery) -> Select[int, float, float, float, int]:
    """Summaries (bucket, min, max, sum, count) combined per bucket."""
    c = rows.c
    return select(
        c.bucket,
        func.min(c.min).label("min"),
        func.max(c.max).label("max"),
        func.sum(c.sum).label("sum"),
        func.sum(c.count).label("count"),
    ).group_by(c.bucket)


async def bucketed(
    session: AsyncSession, sensor_id: int, start: datetime, end: datetime, plan: BucketPlan
) -> list[Bucket]:
    """The non-empty buckets of ``plan`` over [start, end), oldest first, in one query."""
    parts = [_piece_query(session, sensor_id, plan, p) for p in _pieces(plan.level, start, end)]
    union = union_all(*parts) if len(parts) > 1 else parts[0]
    rows = union.subquery()
    merged = _merge(rows).order_by(rows.c.bucket)
    return [
        Bucket(int(index), float(low), float(high), float(total), int(count))
        for index, low, high, total, count in (await session.execute(merged)).all()
    ]
