"""Local fan-out of channel events to Subscribe streams, with a replay buffer.

Events get ids that grow across agent restarts (they start from the wall clock in
microseconds), so a client that reconnects with the last id it saw gets what it missed while
the agent still holds it, and never an old event twice. A subscriber whose queue fills is
cut off; it reconnects and resumes from its last id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["ChannelEvent", "ChannelHub", "SubscriberTooSlowError"]

HISTORY = 2000
QUEUE = 1000


class SubscriberTooSlowError(Exception):
    """The subscriber fell too far behind and was dropped; resume with the last event id."""


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    event_id: int
    channel: str
    kind: str  # "message", "aggregate" or "command"
    payload_json: str
    time_ns: int
    seq: int = 0  # uplink seq of a message
    patch_json: str = ""  # aggregate events: the patch that was applied
    command_id: str = ""
    expire_time_ns: int = 0


class _Subscription:
    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.queue: asyncio.Queue[ChannelEvent | None] = asyncio.Queue(QUEUE)
        self.overflowed = False
        self.ended = False


class ChannelHub:
    def __init__(self, history: int = HISTORY) -> None:
        first_id = time.time_ns() // 1000
        self._ids = itertools.count(first_id)
        self.last_event_id = first_id - 1  # the newest id issued (none yet: just below the first)
        self._history: deque[ChannelEvent] = deque(maxlen=history)
        self._subscribers: set[_Subscription] = set()
        self._ended = False

    def emit(self, channel: str, kind: str, payload_json: str, **extra: object) -> ChannelEvent:
        self.last_event_id = next(self._ids)
        event = ChannelEvent(
            self.last_event_id,
            channel,
            kind,
            payload_json,
            time.time_ns(),
            **extra,  # type: ignore[arg-type]
        )
        self._history.append(event)
        for subscription in list(self._subscribers):
            if subscription.channel != channel or subscription.overflowed:
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscription.overflowed = True
        return event

    def end_streams(self) -> None:
        """End every subscription normally (the agent is stopping; clients resume later).

        A subscription that registers afterwards (its call was accepted just before the stop)
        ends at once too.
        """
        self._ended = True
        for subscription in self._subscribers:
            subscription.ended = True
            with contextlib.suppress(asyncio.QueueFull):  # a full one ends once drained
                subscription.queue.put_nowait(None)

    def subscriber_count(self, channel: str) -> int:
        return sum(1 for s in self._subscribers if s.channel == channel)

    def resume_point(self, after_event_id: int = 0) -> int:
        """Where a stream asked to start after ``after_event_id`` really starts.

        Zero means from now on. So does an id this hub never issued (ahead of its newest,
        as after a restart with the clock set back): honouring it would skip every event until
        the ids caught up with it.
        """
        if 0 < after_event_id <= self.last_event_id:
            return after_event_id
        return self.last_event_id

    async def events(self, channel: str, after_event_id: int = 0) -> AsyncIterator[ChannelEvent]:
        """Events of ``channel`` after the resume point: held ones replayed, then live ones."""
        after_event_id = self.resume_point(after_event_id)
        subscription = _Subscription(channel)
        subscription.ended = self._ended
        self._subscribers.add(subscription)
        try:
            if after_event_id < self.last_event_id:
                for event in list(self._history):
                    if event.channel == channel and event.event_id > after_event_id:
                        yield event
                        after_event_id = event.event_id
            while True:
                if subscription.ended and subscription.queue.empty():
                    return
                if subscription.overflowed and subscription.queue.empty():
                    raise SubscriberTooSlowError(
                        f"fell more than {QUEUE} events behind; resume after event {after_event_id}"
                    )
                queued = await subscription.queue.get()
                if queued is None:
                    return
                if queued.event_id > after_event_id:  # skip what the replay already gave
                    after_event_id = queued.event_id
                    yield queued
        finally:
            self._subscribers.discard(subscription)
