"""gRPC face of the platform core: translates messages (:mod:`bridges.platform.messages`) and
maps errors to status codes."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc

from bridges.platform.core import PlatformCore
from bridges.platform.errors import (
    CommandFailedError,
    InvalidValueError,
    NotSupportedError,
    NotWritableError,
    OutputOwnedError,
    PlatformError,
    PowerControlDisabledError,
    ShutdownImmunityError,
    UnknownCounterError,
    UnknownIOError,
    UnknownLeaseError,
)
from bridges.platform.feed import SubscriberTooSlowError
from bridges.platform.iotable import IOKind
from bridges.platform.messages import (
    change_message,
    descriptor,
    duration,
    event_message,
    from_pb_value,
    pair,
    seconds,
    timestamp,
    to_pb_value,
)
from bridges.platform.power import PowerControl, PowerSettings
from bridges.platform.pulses import Edge
from revlink.error_reasons import REASON_KEY
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc

__all__ = ["SERVICE_NAME", "PlatformServicer"]

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["PlatformService"].full_name

_STATUS: dict[type[PlatformError], grpc.StatusCode] = {
    UnknownIOError: grpc.StatusCode.NOT_FOUND,
    UnknownLeaseError: grpc.StatusCode.NOT_FOUND,
    UnknownCounterError: grpc.StatusCode.NOT_FOUND,
    NotWritableError: grpc.StatusCode.FAILED_PRECONDITION,
    OutputOwnedError: grpc.StatusCode.FAILED_PRECONDITION,
    InvalidValueError: grpc.StatusCode.INVALID_ARGUMENT,
    PowerControlDisabledError: grpc.StatusCode.FAILED_PRECONDITION,
    ShutdownImmunityError: grpc.StatusCode.FAILED_PRECONDITION,
    NotSupportedError: grpc.StatusCode.FAILED_PRECONDITION,
    CommandFailedError: grpc.StatusCode.INTERNAL,
}
_EDGES = {pb.EDGE_UNSPECIFIED: Edge.RISING, pb.EDGE_RISING: Edge.RISING}
_EDGES |= {pb.EDGE_FALLING: Edge.FALLING, pb.EDGE_BOTH: Edge.BOTH}
_EVENT_EDGES = _EDGES | {pb.EDGE_UNSPECIFIED: Edge.BOTH}
DEFAULT_RATE_WINDOW_S = 20.0

Context = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def _status_for(exc: PlatformError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return grpc.StatusCode.INTERNAL


async def _abort(context: Context, exc: PlatformError) -> None:
    """End the call with the error's status, message and machine-readable reason."""
    reason = ((REASON_KEY, exc.reason),) if exc.reason else ()
    await context.abort(_status_for(exc), str(exc), trailing_metadata=reason)


def unary(
    method: Callable[[Any, Req], Resp],
) -> Callable[[Any, Req, Context], Awaitable[Resp]]:
    """Run a synchronous handler body, turning core errors into gRPC status codes."""

    @functools.wraps(method)
    async def handler(self: Any, request: Req, context: Context) -> Resp:
        try:
            return method(self, request)
        except PlatformError as exc:
            await _abort(context, exc)
            raise  # unreachable: abort raises

    return handler


def unary_async(
    method: Callable[[Any, Req], Awaitable[Resp]],
) -> Callable[[Any, Req, Context], Awaitable[Resp]]:
    """Like :func:`unary`, for handler bodies that await (system commands)."""

    @functools.wraps(method)
    async def handler(self: Any, request: Req, context: Context) -> Resp:
        try:
            return await method(self, request)
        except PlatformError as exc:
            await _abort(context, exc)
            raise  # unreachable: abort raises

    return handler


