"""Who is watching a device's apps right now: pydoover's ``is_being_observed``, fed by the cloud.

A dashboard with a device's apps page open calls ``POST .../apps/observe`` every few seconds.
The first call of an observer for a device adds it to the device's ``ui_observers`` channel
(``{"connections": {observer: true}}``, a channel write); once its calls stop for
``ttl_seconds`` it is removed again. Only those two changes go to the device, never the
heartbeats. :class:`ObserverBook` is the pure bookkeeping; :class:`ObserverSweeper` the task
that writes the removals (and, once after a start, clears observers a previous run of the
cloud left on devices, since nobody is left to remove them).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from cloud.core.tasks import cancel_and_wait
from cloud.db.session import Database
from cloud.models import ChannelAggregate
from cloud.services.channel_writes import create_write
from cloud.services.errors import NotFoundError
from cloud.uplink.signals import DeviceSignals

__all__ = ["OBSERVERS_CHANNEL", "ObserverBook", "ObserverSweeper", "observer_patch"]

OBSERVERS_CHANNEL = "ui_observers"

log = structlog.get_logger(__name__)


def observer_patch(observer: str, present: bool) -> dict[str, object]:
    return {"connections": {observer: True if present else None}}


class ObserverBook:
    """Last heartbeat per (device, observer), by a monotonic clock in seconds."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._seen: dict[tuple[uuid.UUID, str], float] = {}

    def heartbeat(self, device_id: uuid.UUID, observer: str, now: float) -> bool:
        """Record a heartbeat; True when this observer is new for the device."""
        new = (device_id, observer) not in self._seen
        self._seen[(device_id, observer)] = now
        return new

    def expire(self, now: float) -> list[tuple[uuid.UUID, str]]:
        """Forget observers silent for ``ttl_seconds``; they are returned for removal."""
        gone = [key for key, seen in self._seen.items() if now - seen >= self.ttl_seconds]
        for key in gone:
            del self._seen[key]
        return gone

    def knows(self, device_id: uuid.UUID, observer: str) -> bool:
        return (device_id, observer) in self._seen


class ObserverSweeper:
    def __init__(
        self, book: ObserverBook, db: Database, signals: DeviceSignals, interval: float
    ) -> None:
        self.book = book
        self.db = db
        self.signals = signals
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="observer-sweeper")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        leftovers_cleared = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._remove(self.book.expire(loop.time()))
                if not leftovers_cleared and loop.time() - started >= self.book.ttl_seconds:
                    await self._remove(await self._leftovers())
                    leftovers_cleared = True
            except SQLAlchemyError:
                log.warning("observers.sweep_failed", exc_info=True)  # next sweep retries

    async def _leftovers(self) -> list[tuple[uuid.UUID, str]]:
        """Observers on devices' channels that this run of the cloud does not know."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(ChannelAggregate.device_id, ChannelAggregate.payload).where(
                    ChannelAggregate.channel == OBSERVERS_CHANNEL
                )
            )
            found = rows.tuples().all()
        leftovers = []
        for device_id, payload in found:
            connections = payload.get("connections") if isinstance(payload, dict) else None
            for observer in connections if isinstance(connections, dict) else {}:
                if not self.book.knows(device_id, observer):
                    leftovers.append((device_id, observer))
        return leftovers

    async def _remove(self, gone: list[tuple[uuid.UUID, str]]) -> None:
        if not gone:
            return
        async with self.db.transaction() as session:
            for device_id, observer in gone:
                with contextlib.suppress(NotFoundError):  # the device was deleted meanwhile
                    await create_write(
                        session,
                        device_id,
                        OBSERVERS_CHANNEL,
                        observer_patch(observer, present=False),
                        now=datetime.now(UTC),
                    )
        for device_id in {device_id for device_id, _ in gone}:
            self.signals.notify(device_id)
