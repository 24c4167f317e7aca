"""Live datapoint hub: throttled per sensor, latest value kept, fanned out to subscribers.

Ingest publishes after commit and never waits. A flusher task sends each sensor's newest
pending value at most once per interval, so a 100 Hz sensor reaches browsers at 5 Hz and
its last value always arrives. Each subscriber has a bounded queue; one that cannot keep up
is cut off (its socket is closed and the client reconnects) rather than slowing the others.

Across replicas a *relay* (:mod:`cloud.live.relay`) carries what this hub sends to the
others: each flush hands the relay the due points that were published here, and points a
relay brings in (:meth:`LiveHub.receive`) pass through this hub's own throttle, so a sensor
fed through two replicas at once still reaches each browser at most once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

import structlog

from cloud.core.tasks import cancel_and_wait

__all__ = ["LiveHub", "LivePoint", "Relay", "Subscriber"]

QUEUE_MESSAGES = 256

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class LivePoint:
    sensor_public_id: uuid.UUID
    device_id: uuid.UUID | None
    value: float
    timestamp: datetime
    experiment_public_id: uuid.UUID | None = None

    def as_webmacs(self) -> dict[str, object]:
        return {
            "value": self.value,
            "event_public_id": str(self.sensor_public_id),
            "timestamp": self.timestamp.isoformat(),
            "experiment_public_id": (
                str(self.experiment_public_id) if self.experiment_public_id else None
            ),
        }


def encode_batch(points: Iterable[LivePoint]) -> str:
    """WebMACS's ``datapoints_batch`` message, serialised as Starlette's send_json does."""
    message = {"type": "datapoints_batch", "datapoints": [p.as_webmacs() for p in points]}
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class Subscriber:
    """One stream client: an optional filter and a queue of encoded messages."""

    def __init__(
        self,
        devices: Collection[uuid.UUID] | None = None,
        sensors: Collection[uuid.UUID] | None = None,
    ) -> None:
        self.devices = frozenset(devices) if devices else None
        self.sensors = frozenset(sensors) if sensors else None
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_MESSAGES)
        self.overflowed = asyncio.Event()

    @property
    def unfiltered(self) -> bool:
        return self.devices is None and self.sensors is None

    def wants(self, point: LivePoint) -> bool:
        if self.sensors is not None and point.sensor_public_id in self.sensors:
            return True
        if self.devices is not None and point.device_id in self.devices:
            return True
        return self.unfiltered

    def offer(self, message: str) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()


Relay = Callable[[list[LivePoint]], None]
"""Takes the points this hub sent, for the other replicas; must not block or raise."""


class LiveHub:
    def __init__(
        self, interval_s: float = 0.2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        # Per sensor: its newest unsent point and whether it was published here (only those
        # are relayed: a point that came from another replica has reached the rest already).
        self._pending: dict[uuid.UUID, tuple[LivePoint, bool]] = {}
        self.relay: Relay | None = None
        self._last_sent: dict[uuid.UUID, float] = {}
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def publish(self, points: Iterable[LivePoint]) -> None:
        """Queue points for subscribers; cheap, never blocks, never raises."""
        if not self._subscribers and self.relay is None:
            return
        for point in points:
            self._pending[point.sensor_public_id] = (point, True)
        self._wake.set()

    def receive(self, points: Iterable[LivePoint]) -> None:
        """Queue points another replica published, for this replica's subscribers only."""
        if not self._subscribers:
            return
        for point in points:
            self._pending[point.sensor_public_id] = (point, False)
        self._wake.set()

    def announce(self, message: dict[str, object]) -> None:
        """Send ``message`` (e.g. a rule's ``{"type": "notification", ...}``) to every
        subscriber now, whatever its filter: it is not a datapoint, so nothing throttles it."""
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)
        for subscriber in list(self._subscribers):
            subscriber.offer(text)

    def subscribe(self, subscriber: Subscriber) -> Subscriber:
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def __len__(self) -> int:
        return len(self._subscribers)

    def flush(self) -> float | None:
        """Send every pending point whose sensor is due; return seconds until the next is due."""
        now = self._clock()
        due: list[LivePoint] = []
        ours: list[LivePoint] = []
        wait: float | None = None
        for sensor, (point, here) in list(self._pending.items()):
            ready_at = self._last_sent.get(sensor, -self.interval_s) + self.interval_s
            if ready_at <= now:
                due.append(point)
                if here:
                    ours.append(point)
                del self._pending[sensor]
                self._last_sent[sensor] = now
            else:
                wait = ready_at - now if wait is None else min(wait, ready_at - now)
        if due:
            self._fan_out(due)
        if ours and self.relay is not None:
            self.relay(ours)
        return wait

    def _fan_out(self, points: list[LivePoint]) -> None:
        everything: str | None = None
        for subscriber in list(self._subscribers):
            if subscriber.unfiltered:
                everything = everything or encode_batch(points)
                subscriber.offer(everything)
                continue
            wanted = [p for p in points if subscriber.wants(p)]
            if wanted:
                subscriber.offer(encode_batch(wanted))

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = self.flush()
            except Exception:
                # The live feed is a side effect: a bug in one flush must not end it for all.
                log.exception("live.flush_failed")
                self._pending.clear()
                wait = None
            if wait is None:
                await self._wake.wait()
            else:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the stop's
                # cancellation when the wake lands at the same instant, and stop() would hang.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="live-hub")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