class PlatformServicer(pb_grpc.PlatformServiceServicer):
    def __init__(self, core: PlatformCore, power: PowerControl | None = None) -> None:
        self.core = core
        self.power = power if power is not None else PowerControl(PowerSettings())

    def _bools(self, kind: IOKind, pins: Sequence[int]) -> list[bool]:
        return [bool(v) for v in self.core.read(self.core.pins(kind, pins))]

    def _ints(self, kind: IOKind, pins: Sequence[int]) -> list[int]:
        return [int(v) for v in self.core.read(self.core.pins(kind, pins))]

    @unary
    def GetDI(self, request: pb.GetDIRequest) -> pb.GetDIResponse:
        return pb.GetDIResponse(values=self._bools(IOKind.DI, request.pins))

    @unary
    def GetDO(self, request: pb.GetDORequest) -> pb.GetDOResponse:
        return pb.GetDOResponse(values=self._bools(IOKind.DO, request.pins))

    @unary
    def GetAI(self, request: pb.GetAIRequest) -> pb.GetAIResponse:
        return pb.GetAIResponse(values=self._ints(IOKind.AI, request.pins))

    @unary
    def GetAO(self, request: pb.GetAORequest) -> pb.GetAOResponse:
        return pb.GetAOResponse(values=self._ints(IOKind.AO, request.pins))

    @unary
    def SetDO(self, request: pb.SetDORequest) -> pb.SetDOResponse:
        specs = self.core.pins(IOKind.DO, request.pins)
        self.core.write(pair(specs, request.values), request.lease_id)
        return pb.SetDOResponse()

    @unary
    def SetAO(self, request: pb.SetAORequest) -> pb.SetAOResponse:
        specs = self.core.pins(IOKind.AO, request.pins)
        self.core.write(pair(specs, request.values), request.lease_id)
        return pb.SetAOResponse()

    @unary
    def GetIO(self, request: pb.GetIORequest) -> pb.GetIOResponse:
        values = self.core.read(self.core.names(request.names))
        return pb.GetIOResponse(values=[to_pb_value(v) for v in values])

    @unary
    def SetIO(self, request: pb.SetIORequest) -> pb.SetIOResponse:
        if not request.values:
            raise InvalidValueError("no values given")
        assignments = [
            (self.core.table.by_name(item.name), from_pb_value(item.name, item.value))
            for item in request.values
        ]
        self.core.write(assignments, request.lease_id)
        return pb.SetIOResponse()

    @unary
    def ListIO(self, request: pb.ListIORequest) -> pb.ListIOResponse:
        ios = []
        for spec in self.core.table:
            owner = self.core.owner(spec)
            expiry = self.core.lease_expiry_unix(owner) if owner else 0.0
            ios.append(descriptor(spec, owner, expiry))
        return pb.ListIOResponse(ios=ios)

    @unary
    def GetSystemStatus(self, request: pb.GetSystemStatusRequest) -> pb.GetSystemStatusResponse:
        status = self.core.system_status()
        return pb.GetSystemStatusResponse(
            core_temperature_celsius=status.core_temperature_celsius,
            cpu_frequency_mhz=status.cpu_frequency_mhz,
            picontrol_running=status.picontrol_running,
            io_cycle_ms=status.io_cycle_ms,
            rs485_error_count=status.rs485_error_count,
            bridge_cycle_ms=status.bridge_cycle_ms,
            simulated=status.simulated,
            supply_voltage_volts=status.supply_voltage_volts,
            power_watts=status.power_watts,
        )

    async def WatchInputs(
        self, request: pb.WatchInputsRequest, context: Context
    ) -> AsyncIterator[pb.WatchInputsResponse]:
        try:
            subscription = self.core.watch(list(request.names), request.send_initial)
            async for changes in subscription:
                yield pb.WatchInputsResponse(changes=[change_message(c) for c in changes])
        except SubscriberTooSlowError as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except PlatformError as exc:
            await _abort(context, exc)

    @unary
    def ScheduleDO(self, request: pb.ScheduleDORequest) -> pb.ScheduleDOResponse:
        specs = self.core.pins(IOKind.DO, request.pins)
        due = self.core.schedule(
            pair(specs, request.values), seconds(request.delay), request.lease_id
        )
        return pb.ScheduleDOResponse(due_time=timestamp(due))

    @unary
    def ScheduleAO(self, request: pb.ScheduleAORequest) -> pb.ScheduleAOResponse:
        specs = self.core.pins(IOKind.AO, request.pins)
        due = self.core.schedule(
            pair(specs, request.values), seconds(request.delay), request.lease_id
        )
        return pb.ScheduleAOResponse(due_time=timestamp(due))

    @unary
    def GetCounters(self, request: pb.GetCountersRequest) -> pb.GetCountersResponse:
        return pb.GetCountersResponse(counts=self.core.read_counters(request.pins))

    @unary
    def ResetCounters(self, request: pb.ResetCountersRequest) -> pb.ResetCountersResponse:
        self.core.reset_counters(request.pins)
        return pb.ResetCountersResponse()

    @unary
    def StartPulseCounter(
        self, request: pb.StartPulseCounterRequest
    ) -> pb.StartPulseCounterResponse:
        window = seconds(request.rate_window) if request.HasField("rate_window") else 0.0
        counter = self.core.start_pulse_counter(
            request.di_pin, _EDGES[request.edge], window or DEFAULT_RATE_WINDOW_S
        )
        return pb.StartPulseCounterResponse(counter_id=counter.counter_id)

    @unary
    def GetPulseCount(self, request: pb.GetPulseCountRequest) -> pb.GetPulseCountResponse:
        counter = self.core.pulse_counter(request.counter_id)
        reply = pb.GetPulseCountResponse(
            count=counter.count, pulses_per_minute=self.core.pulses_per_minute(counter)
        )
        if counter.last_pulse_ns is not None:
            reply.last_pulse_time.FromNanoseconds(counter.last_pulse_ns)
        return reply

    @unary
    def StopPulseCounter(self, request: pb.StopPulseCounterRequest) -> pb.StopPulseCounterResponse:
        return pb.StopPulseCounterResponse(
            count=self.core.stop_pulse_counter(request.counter_id).count
        )

    @unary
    def GetEvents(self, request: pb.GetEventsRequest) -> pb.GetEventsResponse:
        page = self.core.events(
            request.events_from,
            list(request.di_pins),
            _EVENT_EDGES[request.edge],
            request.include_system_events,
            not request.exclude_di_events,
        )
        return pb.GetEventsResponse(
            events=[event_message(e) for e in page.events],
            events_synced=page.synced,
            run_id=page.run_id,
            last_event_id=page.last_event_id,
        )

    @unary
    def AcquireLease(self, request: pb.AcquireLeaseRequest) -> pb.AcquireLeaseResponse:
        lease = self.core.acquire_lease(request.holder, seconds(request.ttl))
        return pb.AcquireLeaseResponse(
            lease_id=lease.lease_id, expire_time=timestamp(self.core.lease_expiry_unix(lease))
        )

    @unary
    def RenewLease(self, request: pb.RenewLeaseRequest) -> pb.RenewLeaseResponse:
        ttl = seconds(request.ttl) if request.HasField("ttl") else None
        lease = self.core.renew_lease(request.lease_id, ttl)
        return pb.RenewLeaseResponse(expire_time=timestamp(self.core.lease_expiry_unix(lease)))

    @unary
    def ReleaseLease(self, request: pb.ReleaseLeaseRequest) -> pb.ReleaseLeaseResponse:
        self.core.release_lease(request.lease_id, request.restore_safe_values)
        return pb.ReleaseLeaseResponse()

    @unary
    def TakeOverOutputs(self, request: pb.TakeOverOutputsRequest) -> pb.TakeOverOutputsResponse:
        if not request.lease_id:
            raise InvalidValueError("a takeover needs the caller's lease (AcquireLease first)")
        specs = [self.core.table.by_name(name) for name in request.names]
        specs += [self.core.table.by_pin(IOKind.DO, pin) for pin in request.do_pins]
        specs += [self.core.table.by_pin(IOKind.AO, pin) for pin in request.ao_pins]
        unique = list({spec.name: spec for spec in specs}.values())
        taken = self.core.take_over(request.lease_id, unique, request.reason)
        return pb.TakeOverOutputsResponse(
            outputs=[
                pb.TakenOutput(name=spec.name, previous_owner=lease.holder if lease else "")
                for spec, lease in taken
            ]
        )

    # -- the device as a whole -------------------------------------------------------------

    @unary
    def TestComms(self, request: pb.TestCommsRequest) -> pb.TestCommsResponse:
        return pb.TestCommsResponse(message=request.message)

    @unary
    def GetLocation(self, request: pb.GetLocationRequest) -> pb.GetLocationResponse:
        return pb.GetLocationResponse()  # a RevPi has no position source: no location

    @unary_async
    async def SyncRtc(self, request: pb.SyncRtcRequest) -> pb.SyncRtcResponse:
        await self.power.sync_rtc()
        return pb.SyncRtcResponse()

    @unary
    def GetShutdownImmunity(
        self, request: pb.GetShutdownImmunityRequest
    ) -> pb.GetShutdownImmunityResponse:
        return pb.GetShutdownImmunityResponse(remaining=duration(self.power.immunity_remaining()))

    @unary
    def SetShutdownImmunity(
        self, request: pb.SetShutdownImmunityRequest
    ) -> pb.SetShutdownImmunityResponse:
        remaining = self.power.set_immunity(seconds(request.immunity))
        return pb.SetShutdownImmunityResponse(remaining=duration(remaining))

    @unary
    def ScheduleStartup(self, request: pb.ScheduleStartupRequest) -> pb.ScheduleStartupResponse:
        due = self.power.schedule_startup(seconds(request.delay))
        return pb.ScheduleStartupResponse(due_time=timestamp(due))

    @unary
    def ScheduleShutdown(self, request: pb.ScheduleShutdownRequest) -> pb.ScheduleShutdownResponse:
        due = self.power.schedule_shutdown(seconds(request.delay))
        return pb.ScheduleShutdownResponse(due_time=timestamp(due))

    @unary_async
    async def Reboot(self, request: pb.RebootRequest) -> pb.RebootResponse:
        await self.power.reboot()
        return pb.RebootResponse()

    @unary_async
    async def Shutdown(self, request: pb.ShutdownRequest) -> pb.ShutdownResponse:
        await self.power.shutdown()
        return pb.ShutdownResponse()
