"""The Modbus bridge's domain core (no gRPC): buses by id, reads and writes on them, scheduled
writes, polling subscriptions, and the servers of server mode.

Buses come from the bridge's configuration or are opened by callers, explicitly
(:meth:`ModbusCore.open_bus`) or on demand: a request that carries settings for a bus id that
is not open opens it. Settings that differ from the open bus's are refused, so two apps
cannot silently fight over one line; ``open_bus`` replaces a bus explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import structlog

from bridges.modbus.bus import Bus, BusStatus
from bridges.modbus.codec import decode
from bridges.modbus.errors import (
    BusSettingsConflictError,
    InvalidRequestError,
    ModbusBridgeError,
    SlaveExceptionError,
    UnknownBusError,
)
from bridges.modbus.model import BusConfig, ReadSpec, WriteSpec, check_bus_config, check_bus_id
from bridges.modbus.servers import ServerHost

__all__ = [
    "MAX_DELAY_S",
    "MAX_POLL_S",
    "MIN_POLL_S",
    "ModbusCore",
    "PollFailure",
    "ReadResult",
]

log = structlog.get_logger(__name__)

MIN_POLL_S = 0.01
MAX_POLL_S = 86400.0
MAX_DELAY_S = 7 * 86400.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Raw values, the typed ones when a format was asked, and when the answer came."""

    values: list[int]
    typed: list[float]
    time: datetime


@dataclass(frozen=True, slots=True)
class PollFailure:
    """One failed poll of a subscription."""

    reason: str
    message: str
    exception_code: int
    time: datetime


