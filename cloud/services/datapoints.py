"""Writing datapoints in bulk: asyncpg COPY on PostgreSQL, one multi-row INSERT elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import Datapoint

__all__ = ["DatapointRow", "write_datapoints"]

COPY_COLUMNS = ("sensor_id", "ts", "received_at", "value", "experiment_id")


class DatapointRow(NamedTuple):
    sensor_id: int
    ts: datetime
    received_at: datetime
    value: float
    experiment_id: int | None


async def write_datapoints(session: AsyncSession, rows: Sequence[DatapointRow]) -> None:
    """Add ``rows`` inside the session's transaction (nothing is committed here)."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table("datapoints", records=rows, columns=COPY_COLUMNS)
        return
    await session.execute(insert(Datapoint), [row._asdict() for row in rows])
