"""Group commit for WebMACS's ways in: the telemetry batches waiting from every connection
(and ``POST /api/v1/datapoints``) stored in one transaction.

A group takes whatever arrived meanwhile (up to :data:`MAX_GROUP_DATAPOINTS`), so a busy door
pays one round of statements and one WAL flush per group instead of per message; idle, a
batch is stored alone at once. Few workers (:data:`WORKERS`): a WebMACS controller's sensors
get values in every message, so concurrent transactions queue on each other's locks on the
same rollup rows; two let one group's statements overlap the other's commit. A sender's
batches are stored in the order it sent them: a group skips a sender whose earlier batch
another worker is storing.

If a group's transaction fails, each of its batches is tried again on its own, so a batch
that cannot be stored fails alone and the others are stored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Hashable

from cloud.core.group_commit import GroupCommitQueue, Job
from cloud.core.group_commit import take_group as shared_take_group
from cloud.db.session import Database
from cloud.services.telemetry import IngestResult, ParsedBatch, ingest_many

__all__ = ["MAX_GROUP_DATAPOINTS", "TelemetryQueue"]

MAX_GROUP_DATAPOINTS = 5000  # ten full WebMACS batches; a bigger group only lengthens the locks
WORKERS = 2


_Job = Job[ParsedBatch, IngestResult]


def take_group(
    waiting: deque[_Job],
    max_datapoints: int = MAX_GROUP_DATAPOINTS,
    busy: Collection[Hashable] = (),
) -> list[_Job]:
    """Remove and return the next group, oldest first, of at most ``max_datapoints`` accepted
    items (the first batch taken always goes), leaving the batches of ``busy`` senders (being
    stored elsewhere) waiting. Batches whose caller stopped waiting are dropped."""
    return shared_take_group(
        waiting,
        lambda job: job.source,
        lambda job: len(job.batch.accepted),
        max_datapoints,
        busy=busy,
    )


class TelemetryQueue(GroupCommitQueue[ParsedBatch, IngestResult]):
    name = "telemetry"

    def __init__(self, db: Database, workers: int = WORKERS) -> None:
        super().__init__(workers)
        self.db = db

    async def commit(self, batch: ParsedBatch, sender: Hashable = None) -> IngestResult:
        """Store ``batch`` (in some group) after the batches ``sender`` handed in before it
        (None: a sender of one batch); raises what storing it alone raised."""
        return await self.submit(_Job(batch, sender if sender is not None else object()))

    def take(self, waiting: deque[_Job], busy: set[Hashable]) -> list[_Job]:
        return take_group(waiting, busy=busy)

    async def store(self, batches: list[ParsedBatch]) -> list[IngestResult]:
        async with self.db.ingest() as session:
            return await ingest_many(session, batches)
