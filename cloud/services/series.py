"""The read side of datapoints: range queries (downsampled in SQL, from rollups when a range
is long; see cloud.services.buckets), latest values, CSV export.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVarTuple

from sqlalchemy import ColumnClause, Select, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.models import Datapoint, Sensor
from cloud.services.buckets import Level, bucketed, plan_buckets
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
    level: Level = Level.RAW  # where the buckets were read from


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
    """Raw points when at most ``max_points`` lie in [start, end), else at most
    ``max_points`` equal-width buckets.

    The raw attempt reads at most ``max_points + 1`` rows, so a huge range costs one short
    index scan before the grouped query. Buckets come from the per-hour or per-minute
    rollups when they are that wide (PostgreSQL; SQLite reads raw rows), else from raw rows;
    the first bucket starts at ``start`` even when its unit began before. Empty buckets are
    left out.
    """
    if max_points < 1:
        raise InvalidInputError("max_points must be at least 1")
    raw_query = _in_range(select(Datapoint.ts, Datapoint.value), [sensor.id], start, end)
    raw = (await session.execute(raw_query.order_by(Datapoint.ts).limit(max_points + 1))).all()
    if len(raw) <= max_points:
        points = [SeriesPoint(ts, v, v, v, v, 1) for ts, v in raw]
        return Series(sensor, start, end, None, points)

    rollups = session.get_bind().dialect.name == "postgresql"
    plan = plan_buckets(start, end, max_points, rollups=rollups)
    points = []
    for bucket in await bucketed(session, sensor.id, start, end, plan):
        avg = bucket.sum / bucket.count
        t = max(start, plan.origin + bucket.index * plan.width)
        points.append(SeriesPoint(t, avg, bucket.min, bucket.max, avg, bucket.count))
    return Series(sensor, start, end, plan.width, points, plan.level)


async def latest(
    session: AsyncSession, public_ids: Sequence[uuid.UUID] | None = None
) -> list[LatestValue]:
    """The newest datapoint of each sensor (of ``public_ids``, or of all); none if it has none.

    One query on both databases: per sensor, a ``LIMIT 1`` probe of the (sensor_id, ts)
    index. Unlike ``DISTINCT ON`` over the datapoints, its cost does not grow with the
    history kept. PostgreSQL reads the probed row's values in the probe (a lateral join).
    Points of one sensor at one ``ts`` go to the one stored last, as the table's row address
    tells (PostgreSQL's ``ctid``, SQLite's ``rowid``): datapoints have no id of their own.
    """
    if session.get_bind().dialect.name == "postgresql":
        newest = (
            select(Datapoint.ts, Datapoint.value)
            .where(Datapoint.sensor_id == Sensor.id)
            .order_by(Datapoint.ts.desc(), literal_column("datapoints.ctid").desc())
            .limit(1)
            .lateral()
        )
        query = select(Sensor.public_id, Sensor.name, Sensor.unit, newest.c.ts, newest.c.value)
        query = query.join(newest, true())
    else:
        probe = Datapoint.__table__.alias("probe")
        probe_rowid: ColumnClause[int] = literal_column("probe.rowid")
        newest_rowid = (
            select(probe_rowid)
            .select_from(probe)
            .where(probe.c.sensor_id == Sensor.id)
            .order_by(probe.c.ts.desc(), probe_rowid.desc())
            .limit(1)
            .correlate(Sensor)
            .scalar_subquery()
        )
        query = select(
            Sensor.public_id, Sensor.name, Sensor.unit, Datapoint.ts, Datapoint.value
        ).join(Datapoint, literal_column("datapoints.rowid") == newest_rowid)
    query = query.order_by(Sensor.name, Sensor.id)
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
    ).order_by(Datapoint.ts, Datapoint.sensor_id)
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=_EXPORT_CHUNK))
        async for chunk in result.partitions():
            yield _csv_text(
                [
                    (ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), repr(value), *labels[sensor_id])
                    for ts, value, sensor_id in chunk
                ]
            )
