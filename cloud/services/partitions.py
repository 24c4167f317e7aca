"""Monthly range partitions of the time-keyed tables on PostgreSQL: names, bounds and DDL.

A month per partition: a year is 12 partitions, so planning a query over years of history
stays cheap (a week would make 52 a year, and the planner and every backend's cache pay per
partition), while a month is a fine enough grain for retention (a partition is dropped once
it lies wholly before the cutoff, so up to a month more than asked is kept).

Each table also has a DEFAULT partition. A row whose month has no partition yet (a device
clock far off, a back-fill of old data) lands there instead of failing the ingest
transaction; maintenance later moves such rows into a partition of their own month.

Partitions are named ``<table>_yYYYYmMM`` and ``<table>_default``; maintenance only touches
partitions named so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "PARTITIONED",
    "PartitionedTable",
    "add_months",
    "attach_month",
    "drop_month",
    "include_in_schema",
    "month_of",
    "months_between",
    "months_in_default",
    "partition_months",
]


@dataclass(frozen=True, slots=True)
class PartitionedTable:
    name: str
    column: str  # the range key

    @property
    def default(self) -> str:
        return f"{self.name}_default"

    def partition(self, month: datetime) -> str:
        return f"{self.name}_y{month.year:04d}m{month.month:02d}"


PARTITIONED = (
    PartitionedTable("datapoints", "ts"),
    PartitionedTable("datapoint_minutes", "bucket"),
)
_NAME = re.compile(r"_y(\d{4})m(\d{2})$")
_PARTITION = re.compile(
    "^(?:" + "|".join(re.escape(t.name) for t in PARTITIONED) + r")_(?:y\d{4}m\d{2}|default)$"
)


def include_in_schema(name: str | None, type_: str, parent_names: object = None) -> bool:
    """Alembic's ``include_name`` hook: partitions are made by maintenance, not by the models,
    so schema comparisons leave them out."""
    return not (type_ == "table" and name is not None and _PARTITION.match(name))


def month_of(moment: datetime) -> datetime:
    """The first instant (UTC) of the month holding ``moment``."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def add_months(month: datetime, count: int) -> datetime:
    index = month.year * 12 + month.month - 1 + count
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _literal(moment: datetime) -> str:
    # Bounds in DDL cannot be bind parameters; these come from our own datetimes only.
    return f"'{moment.strftime('%Y-%m-%d %H:%M:%S')}+00'"


async def partition_months(session: AsyncSession, table: PartitionedTable) -> list[datetime]:
    """The months that have a partition of ``table``, oldest first."""
    names = await session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": table.name},
    )
    months = []
    for name in names:
        found = _NAME.search(name)
        if found and name == table.partition(datetime(int(found[1]), int(found[2]), 1)):
            months.append(datetime(int(found[1]), int(found[2]), 1, tzinfo=UTC))
    return sorted(months)


async def months_in_default(session: AsyncSession, table: PartitionedTable) -> list[datetime]:
    """The months of the rows parked in the DEFAULT partition (normally none)."""
    rows = await session.scalars(
        text(
            f"SELECT DISTINCT date_trunc('month', {table.column}, 'UTC') "
            f"FROM {table.default} ORDER BY 1"
        )
    )
    return [month_of(moment) for moment in rows]


async def attach_month(
    session: AsyncSession, table: PartitionedTable, month: datetime, *, adopt: bool
) -> None:
    """Give ``month`` a partition of ``table``; ``adopt`` first moves its rows out of DEFAULT.

    The partition is built as a plain table and then attached: ATTACH takes only a SHARE
    UPDATE EXCLUSIVE lock on the parent, so ingest and reads go on meanwhile (CREATE TABLE
    .. PARTITION OF would lock them out). PostgreSQL adds the parent's indexes and foreign
    keys on attach.
    """
    name, low, high = table.partition(month), _literal(month), _literal(add_months(month, 1))
    in_month = f"{table.column} >= {low} AND {table.column} < {high}"
    # Nothing may enter DEFAULT for this month between the move and the attach, or the
    # attach would find it there and fail.
    await session.execute(text(f"LOCK TABLE {table.default} IN EXCLUSIVE MODE"))
    await session.execute(text(f"CREATE TABLE {name} (LIKE {table.name})"))
    if adopt:
        await session.execute(
            text(
                f"WITH moved AS (DELETE FROM {table.default} WHERE {in_month} RETURNING *) "
                f"INSERT INTO {name} SELECT * FROM moved"
            )
        )
    await session.execute(
        text(
            f"ALTER TABLE {table.name} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"
        )
    )


async def drop_month(session: AsyncSession, table: PartitionedTable, month: datetime) -> None:
    await session.execute(text(f"DROP TABLE {table.partition(month)}"))


def months_between(first: datetime, last: datetime) -> Iterable[datetime]:
    """Every month from ``first`` to ``last``, both included."""
    month = month_of(first)
    while month <= last:
        yield month
        month = add_months(month, 1)
