"""Live datapoints between replicas, through Redis publish/subscribe.

Every replica's hub hands its relay the points it flushed (already throttled per sensor,
so a relay carries at most one point per sensor per interval, however fast data arrives);
the relay publishes them on one Redis channel, and every other replica's relay gives what
it hears to its own hub (:meth:`~cloud.live.hub.LiveHub.receive`). A replica ignores its
own messages: its subscribers had those points at the flush.

The live feed is a view, not the record (every point is in the database first), so the
relay never holds anything up: it keeps a bounded queue of batches to publish and drops the
oldest when Redis is slow or away, and reconnects with backoff, counting what it dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from datetime import datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from cloud.core.tasks import cancel_and_wait
from cloud.live.hub import LiveHub, LivePoint

__all__ = ["RedisRelay", "decode_points", "encode_points"]

log = structlog.get_logger(__name__)

QUEUE_BATCHES = 1024
RECONNECT_MAX_SECONDS = 30.0


def encode_points(origin: str, points: list[LivePoint]) -> str:
    """One relay message: who sent it and the points, as compact rows."""
    rows = [
        [
            str(p.sensor_public_id),
            str(p.device_id) if p.device_id else None,
            p.value,
            p.timestamp.isoformat(),
            str(p.experiment_public_id) if p.experiment_public_id else None,
        ]
        for p in points
    ]
    return json.dumps({"from": origin, "points": rows}, separators=(",", ":"))


def decode_points(text: str | bytes) -> tuple[str, list[LivePoint]]:
    """The sender and points of a relay message; raises ``ValueError`` for a malformed one."""
    try:
        message: Any = json.loads(text)
        origin = message["from"]
        points = [
            LivePoint(
                uuid.UUID(sensor),
                uuid.UUID(device) if device else None,
                float(value),
                datetime.fromisoformat(when),
                uuid.UUID(experiment) if experiment else None,
            )
            for sensor, device, value, when, experiment in message["points"]
        ]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"malformed relay message: {exc}") from exc
    if not isinstance(origin, str):
        raise ValueError("malformed relay message: no sender")
    return origin, points


class RedisRelay:
    """Publishes this replica's flushed points and feeds other replicas' points to its hub."""

    def __init__(self, redis: Redis, hub: LiveHub, replica_id: str, prefix: str) -> None:
        self.redis = redis
        self.channel = f"{prefix}:live"
        self.hub = hub
        self.replica_id = replica_id
        self.dropped = 0
        self._outgoing: deque[str] = deque(maxlen=QUEUE_BATCHES)
        self._ready_to_send = asyncio.Event()
        self.listening = asyncio.Event()  # set while subscribed (tests wait for it)
        self._tasks: list[asyncio.Task[None]] = []

    def send(self, points: list[LivePoint]) -> None:
        """The hub's relay: queue a batch for the others; never blocks."""
        if len(self._outgoing) == self._outgoing.maxlen:
            self.dropped += 1
        self._outgoing.append(encode_points(self.replica_id, points))
        self._ready_to_send.set()

    def _heard(self, data: str | bytes) -> None:
        try:
            origin, points = decode_points(data)
        except ValueError:
            log.warning("live.relay_malformed", message=str(data)[:80])
            return
        if origin != self.replica_id:
            self.hub.receive(points)

    async def _publish_forever(self) -> None:
        delay = 1.0
        while True:
            await self._ready_to_send.wait()
            self._ready_to_send.clear()
            try:
                while self._outgoing:
                    await self.redis.publish(self.channel, self._outgoing[0])
                    self._outgoing.popleft()
                delay = 1.0
            except (RedisError, OSError):
                log.warning("live.relay_publish_failed", retry_in=delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
                self._ready_to_send.set()

    async def _listen_forever(self) -> None:
        delay = 1.0
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.listening.set()
                    delay = 1.0
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._heard(message["data"])
            except (RedisError, OSError):
                log.warning("live.relay_listen_failed", retry_in=delay, exc_info=True)
            finally:
                self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def start(self) -> None:
        self.hub.relay = self.send
        self._tasks = [
            asyncio.create_task(self._publish_forever(), name="live-relay-out"),
            asyncio.create_task(self._listen_forever(), name="live-relay-in"),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.listening.wait()

    async def stop(self) -> None:
        self.hub.relay = None
        await cancel_and_wait(*self._tasks)
        self._tasks = []
