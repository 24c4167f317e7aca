"""Writing datapoints in bulk (COPY on PostgreSQL), shared by every ingest door."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import Datapoint
from cloud.services.bulk import write_rows

__all__ = ["DatapointRow", "write_datapoints"]


class DatapointRow(NamedTuple):
    sensor_id: int
    ts: datetime
    received_at: datetime
    value: float
    experiment_id: int | None


async def write_datapoints(session: AsyncSession, rows: Sequence[DatapointRow]) -> None:
    """Add ``rows`` inside the session's transaction (nothing is committed here)."""
    await write_rows(session, Datapoint.__table__, DatapointRow._fields, rows)  # type: ignore[arg-type]
