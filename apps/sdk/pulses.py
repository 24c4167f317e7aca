"""Pulse counters and edge listeners on a DI, as an app reads them (pydoover's names).

Edges come from the platform bridge's input watch stream (which resumes by itself after a
bridge restart); a :class:`PulseCounter` also keeps an edge counter on the bridge, which
sees every IO cycle even while the stream is reconnecting, and its awaitable reads
(``read_async``, ``get_counter_async``) bring the cached count in line with it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from apps.sdk.errors import NotFoundError
from apps.sdk.handles import BridgeHandle
from apps.sdk.runtime import callback_loop, dispatch, maybe_async, sdk_loop
from revlink.error_reasons import UNKNOWN_COUNTER
from revlink.platform.v1 import platform_pb2 as pb

if TYPE_CHECKING:
    from apps.sdk.platform import PlatformInterface
    from apps.sdk.platform_types import Event

__all__ = ["EDGES", "EdgeWatch", "PulseCallback", "PulseCounter", "PulseReading"]

log = structlog.get_logger(__name__)

# callback(di, di_value, dt_secs, count, edge): edge is "rising" or "falling".
PulseCallback = Callable[[int, bool, float, int, str], Any]
EDGES = {"rising": pb.EDGE_RISING, "falling": pb.EDGE_FALLING, "both": pb.EDGE_BOTH}
MAX_TIMESTAMPS = 10_000  # pulse times kept for the rate window
SYNC_AFTER = 256  # stream pulses after which the count is checked against the bridge


def check_edge(edge: str) -> str:
    if edge not in EDGES:
        raise ValueError(f"edge must be one of {sorted(EDGES)}, not {edge!r}")
    return edge


def _report(future: Future[Any], what: str, di: int) -> None:
    def done(f: Future[Any]) -> None:
        if not f.cancelled() and f.exception() is not None:
            log.error(what, di=di, error=str(f.exception()))

    future.add_done_callback(done)


@dataclass(frozen=True, slots=True)
class PulseReading:
    count: int
    pulses_per_minute: float


class EdgeWatch:
    """The edges of one DI from the bridge's input watch stream.

    ``on_edge(value, time_ns, edge)`` runs on the SDK loop for every edge that matches
    ``edge``. A reconnect's snapshot that differs from the last value seen counts as one edge
    (the input changed while the stream was down).
    """

    def __init__(
        self,
        platform: PlatformInterface,
        di: int,
        edge: str,
        on_edge: Callable[[bool, int, str], None],
    ) -> None:
        self.platform = platform
        self.di = di
        self.edge = check_edge(edge)
        self._on_edge = on_edge
        self._last: bool | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()  # only used on the SDK loop
        self._stopped = False

    @property
    def running(self) -> bool:
        """True once the stream delivered its first snapshot."""
        return self._ready.is_set() and not self._stopped

    def _handle(self, reply: pb.WatchInputsResponse) -> None:
        for change in reply.changes:
            value = bool(change.new_value.bool_value)
            last, self._last = self._last, value
            if last is None or last == value:
                continue
            edge = "rising" if value else "falling"
            if self.edge in ("both", edge):
                self._on_edge(value, change.time.ToNanoseconds(), edge)
        self._ready.set()

    async def start_async(self) -> None:
        """Open the stream (on the SDK loop); returns once its snapshot arrived or after the
        interface's timeout (a bridge that is down does not block; the stream keeps trying)."""
        await sdk_loop.run_async(self._start_here())

    async def _start_here(self) -> None:
        if self._task is not None or self._stopped:
            return
        ios = await self.platform.list_io_async()
        names = [io.name for io in ios if io.kind == "DI" and io.pin == self.di]
        if not names:
            raise ValueError(f"no DI pin {self.di} on the platform bridge")
        request = pb.WatchInputsRequest(names=names, send_initial=True)
        # _follow waits on the SDK loop, so it is called from a worker thread.
        self._task = await asyncio.to_thread(
            self.platform._follow, "WatchInputs", lambda: request, self._handle
        )
        if not self._wanted():  # stop() ran while the stream was being opened
            self.stop()
        try:
            await asyncio.wait_for(self._ready.wait(), self.platform.timeout)
        except TimeoutError:
            log.warning("sdk.pulse_watch_waiting", di=self.di)

    def start(self) -> None:
        """Start in the background on the SDK loop (returns at once, also in async code)."""
        _report(sdk_loop.submit(self.start_async()), "sdk.pulse_watch_failed", self.di)

    def _wanted(self) -> bool:
        return not self._stopped

    def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self.platform._unfollow(self._task)


