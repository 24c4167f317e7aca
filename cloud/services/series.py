"""The read side of datapoints: range queries (downsampled in SQL), latest values, CSV export.

Time arithmetic for buckets is done in whole microseconds on both databases, so a point lying
exactly on a bucket boundary always lands in the later bucket; float epoch seconds (or SQLite's
``julianday``) would misplace such points by rounding.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVarTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    cast,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from cloud.models import Datapoint, Sensor
from cloud.services.errors import InvalidInputError, NotFoundError
from cloud.services.sensors import sensors_by_public_id

__all__ = [
    "CSV_HEADER",
    "DEFAULT_SPAN",
    "LatestValue",
    "Series",
    "SeriesPoint",
    "export_csv",
    "latest",
    "require_sensors",
    "resolve_range",
    "series",
]

DEFAULT_SPAN = timedelta(hours=24)
CSV_HEADER = ("timestamp", "value", "sensor_public_id", "sensor_name", "unit")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXPORT_CHUNK = 2000
_Row = TypeVarTuple("_Row")


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """A raw point (count 1, min = max = avg = value) or a bucket (value = avg)."""

    t: datetime
    value: float
    min: float
    max: float
    avg: float
    count: int


@dataclass(frozen=True, slots=True)
class Series:
    sensor: Sensor
    start: datetime
    end: datetime
    bucket: timedelta | None  # None: the points are raw
    points: list[SeriesPoint]


@dataclass(frozen=True, slots=True)
class LatestValue:
    sensor_public_id: uuid.UUID
    sensor_name: str
    unit: str
    timestamp: datetime
    value: float


def resolve_range(
    start: datetime | None, end: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """Fill a missing bound (default: the last 24 h) and refuse naive or empty ranges."""
    for label, bound in (("start", start), ("end", end)):
        if bound is not None and bound.tzinfo is None:
            raise InvalidInputError(f"{label} needs a timezone, e.g. 2026-01-01T00:00:00Z")
    if end is None:
        end = now or datetime.now(UTC)
    if start is None:
        start = end - DEFAULT_SPAN
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start >= end:
        raise InvalidInputError(
            f"start ({start.isoformat()}) must be before end ({end.isoformat()}); "
            "the range includes start and excludes end"
        )
    return start, end


def _micros(moment: datetime) -> int:
    """Whole microseconds since the epoch, exactly (timedelta arithmetic is integral)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def _epoch_micros(session: AsyncSession) -> ColumnElement[int]:
    """``Datapoint.ts`` as integer microseconds since the epoch, in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        # extract() answers numeric on PostgreSQL 14+, so this is exact.
        return cast(extract("epoch", Datapoint.ts) * 1_000_000, BigInteger)
    # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff". strftime('%s') would round a fraction
    # (…:59.999999 becomes the next second), so it gets the whole seconds only and the
    # microseconds come from the text, padded in case fewer digits were written.
    seconds = cast(func.strftime("%s", func.substr(Datapoint.ts, 1, 19)), BigInteger)
    fraction = func.substr(func.substr(Datapoint.ts, 21).op("||")(literal("000000")), 1, 6)
    return seconds * 1_000_000 + cast(fraction, BigInteger)


def _in_range(
    query: Select[*_Row], sensor_ids: Collection[int], start: datetime, end: datetime
) -> Select[*_Row]:
    return query.where(
        Datapoint.sensor_id.in_(sensor_ids), Datapoint.ts >= start, Datapoint.ts < end
    )


async def require_sensors(session: AsyncSession, public_ids: Sequence[uuid.UUID]) -> list[Sensor]:
    """The sensors in the order asked, or NotFoundError naming every unknown one."""
    found = await sensors_by_public_id(session, public_ids)
    missing = [str(pid) for pid in dict.fromkeys(public_ids) if pid not in found]
    if missing:
        raise NotFoundError(f"no sensor {', '.join(missing)}")
    return [found[pid] for pid in dict.fromkeys(public_ids)]


async def series(
    session: AsyncSession, sensor: Sensor, start: datetime, end: datetime, max_points: int
) -> Series:
    """Raw points when at most ``max_points`` lie in [start, end), else equal-width buckets.

    The raw attempt reads at most ``max_points + 1`` rows, so a huge range costs one short
    index scan before the grouped query. Empty buckets are left out.
    """
    if max_points < 1:
        raise InvalidInputError("max_points must be at least 1")
    raw_query = _in_range(select(Datapoint.ts, Datapoint.value), [sensor.id], start, end)
    raw = (
        await session.execute(raw_query.order_by(Datapoint.ts, Datapoint.id).limit(max_points + 1))
    ).all()
    if len(raw) <= max_points:
        points = [SeriesPoint(ts, v, v, v, v, 1) for ts, v in raw]
        return Series(sensor, start, end, None, points)

    span = _micros(end) - _micros(start)
    width = -(-span // max_points)  # ceil: at most max_points buckets cover the range
    # Integer division on integers (truncation equals floor here, as ts >= start).
    bucket_expr = (_epoch_micros(session) - literal(_micros(start), BigInteger)) // literal(
        width, BigInteger
    )
    # Grouping on a subquery column: repeating a parameterised expression in GROUP BY gives
    # PostgreSQL different placeholders, which it will not treat as the same expression.
    inner = _in_range(
        select(bucket_expr.label("bucket"), Datapoint.value), [sensor.id], start, end
    ).subquery()
    grouped = (
        select(
            inner.c.bucket,
            func.min(inner.c.value),
            func.max(inner.c.value),
            func.avg(inner.c.value),
            func.count(),
        )
        .group_by(inner.c.bucket)
        .order_by(inner.c.bucket)
    )
    points = [
        SeriesPoint(
            start + timedelta(microseconds=int(index) * width),
            float(avg),
            float(low),
            float(high),
            float(avg),
            int(count),
        )
        for index, low, high, avg, count in (await session.execute(grouped)).all()
    ]
    return Series(sensor, start, end, timedelta(microseconds=width), points)


async def latest(
    session: AsyncSession, public_ids: Sequence[uuid.UUID] | None = None
) -> list[LatestValue]:
    """The newest datapoint of each sensor (of ``public_ids``, or of all); none if it has none.

    One query on both databases: per sensor, a correlated ``LIMIT 1`` probe of the
    (sensor_id, ts) index. Unlike ``DISTINCT ON`` over the datapoints, its cost does not grow
    with the history kept.
    """
    probe = aliased(Datapoint)
    newest = (
        select(probe.id)
        .where(probe.sensor_id == Sensor.id)
        .order_by(probe.ts.desc(), probe.id.desc())
        .limit(1)
        .correlate(Sensor)
        .scalar_subquery()
    )
    query = (
        select(Sensor.public_id, Sensor.name, Sensor.unit, Datapoint.ts, Datapoint.value)
        .join(Datapoint, Datapoint.id == newest)
        .order_by(Sensor.name, Sensor.id)
    )
    if public_ids is not None:
        sensors = await require_sensors(session, public_ids)
        query = query.where(Sensor.id.in_([s.id for s in sensors]))
    return [LatestValue(*row) for row in (await session.execute(query)).all()]


def _csv_text(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


async def export_csv(
    sessions: async_sessionmaker[AsyncSession],
    sensors: Sequence[Sensor],
    start: datetime,
    end: datetime,
) -> AsyncIterator[str]:
    """CSV text of the sensors' datapoints in [start, end), oldest first, chunk by chunk.

    Opens its own session: a streaming response outlives the request's session. Rows come
    through a server-side cursor, so memory stays flat however long the range.
    """
    labels = {s.id: (str(s.public_id), s.name, s.unit) for s in sensors}
    yield _csv_text([CSV_HEADER])
    query = _in_range(
        select(Datapoint.ts, Datapoint.value, Datapoint.sensor_id), list(labels), start, end
    ).order_by(Datapoint.ts, Datapoint.sensor_id, Datapoint.id)
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=_EXPORT_CHUNK))
        async for chunk in result.partitions():
            yield _csv_text(
                [
                    (ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), repr(value), *labels[sensor_id])
                    for ts, value, sensor_id in chunk
                ]
            )
