"""Bulk row writes on the ingest hot path: asyncpg COPY on PostgreSQL, one INSERT elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["write_rows"]


async def write_rows(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Add ``rows`` (tuples in ``columns`` order) inside the session's transaction.

    On PostgreSQL a jsonb column takes its value as JSON text; elsewhere the ORM's JSON type
    takes the object."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
        return
    await session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
