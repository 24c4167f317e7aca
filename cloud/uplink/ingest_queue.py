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

from collections import deque
from collections.abc import Collection, Hashable
from datetime import UTC, datetime

from cloud.core.group_commit import GroupCommitQueue, Job
from cloud.core.group_commit import take_group as shared_take_group
from cloud.db.session import Database
from cloud.services.ingest import CommittedBatch, UplinkBatch, commit_batches

__all__ = ["MAX_GROUP_BATCHES", "MAX_GROUP_RECORDS", "IngestQueue", "take_group"]

MAX_GROUP_BATCHES = 256
MAX_GROUP_RECORDS = 5000  # ten full uplink batches; a bigger group only lengthens the lock


_Job = Job[UplinkBatch, CommittedBatch]


def take_group(
    waiting: deque[_Job],
    max_batches: int = MAX_GROUP_BATCHES,
    max_records: int = MAX_GROUP_RECORDS,
    busy: Collection[Hashable] = (),
) -> list[_Job]:
    """Remove and return the next group, oldest first: one batch per device (a later batch of
    a device already in the group waits for the next one, keeping each device's order), none
    of the ``busy`` devices (being stored elsewhere), and never more than the limits, except
    that the first batch is always taken."""
    return shared_take_group(
        waiting,
        _device,
        lambda job: len(job.batch.records),
        max_records,
        max_jobs=max_batches,
        one_per_sender=True,
        busy=busy,
    )


def _device(job: _Job) -> Hashable:
    return job.batch.device_id


class IngestQueue(GroupCommitQueue[UplinkBatch, CommittedBatch]):
    name = "ingest"

    def __init__(self, db: Database, workers: int) -> None:
        super().__init__(workers)
        self.db = db

    async def commit(self, batch: UplinkBatch) -> CommittedBatch:
        """Store ``batch`` (in some group); raises what storing it alone raised."""
        return await self.submit(_Job(batch))

    def take(self, waiting: deque[_Job], busy: set[Hashable]) -> list[_Job]:
        return take_group(waiting, busy=busy)

    def sender(self, job: _Job) -> Hashable:
        return _device(job)

    async def store(self, batches: list[UplinkBatch]) -> list[CommittedBatch]:
        async with self.db.ingest() as session:
            return await commit_batches(session, batches, datetime.now(UTC))