class PulseCounter:
    """Pulses on one DI (pydoover's PulseCounter): count, rate, callback on each pulse.

    ``get_counter()``, ``get_pulses_per_minute()`` and ``get_pulses_in_window()`` answer at
    once from what the input stream delivered, as pydoover's do. A bridge that restarted has
    forgotten its counter; it is started again on the same DI and the count carries on.
    """

    def __init__(
        self,
        plt_iface: PlatformInterface,
        pin: int,
        edge: str = "rising",
        callback: PulseCallback | None = None,
        rate_window_secs: float = 60,
        auto_start: bool = True,
    ) -> None:
        """pydoover's arguments and defaults (``get_new_pulse_counter`` uses a 20 s window)."""
        self.platform = self.platform_iface = plt_iface
        self.pin = pin
        self.edge = check_edge(edge)
        self.callback = callback
        self.set_rate_window(rate_window_secs)
        self._timestamps: deque[float] = deque(maxlen=MAX_TIMESTAMPS)
        self._loop = callback_loop(callback) if callback is not None else None
        self._counter = BridgeHandle(UNKNOWN_COUNTER, self._restart)
        self._watch = EdgeWatch(plt_iface, pin, edge, self._pulse)
        self._carried = 0  # the count of counters the bridge lost
        self._last_count = 0  # the bridge counter's count at the last read
        self._offset = 0  # set_counter's adjustment, and pulses from events
        self._base_ns = 0  # the bridge counter's last pulse at the last read
        self._since_base: deque[int] = deque()  # stream pulses the bridge had not counted
        self._syncing = False
        self._sync_task: asyncio.Future[None] | None = None
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._last_pulse: float | None = None
        self._events_from = 0
        self._events_run = ""
        if auto_start:
            self.start()

    # -- counting ------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._carried + self._last_count + self._offset + len(self._since_base)

    @count.setter
    def count(self, counter: int) -> None:  # pydoover apps assign it
        self.set_counter(counter)

    @property
    def pulse_timestamps(self) -> list[float]:
        """Times (Unix seconds) of the pulses seen, oldest first (the last 10,000)."""
        return list(self._timestamps)

    def _pulse(self, value: bool, time_ns: int, edge: str) -> None:
        if self._counter.value:
            self._since_base.append(time_ns)
            if len(self._since_base) >= SYNC_AFTER and not self._syncing:
                self._syncing = True
                self._sync_task = asyncio.ensure_future(self._sync())
        else:
            self._offset += 1
        self._note(value, time_ns / 1e9, edge)

    def _note(self, value: bool, at: float, edge: str) -> None:
        dt = at - self._last_pulse if self._last_pulse is not None else 0.0
        self._last_pulse = at
        self._timestamps.append(at)
        if self.callback is not None:
            dispatch(self.callback, self._loop, self.pin, value, dt, self.count, edge)

    async def _sync(self) -> None:
        try:
            await self._read()
        except Exception as exc:  # the next read tries again
            log.warning("sdk.pulse_sync_failed", di=self.pin, error=str(exc))
        finally:
            self._syncing = False

    # -- the bridge counter --------------------------------------------------------------

    def _request(self) -> pb.StartPulseCounterRequest:
        window = pb.StartPulseCounterRequest().rate_window
        window.FromNanoseconds(int(self.rate_window_secs * 1e9))
        return pb.StartPulseCounterRequest(
            di_pin=self.pin, edge=EDGES[self.edge], rate_window=window
        )

    async def _restart(self, lost: str) -> str:
        log.warning("sdk.pulse_counter_lost", counter=lost, di=self.pin)
        reply = await self.platform._call("StartPulseCounter", self._request())
        self._carried += self._last_count
        self._last_count = 0
        return str(reply.counter_id)

    async def _read(self) -> PulseReading:
        if not self._started:
            await self.start_async()
        if not self._counter.value:  # stopped, or never counting on the bridge
            return PulseReading(self.count, self.get_pulses_per_minute())
        reply = await self._counter.call(self._count)
        self._last_count = int(reply.count)
        if reply.HasField("last_pulse_time"):
            self._base_ns = max(self._base_ns, reply.last_pulse_time.ToNanoseconds())
        self._since_base = deque(t for t in self._since_base if t > self._base_ns)
        return PulseReading(self.count, self.get_pulses_per_minute())

    async def _count(self, counter: str) -> pb.GetPulseCountResponse:
        request = pb.GetPulseCountRequest(counter_id=counter)
        reply: pb.GetPulseCountResponse = await self.platform._call("GetPulseCount", request)
        return reply

    @property
    def counter_id(self) -> str:
        return self._counter.value

    # -- starting and stopping -----------------------------------------------------------

    async def start_async(self) -> None:
        """Start counting on the bridge and open the input stream; idempotent."""
        await sdk_loop.run_async(self._start_here())

    async def _start_here(self) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            reply = await self.platform._call("StartPulseCounter", self._request())
            self._counter.value = str(reply.counter_id)
            self._started = True
        await self._watch._start_here()

    def start(self) -> None:
        """pydoover's start: begin in the background on the SDK loop (returns at once)."""
        _report(sdk_loop.submit(self.start_async()), "sdk.pulse_counter_start_failed", self.pin)

    start_listener_pulses = start
    start_listener = start  # pydoover's older name

    @property
    def receiving_pulses(self) -> bool:
        """True once the bridge counts and the input stream delivers."""
        return self._started and self._watch.running

    async def stop_async(self) -> int:
        """Stop counting on the bridge and close the stream; returns the final count."""
        self._watch.stop()
        counter, self._counter.value = self.counter_id, ""
        if counter:
            try:
                request = pb.StopPulseCounterRequest(counter_id=counter)
                reply = await self.platform._call("StopPulseCounter", request)
                self._last_count = int(reply.count)
                self._since_base.clear()
            except NotFoundError as exc:  # a restarted bridge holds nothing to stop
                if exc.reason != UNKNOWN_COUNTER:
                    raise
        self._offset += len(self._since_base)
        self._since_base.clear()
        return self.count

    # -- events (get_new_event_counter) ----------------------------------------------------

    def receive_events(self, events: Iterable[Event]) -> None:
        """Count logged DI edges (pydoover's name); older than the last one counted are
        skipped, system events go to :meth:`handle_system_event`."""
        for event in events:
            if event.event not in ("DI_R", "DI_F"):
                self.handle_system_event(event)
                continue
            at = event.time / 1000
            if self._last_pulse is not None and at <= self._last_pulse:
                continue
            self._offset += 1
            self._note(event.event == "DI_R", at, "rising" if event.event == "DI_R" else "falling")

    def handle_system_event(self, event: Event) -> None:
        """Called for each system event (a bridge start); override to act on them."""

    async def update_events_async(self) -> None:
        """Count the DI's edges the bridge logged since the last update."""
        page = await self.platform._events_page([self.pin], self.edge, True, self._events_from)
        if page.run_id != self._events_run:  # a new bridge run: its ids start again
            self._events_run = page.run_id
            if self._events_from:
                page = await self.platform._events_page([self.pin], self.edge, True, 0)
        self.receive_events(page.events)
        self._events_from = page.last_event_id + 1

    def update_events(self) -> None:
        """Twin of :meth:`update_events_async`: blocks in plain code; in async code it runs
        in the background."""
        if _in_loop():
            _report(sdk_loop.submit(self.update_events_async()), "sdk.events_failed", self.pin)
        else:
            sdk_loop.run(self.update_events_async())

    def add_existing_events(self, time_stamps: Iterable[float]) -> None:
        for at in time_stamps:
            self._timestamps.append(at)
            self._offset += 1

    # -- pydoover's plain reads ----------------------------------------------------------

    def get_pulses_in_window(self) -> list[float]:
        """Times (Unix seconds) of the pulses within the rate window up to now."""
        since = time.time() - self.rate_window_secs
        return [t for t in self._timestamps if t > since]

    def set_rate_window(self, rate_window_secs: float) -> None:
        if isinstance(rate_window_secs, bool) or not rate_window_secs > 0:
            raise ValueError(
                f"a rate window is a positive number of seconds, not {rate_window_secs!r}"
            )
        self.rate_window_secs = float(rate_window_secs)

    def get_rate_window(self) -> float:
        return self.rate_window_secs

    def get_pulses_per_minute(self) -> float:
        return len(self.get_pulses_in_window()) * 60 / self.rate_window_secs

    def get_counter(self) -> int:
        return self.count

    def set_counter(self, counter: int) -> None:
        """Make the count ``counter`` now; pulses from here on add to it (pydoover's name)."""
        if isinstance(counter, bool) or not isinstance(counter, int) or counter < 0:
            raise ValueError(f"a pulse count is an int >= 0, not {counter!r}")
        self._offset += counter - self.count

    # -- revlink's awaitable reads (checked against the bridge) -------------------------------

    async def read_async(self) -> PulseReading:
        """Count and rate in one call (what a meter wants each loop)."""
        return await sdk_loop.run_async(self._read())

    async def get_counter_async(self) -> int:
        return (await self.read_async()).count

    async def get_pulses_per_minute_async(self) -> float:
        return (await self.read_async()).pulses_per_minute

    async def set_counter_async(self, counter: int) -> None:
        await self.read_async()
        self.set_counter(counter)

    read = maybe_async(read_async)
    stop = maybe_async(stop_async)


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
