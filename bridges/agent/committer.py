"""Group commit: Publish calls that arrive while a queue transaction commits share the next.

One fsync per transaction is the agent's ceiling; with concurrent publishers, paying it per
group instead of per record multiplies throughput, and every caller still returns only after
the transaction holding its record has committed.
"""

from __future__ import annotations

import asyncio
import contextlib

from bridges.agent.queue.store import DurableQueue, PublishItem, PublishResult

__all__ = ["MAX_GROUP", "GroupCommitter"]

MAX_GROUP = 256


class GroupCommitter:
    def __init__(self, queue: DurableQueue) -> None:
        self.queue = queue
        self._waiting: list[tuple[PublishItem, asyncio.Future[PublishResult]]] = []
        self._task: asyncio.Task[None] | None = None

    async def publish(self, item: PublishItem) -> PublishResult:
        future: asyncio.Future[PublishResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            try:
                outcomes = await asyncio.to_thread(
                    self.queue.publish_many, [item for item, _ in group]
                )
            except Exception as exc:  # the whole transaction failed: every caller hears why
                outcomes = [exc] * len(group)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.done():  # the caller went away; its record stands (if stored)
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
