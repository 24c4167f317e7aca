"""Group commit for the uplink: the batches of many device links stored in shared transactions.

Each link hands its batch to :meth:`IngestQueue.commit` and waits for the outcome. A fixed
set of workers (one per ingest slot, ``REVLINK_DB_POOL_SIZE``) takes whatever is waiting, up
to :data:`MAX_GROUP_BATCHES` batches and :data:`MAX_GROUP_RECORDS` records, at most one batch
per device and none of a device another worker is storing (that transaction holds the device's
row lock: a second one would only wait for it, holding a connection idle), and commits it in
one transaction (:func:`~cloud.services.ingest.commit_batches`).
Idle, a batch is committed alone at once; busy, the per-transaction costs (a round trip per
statement, the WAL flush) are shared by the group, so throughput grows with load instead of
the queue.

If a group's transaction fails, each of its batches is tried again on its own, so one bad
batch (or a device deleted meanwhile) fails alone and the others are stored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy.exc import SQLAlchemyError

from cloud.core.tasks import cancel_and_wait
from cloud.db.session import Database
from cloud.services.ingest import CommittedBatch, ConcurrentCommitError, UplinkBatch, commit_batches

__all__ = ["MAX_GROUP_BATCHES", "MAX_GROUP_RECORDS", "IngestQueue", "take_group"]

MAX_GROUP_BATCHES = 256
MAX_GROUP_RECORDS = 5000  # ten full uplink batches; a bigger group only lengthens the lock

log = structlog.get_logger(__name__)


@dataclass(eq=False, slots=True)
class _Job:
    batch: UplinkBatch
    outcome: asyncio.Future[CommittedBatch] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def take_group(
    waiting: deque[_Job],
    max_batches: int = MAX_GROUP_BATCHES,
    max_records: int = MAX_GROUP_RECORDS,
    busy: Collection[uuid.UUID] = (),
) -> list[_Job]:
    """Remove and return the next group, oldest first: one batch per device (a later batch of
    a device already in the group waits for the next one, keeping each device's order), none
    of the ``busy`` devices (being stored elsewhere), and never more than the limits, except
    that the first batch is always taken."""
    group: list[_Job] = []
    devices: set[uuid.UUID] = set(busy)
    records = 0
    kept: list[_Job] = []
    while waiting and len(group) < max_batches:
        job = waiting.popleft()
        if job.outcome.done():  # its link gave up waiting
            continue
        size = len(job.batch.records)
        if job.batch.device_id in devices:
            kept.append(job)
            continue
        if group and records + size > max_records:
            kept.append(job)
            break
        group.append(job)
        devices.add(job.batch.device_id)
        records += size
    waiting.extendleft(reversed(kept))
    return group


class IngestQueue:
    def __init__(self, db: Database, workers: int) -> None:
        self.db = db
        self.workers = workers
        self._waiting: deque[_Job] = deque()
        self._wake = asyncio.Condition()
        self._busy: set[uuid.UUID] = set()  # devices of the groups being stored
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"ingest-{n}") for n in range(self.workers)
        ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        for job in self._waiting:
            job.outcome.cancel()
        self._waiting.clear()

    async def commit(self, batch: UplinkBatch) -> CommittedBatch:
        """Store ``batch`` (in some group); raises what storing it alone raised."""
        job = _Job(batch)
        self._waiting.append(job)
        async with self._wake:
            self._wake.notify()
        return await job.outcome

    def _takeable(self) -> bool:
        return any(job.batch.device_id not in self._busy for job in self._waiting)

    async def _work(self) -> None:
        while True:
            async with self._wake:
                await self._wake.wait_for(self._takeable)
                group = take_group(self._waiting, busy=self._busy)
                devices = {job.batch.device_id for job in group}
                self._busy |= devices
                if self._waiting:
                    self._wake.notify()  # more for another worker
            if not group:
                continue
            try:
                await self._commit(group)
            finally:
                async with self._wake:
                    self._busy -= devices
                    self._wake.notify_all()  # their later batches may go now

    async def _commit(self, group: list[_Job]) -> None:
        try:
            results = await self._store(job.batch for job in group)
        except (SQLAlchemyError, ConcurrentCommitError) as exc:
            if len(group) == 1:
                _settle(group[0], exc)
                return
            log.warning("ingest.group_failed", batches=len(group), error=type(exc).__name__)
            for job in group:
                try:
                    (result,) = await self._store([job.batch])
                except (SQLAlchemyError, ConcurrentCommitError) as alone:
                    _settle(job, alone)
                else:
                    _settle(job, result)
            return
        for job, result in zip(group, results, strict=True):
            _settle(job, result)

    async def _store(self, batches: Iterable[UplinkBatch]) -> list[CommittedBatch]:
        async with self.db.ingest() as session:
            return await commit_batches(session, list(batches), datetime.now(UTC))


def _settle(job: _Job, outcome: CommittedBatch | BaseException) -> None:
    if job.outcome.done():
        return
    if isinstance(outcome, BaseException):
        job.outcome.set_exception(outcome)
    else:
        job.outcome.set_result(outcome)