@dataclass
class _Scheduled:
    schedule_id: str
    bus_id: str
    spec: WriteSpec
    due: datetime
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class ModbusCore:
    """Buses, schedules, subscriptions and servers; :meth:`start` first, :meth:`shutdown` last."""

    def __init__(self, configured: Iterable[tuple[str, BusConfig]] = ()) -> None:
        self._configured = [(check_bus_id(i), check_bus_config(c)) for i, c in configured]
        self._buses: dict[str, Bus] = {}
        self._scheduled: dict[tuple[str, int, int, int], _Scheduled] = {}
        self._ids = itertools.count(1)
        self._stopping = asyncio.Event()
        self._subscriptions = 0
        self.servers = ServerHost()

    async def start(self) -> None:
        for bus_id, config in self._configured:
            self._open(bus_id, config, configured=True)

    # -- buses -------------------------------------------------------------------------

    def _open(self, bus_id: str, config: BusConfig, configured: bool = False) -> Bus:
        bus = Bus(bus_id, config, configured=configured)
        self._buses[bus_id] = bus
        bus.start()
        log.info("modbus.bus_opened", bus=bus_id, transport=config.describe())
        return bus

    async def open_bus(self, bus_id: str, config: BusConfig) -> BusStatus:
        """Open a bus, or replace the open one of that id when the settings differ."""
        check_bus_id(bus_id)
        check_bus_config(config)
        old = self._buses.get(bus_id)
        if old is not None and old.config == config:
            return old.status()
        if old is not None:
            del self._buses[bus_id]
            await old.close()
        return self._open(bus_id, config).status()

    async def close_bus(self, bus_id: str) -> None:
        bus = self._buses.pop(bus_id, None)
        if bus is None:
            raise UnknownBusError(f"no Modbus bus {bus_id!r}")
        for key, entry in list(self._scheduled.items()):
            if entry.bus_id == bus_id and entry.task is not None:
                entry.task.cancel()
                del self._scheduled[key]
        await bus.close()

    def buses(self) -> list[BusStatus]:
        return [self._buses[k].status() for k in sorted(self._buses)]

    def bus_status(self, bus_id: str) -> BusStatus:
        return self.bus(bus_id, None).status()

    def bus(self, bus_id: str, settings: BusConfig | None) -> Bus:
        """The open bus ``bus_id``; opened with ``settings`` when it is not open."""
        found = self._buses.get(bus_id)
        if found is None:
            if settings is None:
                raise UnknownBusError(
                    f"no Modbus bus {bus_id!r}: open it first, or send its settings"
                )
            check_bus_id(bus_id)
            return self._open(bus_id, check_bus_config(settings))
        if settings is not None and settings != found.config:
            raise BusSettingsConflictError(
                f"bus {bus_id!r} is open as {found.config.describe()} "
                f"(timeout {found.config.timeout_s:g} s, retries {found.config.retries}); "
                f"this request asks for {settings.describe()} (timeout {settings.timeout_s:g} s, "
                f"retries {settings.retries}); OpenBus replaces a bus"
            )
        return found

    # -- reads and writes ------------------------------------------------------------

    async def read(self, bus_id: str, settings: BusConfig | None, spec: ReadSpec) -> ReadResult:
        values = await self.bus(bus_id, settings).read(spec)
        typed = decode(values, spec.format) if spec.format is not None else []
        return ReadResult(values, typed, datetime.now(UTC))

    async def write(self, bus_id: str, settings: BusConfig | None, spec: WriteSpec) -> datetime:
        await self.bus(bus_id, settings).write(spec)
        return datetime.now(UTC)

    def schedule_write(
        self, bus_id: str, settings: BusConfig | None, spec: WriteSpec, delay_s: float
    ) -> tuple[str, datetime]:
        """Write ``spec`` after ``delay_s``; replaces a pending write to the same place."""
        if not 0 <= delay_s <= MAX_DELAY_S:
            raise InvalidRequestError(f"delay {delay_s} s must be 0 to {MAX_DELAY_S:g} s")
        self.bus(bus_id, settings)  # unknown bus or conflicting settings: refused now
        key = (bus_id, spec.slave_id, int(spec.table), spec.address)
        previous = self._scheduled.pop(key, None)
        if previous is not None and previous.task is not None:
            previous.task.cancel()
        entry = _Scheduled(
            f"w{next(self._ids)}", bus_id, spec, datetime.now(UTC) + timedelta(seconds=delay_s)
        )
        entry.task = asyncio.create_task(self._due(key, entry, settings, delay_s))
        self._scheduled[key] = entry
        return entry.schedule_id, entry.due

    async def _due(
        self,
        key: tuple[str, int, int, int],
        entry: _Scheduled,
        settings: BusConfig | None,
        s: float,
    ) -> None:
        await asyncio.sleep(s)
        if self._scheduled.get(key) is entry:
            del self._scheduled[key]
        try:
            await self.write(entry.bus_id, settings, entry.spec)
        except ModbusBridgeError as exc:
            log.warning(
                "modbus.scheduled_write_failed",
                schedule=entry.schedule_id,
                bus=entry.bus_id,
                write=entry.spec.describe(),
                reason=exc.reason,
                error=str(exc),
            )
            return
        log.info("modbus.scheduled_write_done", schedule=entry.schedule_id, bus=entry.bus_id)

    @property
    def pending_writes(self) -> int:
        return len(self._scheduled)

    # -- subscriptions -----------------------------------------------------------------

    @property
    def subscription_count(self) -> int:
        return self._subscriptions

    async def _until_stop(self, work: Awaitable[T]) -> tuple[bool, T | None]:
        """(True, result) when ``work`` finished first; (False, None) when the bridge stops."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ModbusBridgeError):
                    await task
        if task.done() and not task.cancelled():
            return True, task.result()
        return False, None

    async def subscribe(
        self,
        bus_id: str,
        settings: BusConfig | None,
        spec: ReadSpec,
        interval_s: float,
        changes_only: bool = False,
    ) -> AsyncIterator[ReadResult | PollFailure]:
        """Poll ``spec`` every ``interval_s``: a result per poll, a failure for a failed one.

        Ends (normally) when the bridge stops, so clients resume on the next bridge.
        """
        if not MIN_POLL_S <= interval_s <= MAX_POLL_S:
            raise InvalidRequestError(
                f"poll interval {interval_s} s must be {MIN_POLL_S} to {MAX_POLL_S:g} s"
            )
        self.bus(bus_id, settings)  # unknown bus or conflicting settings: refused at the start
        self._subscriptions += 1
        try:
            last: list[int] | None = None
            next_at = time.monotonic()
            while not self._stopping.is_set():
                try:
                    finished, result = await self._until_stop(self.read(bus_id, settings, spec))
                except ModbusBridgeError as exc:
                    code = exc.exception_code if isinstance(exc, SlaveExceptionError) else 0
                    yield PollFailure(exc.reason, str(exc), code, datetime.now(UTC))
                    last = None
                else:
                    if not finished or result is None:
                        return
                    if not (changes_only and result.values == last):
                        yield result
                    last = result.values
                next_at += interval_s
                now = time.monotonic()
                next_at = max(next_at, now)  # an overrun skips the missed polls
                if not (await self._until_stop(asyncio.sleep(next_at - now)))[0]:
                    return
        finally:
            self._subscriptions -= 1

    def end_streams(self) -> None:
        """End every subscription (the bridge is stopping; clients resume)."""
        self._stopping.set()

    async def shutdown(self) -> None:
        self._stopping.set()
        for entry in self._scheduled.values():
            if entry.task is not None:
                entry.task.cancel()
        self._scheduled.clear()
        for bus_id in list(self._buses):
            bus = self._buses.pop(bus_id)
            with contextlib.suppress(Exception):
                await bus.close()
        await self.servers.close_all()
