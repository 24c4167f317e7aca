"""The platform bridge from an app: pydoover's names, one pin → a scalar, several → a list.

Every method has an ``_async`` twin; the plain name is awaitable in async code and blocks
elsewhere. Pins and values take pydoover's shapes (see :mod:`apps.sdk.platform_shapes`).
Analog values are integers in the IO's unit (``IOInfo.unit``: mV, uA, 0.1 degC); floats
written to them are rounded. Outputs written while the app holds a watchdog lease (see
:class:`~apps.sdk.app.Application`) return to their safe values if the app stops renewing it.
They belong to the app until then: another app's write to one raises
:class:`~apps.sdk.errors.FailedPreconditionError` with ``reason == "OUTPUT_OWNED"`` and a
message naming the owner (``IOInfo.owner`` in :meth:`list_io` shows it too), and only
:meth:`take_over_outputs` moves it. A failed call raises a typed error
(:mod:`apps.sdk.errors`), where pydoover 0.x returned None.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from apps.sdk.errors import NotFoundError
from apps.sdk.handles import BridgeHandle
from apps.sdk.platform_counters import PulseFactories
from apps.sdk.platform_shapes import analog_values, digital_values, flat_pins, per_pin
from apps.sdk.platform_system import Location, PlatformSystemCalls
from apps.sdk.platform_types import (
    Event,
    EventPage,
    IOInfo,
    SystemStatus,
    Value,
    duration,
    io_info,
    one_or_many,
    plain,
    typed,
)
from apps.sdk.pulses import check_edge
from apps.sdk.runtime import callback_loop, dispatch, maybe_async
from revlink.error_reasons import UNKNOWN_LEASE
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc

__all__ = ["Event", "IOInfo", "Location", "PlatformInterface", "SystemStatus"]

log = structlog.get_logger(__name__)

InputCallback = Callable[[str, Value], Any]
_EDGES = {"rising": pb.EDGE_RISING, "falling": pb.EDGE_FALLING, "both": pb.EDGE_BOTH}


class PlatformInterface(PlatformSystemCalls, PulseFactories):
    name = "platform"
    stub_class = pb_grpc.PlatformServiceStub
    # Reads and absolute writes; not schedules, counter resets or lease changes.
    idempotent_methods = frozenset(
        {
            "GetDI",
            "GetDO",
            "GetAI",
            "GetAO",
            "GetIO",
            "ListIO",
            "GetSystemStatus",
            "GetCounters",
            "GetPulseCount",
            "SetDO",
            "SetAO",
            "SetIO",
            "RenewLease",
            "TakeOverOutputs",
            "TestComms",
            "GetLocation",
            "GetShutdownImmunity",
            "SetShutdownImmunity",
        }
    )

    default_uri = "localhost:50053"

    def __init__(
        self,
        app_key: str = "",
        plt_uri: str = default_uri,
        is_async: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(plt_uri, app_key=app_key, is_async=is_async, **kwargs)
        self._lease = BridgeHandle(UNKNOWN_LEASE, self._take_new_lease)
        self._lease_ttl = 0.0

    @property
    def lease_id(self) -> str:
        """The watchdog lease the app's writes carry; empty when it holds none."""
        return self._lease.value

    @lease_id.setter
    def lease_id(self, value: str) -> None:
        self._lease.value = value

    @property
    def lease_ttl(self) -> float:
        """The time to live of the lease this interface acquired (0 when none)."""
        return self._lease_ttl

    # -- reading ---------------------------------------------------------------------------

    async def get_di_async(self, *pins: int | Sequence[Any]) -> bool | list[bool]:
        return one_or_many(
            (await self._call("GetDI", pb.GetDIRequest(pins=flat_pins(pins)))).values
        )

    async def get_do_async(self, *pins: int | Sequence[Any]) -> bool | list[bool]:
        return one_or_many(
            (await self._call("GetDO", pb.GetDORequest(pins=flat_pins(pins)))).values
        )

    async def get_ai_async(self, *pins: int | Sequence[Any]) -> float | list[float]:
        """Analog inputs as floats (pydoover's type), in the IO's unit, exact."""
        reply = await self._call("GetAI", pb.GetAIRequest(pins=flat_pins(pins)))
        return one_or_many([float(v) for v in reply.values])

    async def get_ao_async(self, *pins: int | Sequence[Any]) -> float | list[float]:
        """Analog outputs as floats (pydoover's type), in the IO's unit, exact."""
        reply = await self._call("GetAO", pb.GetAORequest(pins=flat_pins(pins)))
        return one_or_many([float(v) for v in reply.values])

    async def get_io_async(self, *names: str) -> Value | list[Value]:
        reply = await self._call("GetIO", pb.GetIORequest(names=names))
        values: list[Value] = [plain(v) for v in reply.values]
        return one_or_many(values)

    async def list_io_async(self) -> list[IOInfo]:
        """The IO table, with each output's owner (``IOInfo.owner``)."""
        reply = await self._call("ListIO", pb.ListIORequest())
        return [io_info(io) for io in reply.ios]

    async def get_io_table_async(self) -> dict[str, list[int]]:
        """pydoover's IO table: the pins of each kind, ``{"DI": [0, 1, ...], "DO": ..., "AI":
        ..., "AO": ...}``. :meth:`list_io` has the detail (names, ranges, units)."""
        table: dict[str, list[int]] = {"DI": [], "DO": [], "AI": [], "AO": []}
        for io in await self.list_io_async():
            if io.kind in table:
                table[io.kind].append(io.pin)
        return table

    async def get_system_status_async(self) -> SystemStatus:
        s = await self._call("GetSystemStatus", pb.GetSystemStatusRequest())
        return SystemStatus(
            s.core_temperature_celsius,
            s.cpu_frequency_mhz,
            s.picontrol_running,
            s.io_cycle_ms,
            s.simulated,
        )

    async def get_system_temperature_async(self) -> float:
        return float((await self.get_system_status_async()).core_temperature_celsius)

    # -- writing ---------------------------------------------------------------------------

    # Writes answer what they wrote, one value per pin (a scalar for one pin), as
    # pydoover's echo does: ``if not self.set_do(0, True)`` keeps its 0.x meaning.

    async def set_do_async(
        self, do: int | Sequence[Any], value: bool | Sequence[Any]
    ) -> bool | list[bool]:
        pins, values = flat_pins(do), digital_values(value)
        await self._leased(
            "SetDO", lambda lease: pb.SetDORequest(pins=pins, values=values, lease_id=lease)
        )
        return one_or_many(per_pin(pins, values))

    async def set_ao_async(
        self, ao: int | Sequence[Any], value: float | Sequence[Any]
    ) -> float | list[float]:
        """Write analog outputs; answers the values written (rounded to the IO's integers)."""
        pins, values = flat_pins(ao), analog_values(value)
        await self._leased(
            "SetAO", lambda lease: pb.SetAORequest(pins=pins, values=values, lease_id=lease)
        )
        return one_or_many([float(v) for v in per_pin(pins, values)])

    async def set_io_async(self, values: Mapping[str, Value]) -> None:
        items = [pb.NamedValue(name=k, value=typed(v)) for k, v in values.items()]
        await self._leased("SetIO", lambda lease: pb.SetIORequest(values=items, lease_id=lease))

    async def schedule_do_async(
        self, do: int | Sequence[Any], value: bool | Sequence[Any], in_secs: float
    ) -> bool | list[bool]:
        pins, values, delay = flat_pins(do), digital_values(value), duration(in_secs)
        await self._leased(
            "ScheduleDO",
            lambda lease: pb.ScheduleDORequest(
                pins=pins, values=values, delay=delay, lease_id=lease
            ),
        )
        return one_or_many(per_pin(pins, values))

    async def schedule_ao_async(
        self, ao: int | Sequence[Any], value: float | Sequence[Any], in_secs: float
    ) -> float | list[float]:
        pins, values, delay = flat_pins(ao), analog_values(value), duration(in_secs)
        await self._leased(
            "ScheduleAO",
            lambda lease: pb.ScheduleAORequest(
                pins=pins, values=values, delay=delay, lease_id=lease
            ),
        )
        return one_or_many([float(v) for v in per_pin(pins, values)])

    async def _leased(self, method: str, make_request: Callable[[str], Any]) -> Any:
        """A call under the app's lease; a lease the bridge no longer knows is taken afresh.

        That happens when the bridge restarted (it kept no leases) or when the app stalled
        past the lease's time to live (the bridge already put its outputs to their safe
        values). Either way the app goes on: a new lease, then the same call once more.
        """
        return await self._lease.call(lambda lease: self._call(method, make_request(lease)))

    async def _take_new_lease(self, lost: str) -> str | None:
        if not self._lease_ttl:  # not a lease this interface acquired: nothing to renew
            return None
        log.warning("sdk.lease_lost", bridge=self.name, lease=lost)
        return await self.acquire_lease_async(self._lease_ttl)

    # -- counters --------------------------------------------------------------------------

    async def get_counters_async(self, *pins: int | Sequence[Any]) -> int | list[int]:
        reply = await self._call("GetCounters", pb.GetCountersRequest(pins=flat_pins(pins)))
        counts: list[int] = list(reply.counts)
        return one_or_many(counts)

    async def reset_counters_async(self, *pins: int | Sequence[Any]) -> None:
        await self._call("ResetCounters", pb.ResetCountersRequest(pins=flat_pins(pins)))

    # -- events ----------------------------------------------------------------------------

    async def _events_page(
        self,
        pins: Sequence[int],
        edge: str,
        include_system_events: bool,
        events_from: int,
        include_di: bool = True,
    ) -> EventPage:
        request = pb.GetEventsRequest(
            events_from=events_from,
            di_pins=list(pins),
            edge=_EDGES[check_edge(edge)],
            include_system_events=include_system_events,
            exclude_di_events=not include_di,
        )
        reply = await self._call("GetEvents", request)
        events = [
            Event(e.event_id, e.event, e.pin, e.time.ToMilliseconds(), e.value, e.name)
            for e in reply.events
        ]
        return EventPage(events, reply.events_synced, reply.run_id, reply.last_event_id)

    async def get_events_async(self, events_from: int = 0) -> list[Event]:
        """Every logged event (DI edges and system events) from ``events_from`` on: an event
        id, or a Unix time in ms (>= 10^12); 0 gives all the bridge still holds."""
        return (await self._events_page([], "both", True, events_from)).events

    async def get_di_events_async(
        self,
        di_pin: int,
        edge: str,
        include_system_events: bool = False,
        events_from: int = 0,
    ) -> tuple[bool, list[Event]]:
        """pydoover's ``(synced, events)`` for one DI; ``synced`` is false when the bridge's
        bounded log has already dropped some events from ``events_from`` on."""
        page = await self._events_page([di_pin], edge, include_system_events, events_from)
        return page.synced, page.events

    # -- leases (used by Application) ------------------------------------------------------

    async def acquire_lease_async(self, ttl_secs: float) -> str:
        request = pb.AcquireLeaseRequest(holder=self.app_key or "app", ttl=duration(ttl_secs))
        self.lease_id = (await self._call("AcquireLease", request)).lease_id
        self._lease_ttl = ttl_secs
        return self.lease_id

    async def renew_lease_async(self, ttl_secs: float | None = None) -> None:
        """Renew the lease (with ``ttl_secs``, resized to that from now on; its outputs stay
        its own); one the bridge lost (it restarted) is replaced by a new one."""
        if not self.lease_id:
            return
        ttl = None if ttl_secs is None else duration(ttl_secs)
        await self._leased(
            "RenewLease", lambda lease: pb.RenewLeaseRequest(lease_id=lease, ttl=ttl)
        )
        if ttl_secs is not None:
            self._lease_ttl = ttl_secs  # also the size of a lease taken afresh from now on

    async def take_over_outputs_async(
        self,
        names: Sequence[str] = (),
        *,
        do_pins: Sequence[int] = (),
        ao_pins: Sequence[int] = (),
        reason: str = "",
    ) -> dict[str, str]:
        """Move outputs (by name, DO pin or AO pin) to this interface's lease, whoever owns
        them: an operator's override, logged by the bridge with ``reason``. Answers each
        output's previous owner ("" when nobody owned it). Needs a lease (acquire one)."""
        reply = await self._leased(
            "TakeOverOutputs",
            lambda lease: pb.TakeOverOutputsRequest(
                lease_id=lease,
                names=list(names),
                do_pins=list(do_pins),
                ao_pins=list(ao_pins),
                reason=reason,
            ),
        )
        return {taken.name: taken.previous_owner for taken in reply.outputs}

    async def release_lease_async(self, restore_safe_values: bool = True) -> None:
        lease, self.lease_id = self.lease_id, ""
        if lease:
            request = pb.ReleaseLeaseRequest(
                lease_id=lease, restore_safe_values=restore_safe_values
            )
            try:
                await self._call("ReleaseLease", request)
            except NotFoundError as exc:  # a restarted bridge holds nothing to release
                if exc.reason != UNKNOWN_LEASE:
                    raise

    # -- input callbacks -------------------------------------------------------------------

    def add_input_callback(
        self, callback: InputCallback, names: Sequence[str] | None = None
    ) -> None:
        """Call ``callback(name, value)`` on every change of the inputs (all when None).

        Changes after this returns are reported: the watch holds the bridge's snapshot first
        (a bridge that is down does not block the app; the watch keeps trying). It resumes by
        itself after the bridge restarts and then reports what changed meanwhile. An
        ``async def`` callback runs on the loop that registered it, a plain one in a thread.
        """
        loop = callback_loop(callback)
        last: dict[str, Value] = {}
        ready = threading.Event()

        def handle(reply: pb.WatchInputsResponse) -> None:
            for change in reply.changes:
                value = plain(change.new_value)
                snapshot = not change.HasField("old_value")
                # A snapshot after a reconnect reports what changed while we were away.
                if not snapshot or (change.name in last and last[change.name] != value):
                    dispatch(callback, loop, change.name, value)
                last[change.name] = value
            ready.set()

        request = pb.WatchInputsRequest(names=list(names or []), send_initial=True)
        self._follow("WatchInputs", lambda: request, handle)
        ready.wait(self.timeout)

    get_di = maybe_async(get_di_async)
    get_do = maybe_async(get_do_async)
    get_ai = maybe_async(get_ai_async)
    get_ao = maybe_async(get_ao_async)
    get_io = maybe_async(get_io_async)
    list_io = maybe_async(list_io_async)
    get_io_table = maybe_async(get_io_table_async)
    get_system_status = maybe_async(get_system_status_async)
    get_system_temperature = maybe_async(get_system_temperature_async)
    set_do = maybe_async(set_do_async)
    set_ao = maybe_async(set_ao_async)
    set_io = maybe_async(set_io_async)
    schedule_do = maybe_async(schedule_do_async)
    schedule_ao = maybe_async(schedule_ao_async)
    get_counters = maybe_async(get_counters_async)
    reset_counters = maybe_async(reset_counters_async)
    get_events = maybe_async(get_events_async)
    get_di_events = maybe_async(get_di_events_async)
    acquire_lease = maybe_async(acquire_lease_async)
    renew_lease = maybe_async(renew_lease_async)
    release_lease = maybe_async(release_lease_async)
    take_over_outputs = maybe_async(take_over_outputs_async)
