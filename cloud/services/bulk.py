"""Bulk row writes on the ingest hot path: asyncpg COPY on PostgreSQL, one INSERT elsewhere."""

from __future__ import annotations

import json
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
    json_columns: frozenset[str] = frozenset(),
) -> None:
    """Add ``rows`` (tuples in ``columns`` order) inside the session's transaction."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        positions = [i for i, name in enumerate(columns) if name in json_columns]
        if positions:
            # COPY takes jsonb as text; the ORM's JSON type is not involved on this path.
            rows = [_dump(row, positions) for row in rows]
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
        return
    await session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def _dump(row: Sequence[Any], positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in positions:
        values[i] = json.dumps(values[i])
    return tuple(values)
