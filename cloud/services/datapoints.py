"""Writing datapoints in bulk (COPY on PostgreSQL), shared by every ingest door, and deleting
a sensor's (the table has no foreign key that would do it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.binary_copy import COPY_COLUMNS, encode_datapoints
from cloud.models import Datapoint
from cloud.services.bulk import write_rows

__all__ = [
    "MAX_MAGNITUDE",
    "NUMBER_TYPES",
    "DatapointRow",
    "delete_points_of",
    "storable",
    "write_datapoints",
]


# (sensor_id, ts, value, experiment_id): a plain tuple, as COPY takes it, since ingest builds
# one per datapoint and a named tuple costs a Python call each.
DatapointRow = tuple[int, datetime, float, int | None]

# The largest magnitude a datapoint keeps. The rollups sum every value of a minute and of an
# hour in a double, and PostgreSQL refuses a sum past ~1.8e308 (which would fail every later
# batch of that sensor and bucket); 1e290 leaves room for 10^18 values per bucket.
MAX_MAGNITUDE = 1e290
# What a JSON number parses to, as a tuple: ``int | float`` would build a union per isinstance.
NUMBER_TYPES = (int, float)


def storable(value: float) -> bool:
    """Whether ``value`` can be a datapoint: finite and at most MAX_MAGNITUDE either way."""
    return -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE  # NaN compares false, infinities are out


async def write_datapoints(session: AsyncSession, rows: Sequence[DatapointRow]) -> None:
    """Add ``rows`` inside the session's transaction (nothing is committed here)."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await write_rows(session, Datapoint.__table__, COPY_COLUMNS, rows)  # type: ignore[arg-type]
        return
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_to_table(
        Datapoint.__tablename__,
        source=encode_datapoints(rows),
        columns=list(COPY_COLUMNS),
        format="binary",
    )


async def delete_points_of(session: AsyncSession, sensor_id: int) -> None:
    """Delete every datapoint of the sensor inside the session's transaction."""
    await session.execute(delete(Datapoint).where(Datapoint.sensor_id == sensor_id))
