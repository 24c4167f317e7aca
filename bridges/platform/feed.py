"""Fan-out of input changes to WatchInputs subscribers, with bounded queues.

A subscriber that falls too far behind is cut off with SubscriberTooSlowError instead of being
fed a silently gapped history, so its client reconnects and starts from a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass

from bridges.platform.iotable import IOKind, IOValue

__all__ = ["ChangeFeed", "InputChange", "SubscriberTooSlowError", "Subscription"]

QUEUE_CYCLES = 1000


class SubscriberTooSlowError(Exception):
    """The subscriber did not keep up with the IO cycle and was dropped."""


@dataclass(frozen=True, slots=True)
class InputChange:
    name: str
    kind: IOKind
    pin: int
    old: IOValue | None
    new: IOValue
    time_ns: int


class Subscription:
    def __init__(self, feed: ChangeFeed, names: Collection[str] | None) -> None:
        self._feed = feed
        self._names = frozenset(names) if names else None
        self._queue: asyncio.Queue[list[InputChange]] = asyncio.Queue(QUEUE_CYCLES)
        self._overflowed = False
        self._ended = False

    def offer(self, changes: list[InputChange]) -> None:
        if self._overflowed:
            return
        wanted = changes if self._names is None else [c for c in changes if c.name in self._names]
        if not wanted:
            return
        try:
            self._queue.put_nowait(wanted)
        except asyncio.QueueFull:
            # Drop the backlog and leave one empty batch as the marker that wakes the reader.
            self._overflowed = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait([])

    def end(self) -> None:
        """End the stream normally once what is queued has been read (the bridge is stopping)."""
        self._ended = True
        with contextlib.suppress(asyncio.QueueFull):  # a full one ends once drained
            self._queue.put_nowait([])

    def close(self) -> None:
        self._feed.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[list[InputChange]]:
        try:
            while not (self._ended and self._queue.empty()):
                batch = await self._queue.get()
                if self._overflowed:
                    raise SubscriberTooSlowError(
                        f"fell more than {QUEUE_CYCLES} IO cycles behind; reconnect"
                    )
                if batch:  # an empty batch only wakes the reader
                    yield batch
        finally:
            self.close()


class ChangeFeed:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._ended = False

    def subscribe(self, names: Collection[str] | None = None) -> Subscription:
        subscription = Subscription(self, names)
        if self._ended:  # its call was accepted just before the stop began
            subscription.end()
        self._subscriptions.add(subscription)
        return subscription

    def end_streams(self) -> None:
        """End every subscription normally; the bridge is stopping and clients reconnect."""
        self._ended = True
        for subscription in list(self._subscriptions):
            subscription.end()

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, changes: list[InputChange]) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(changes)

    def __len__(self) -> int:
        return len(self._subscriptions)
