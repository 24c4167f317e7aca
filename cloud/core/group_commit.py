"""Group commit: workers that store the batches waiting from many callers in shared
transactions, so a busy door pays per group, not per batch.

Each caller hands in a batch and waits for its outcome. A worker takes whatever is waiting
(the subclass says how much, :meth:`GroupCommitQueue.take`) and stores it in one transaction
(:meth:`GroupCommitQueue.store`). A batch's sender (:meth:`GroupCommitQueue.sender`) is
*busy* while a worker stores one of its batches: no other worker takes its later ones, so a
sender's batches are stored in the order it handed them in. If a group fails, each of its
batches is tried again on its own, so one that cannot be stored fails alone; the worker
itself outlives any batch.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

from cloud.core.tasks import cancel_and_wait

__all__ = ["GroupCommitQueue", "Job", "take_group"]

B = TypeVar("B")
R = TypeVar("R")

log = structlog.get_logger(__name__)


@dataclass(eq=False, slots=True)
class Job(Generic[B, R]):
    batch: B
    source: Hashable = None  # who sent it, where the queue's sender is not in the batch
    outcome: asyncio.Future[R] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def take_group(
    waiting: deque[Job[B, R]],
    sender: Callable[[Job[B, R]], Hashable],
    size: Callable[[Job[B, R]], int],
    max_size: int,
    *,
    max_jobs: int | None = None,
    one_per_sender: bool = False,
    busy: Collection[Hashable] = (),
) -> list[Job[B, R]]:
    """Remove and return the next group from ``waiting``, oldest first: at most ``max_jobs``
    batches and ``max_size`` in all (the first batch taken always goes), none of a ``busy``
    sender (being stored elsewhere) nor, with ``one_per_sender``, a second of one sender; a
    sender's batch left waiting keeps all its later ones waiting too, so each sender's order
    holds. Batches whose caller stopped waiting are dropped."""
    group: list[Job[B, R]] = []
    kept: list[Job[B, R]] = []
    held = set(busy)
    total = 0
    while waiting and (max_jobs is None or len(group) < max_jobs):
        job = waiting.popleft()
        if job.outcome.done():
            continue
        source = sender(job)
        if source in held:
            kept.append(job)
            continue
        amount = size(job)
        if group and total + amount > max_size:
            kept.append(job)
            break
        group.append(job)
        total += amount
        if one_per_sender:
            held.add(source)
    waiting.extendleft(reversed(kept))
    return group


class GroupCommitQueue(ABC, Generic[B, R]):
    name = "group_commit"  # names the workers and the log events

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._waiting: deque[Job[B, R]] = deque()
        self._wake = asyncio.Condition()
        self._busy: set[Hashable] = set()  # senders of the groups being stored
        self._tasks: list[asyncio.Task[None]] = []

    # What a subclass says.

    @abstractmethod
    def take(self, waiting: deque[Job[B, R]], busy: set[Hashable]) -> list[Job[B, R]]:
        """Remove and return the next group from ``waiting``, none of ``busy``'s batches
        (:func:`take_group` with the subclass's limits)."""

    def sender(self, job: Job[B, R]) -> Hashable:
        return job.source

    @abstractmethod
    async def store(self, batches: list[B]) -> list[R]:
        """Store ``batches`` in one transaction; their outcomes, in order."""

    # The machinery.

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"{self.name}-{n}") for n in range(self.workers)
        ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        for job in self._waiting:
            job.outcome.cancel()
        self._waiting.clear()

    async def submit(self, job: Job[B, R]) -> R:
        """Store the job's batch (in some group); raises what storing it alone raised."""
        self._waiting.append(job)
        async with self._wake:
            self._wake.notify()
        return await job.outcome

    def _takeable(self) -> bool:
        return any(self.sender(job) not in self._busy for job in self._waiting)

    async def _work(self) -> None:
        while True:
            async with self._wake:
                await self._wake.wait_for(self._takeable)
                group = self.take(self._waiting, self._busy)
                senders = {self.sender(job) for job in group}
                self._busy |= senders
                if self._waiting:
                    self._wake.notify()  # more for another worker
            if not group:
                continue
            try:
                await self._commit(group)
            finally:
                async with self._wake:
                    self._busy -= senders
                    self._wake.notify_all()  # their later batches may go now

    async def _commit(self, group: list[Job[B, R]]) -> None:
        try:
            results = await self.store([job.batch for job in group])
        except Exception as exc:  # each caller hears its own outcome
            if len(group) == 1:
                _settle(group[0], exc)
                return
            log.warning(f"{self.name}.group_failed", batches=len(group), error=type(exc).__name__)
            for job in group:
                try:
                    (result,) = await self.store([job.batch])
                except Exception as alone:
                    _settle(job, alone)
                else:
                    _settle(job, result)
            return
        for job, result in zip(group, results, strict=True):
            _settle(job, result)


def _settle(job: Job[B, R], outcome: R | BaseException) -> None:
    if job.outcome.done():  # its caller stopped waiting
        return
    if isinstance(outcome, BaseException):
        job.outcome.set_exception(outcome)
    else:
        job.outcome.set_result(outcome)
