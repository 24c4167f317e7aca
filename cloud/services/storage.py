"""Storage upkeep: partitions made ahead, parked rows adopted, history past retention dropped.

One pass (:func:`maintain`) runs when a cloud process starts and then periodically in the
process that runs automation (``REVLINK_RUN_AUTOMATION``, or ``revlink cloud worker``). On
PostgreSQL it

1. deletes rows older than the retention cutoff from the DEFAULT partitions,
2. gives every month with rows parked in DEFAULT a partition of its own (moving them),
3. makes sure this month and the next ``AHEAD_MONTHS`` have partitions,
4. drops the partitions that lie wholly before the cutoff, and deletes the hourly rollups
   before it, so every level answers for the same stretch of history.

The cutoff is the start of the month holding ``now - REVLINK_RETENTION_DAYS``; with 0 (the
default) nothing is ever dropped. On SQLite, which is not partitioned, retention deletes the
rows before the same cutoff.

A pass holds a cluster-wide advisory lock (a replica finding it taken skips its turn) and a
short ``lock_timeout``: a DROP waiting behind a long query would otherwise queue every
ingest transaction behind itself. A pass that fails is logged and retried next period.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.core.tasks import cancel_and_wait
from cloud.db.session import Database
from cloud.models import Datapoint, DatapointHour, DatapointMinute
from cloud.services import partitions
from cloud.services.partitions import PARTITIONED

__all__ = [
    "AHEAD_MONTHS",
    "LOCK_TIMEOUT",
    "MAINTENANCE_KEY",
    "MaintenanceReport",
    "StorageMaintainer",
    "maintain",
    "retention_cutoff",
]

AHEAD_MONTHS = 3  # partitions exist for this month and this many after it
LOCK_TIMEOUT = "2s"
MAINTENANCE_KEY = 0x73746F72  # "stor" in ASCII: the advisory lock of a maintenance pass

log = structlog.get_logger(__name__)


@dataclass
class MaintenanceReport:
    """What one pass did; ``skipped`` when another process held the lock."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    skipped: bool = False


def retention_cutoff(now: datetime, retention_days: int) -> datetime | None:
    """The instant before which history is dropped, or None (keep forever)."""
    if retention_days <= 0:
        return None
    return partitions.month_of(now - timedelta(days=retention_days))


async def maintain(
    db: Database, retention_days: int, now: datetime | None = None
) -> MaintenanceReport:
    """One maintenance pass in its own transaction (see the module's text)."""
    now = now or datetime.now(UTC)
    cutoff = retention_cutoff(now, retention_days)
    async with db.transaction() as session:
        if not db.is_postgres:
            if cutoff is not None:
                await _delete_before(session, cutoff)
            return MaintenanceReport()
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(MAINTENANCE_KEY))):
            return MaintenanceReport(skipped=True)
        await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        report = MaintenanceReport()
        current = partitions.month_of(now)
        ahead = list(
            partitions.months_between(current, partitions.add_months(current, AHEAD_MONTHS))
        )
        for table in PARTITIONED:
            if cutoff is not None:
                await session.execute(
                    text(f"DELETE FROM {table.default} WHERE {table.column} < :cutoff"),
                    {"cutoff": cutoff},
                )
            have = set(await partitions.partition_months(session, table))
            parked = set(await partitions.months_in_default(session, table))
            for month in sorted((parked | set(ahead)) - have):
                await partitions.attach_month(session, table, month, adopt=month in parked)
                report.created.append(table.partition(month))
            for month in sorted(have):
                if cutoff is not None and partitions.add_months(month, 1) <= cutoff:
                    await partitions.drop_month(session, table, month)
                    report.dropped.append(table.partition(month))
        if cutoff is not None:
            await session.execute(delete(DatapointHour).where(DatapointHour.bucket < cutoff))
    return report


async def _delete_before(session: AsyncSession, cutoff: datetime) -> None:
    await session.execute(delete(Datapoint).where(Datapoint.ts < cutoff))
    for rollup in (DatapointMinute, DatapointHour):
        await session.execute(delete(rollup).where(rollup.bucket < cutoff))


class StorageMaintainer:
    """Runs :func:`maintain` once on demand and then every ``interval`` seconds."""

    def __init__(self, db: Database, retention_days: int, interval: float) -> None:
        self.db = db
        self.retention_days = retention_days
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> MaintenanceReport | None:
        """A pass; None when it failed (logged: the next pass tries again)."""
        try:
            report = await maintain(self.db, self.retention_days)
        except (SQLAlchemyError, OSError):
            log.exception("storage.maintenance_failed")
            return None
        if report.created or report.dropped:
            log.info("storage.maintained", created=report.created, dropped=report.dropped)
        return report

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="storage-maintenance")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.run_once()
