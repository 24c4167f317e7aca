"""gRPC face of the Modbus core: translates messages (:mod:`bridges.modbus.messages`) and maps
errors to status codes with their reason (and a slave exception's code) in trailing metadata."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from bridges.modbus.codec import decode
from bridges.modbus.core import ModbusCore
from bridges.modbus.errors import (
    BusSettingsConflictError,
    BusUnavailableError,
    InvalidRequestError,
    ModbusBridgeError,
    ModbusTimeoutError,
    ServerExistsError,
    ServerStartError,
    SlaveExceptionError,
    UnknownBusError,
    UnknownServerError,
)
from bridges.modbus.messages import (
    bus_config,
    optional_bus_config,
    poll_message,
    seconds,
    server_message,
    server_transport,
    status_message,
    timestamp,
    value_format,
)
from bridges.modbus.model import raw_values, read_spec, table_of, write_spec
from bridges.modbus.servers import DEFAULT_SIZE
from revlink.error_reasons import MODBUS_EXCEPTION_CODE_KEY, REASON_KEY
from revlink.modbus.v1 import modbus_pb2 as pb
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc

__all__ = ["SERVICE_NAME", "ModbusServicer", "status_for"]

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["ModbusService"].full_name

_STATUS: dict[type[ModbusBridgeError], grpc.StatusCode] = {
    InvalidRequestError: grpc.StatusCode.INVALID_ARGUMENT,
    UnknownBusError: grpc.StatusCode.NOT_FOUND,
    BusSettingsConflictError: grpc.StatusCode.FAILED_PRECONDITION,
    BusUnavailableError: grpc.StatusCode.UNAVAILABLE,
    ModbusTimeoutError: grpc.StatusCode.DEADLINE_EXCEEDED,
    UnknownServerError: grpc.StatusCode.NOT_FOUND,
    ServerExistsError: grpc.StatusCode.ALREADY_EXISTS,
    ServerStartError: grpc.StatusCode.FAILED_PRECONDITION,
}

Context = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def status_for(exc: ModbusBridgeError) -> grpc.StatusCode:
    if isinstance(exc, SlaveExceptionError):
        return grpc.StatusCode.UNAVAILABLE if exc.retryable else grpc.StatusCode.FAILED_PRECONDITION
    return _STATUS.get(type(exc), grpc.StatusCode.INTERNAL)


async def _abort(context: Context, exc: ModbusBridgeError) -> None:
    """End the call with the error's status, message and machine-readable reason."""
    metadata: list[tuple[str, str]] = [(REASON_KEY, exc.reason)] if exc.reason else []
    if isinstance(exc, SlaveExceptionError):
        metadata.append((MODBUS_EXCEPTION_CODE_KEY, str(exc.exception_code)))
    await context.abort(status_for(exc), str(exc), trailing_metadata=tuple(metadata))


def unary(
    method: Callable[[Any, Req], Awaitable[Resp]],
) -> Callable[[Any, Req, Context], Awaitable[Resp]]:
    """Run a handler body, turning core errors into gRPC status codes."""

    @functools.wraps(method)
    async def handler(self: Any, request: Req, context: Context) -> Resp:
        try:
            return await method(self, request)
        except ModbusBridgeError as exc:
            await _abort(context, exc)
            raise  # unreachable: abort raises

    return handler


def _settings(request: Any) -> Any:
    return optional_bus_config(request.HasField("bus_settings"), request.bus_settings)


def _write(request: Any) -> Any:
    return write_spec(
        request.slave_id,
        request.register_type,
        request.start_address,
        request.values,
        request.typed_values,
        value_format(request.HasField("format"), request.format),
        force_multiple=request.force_multiple_write,
    )


class ModbusServicer(pb_grpc.ModbusServiceServicer):
    def __init__(self, core: ModbusCore) -> None:
        self.core = core

    @unary
    async def OpenBus(self, request: pb.OpenBusRequest) -> pb.OpenBusResponse:
        status = await self.core.open_bus(request.bus_id, bus_config(request.settings))
        return pb.OpenBusResponse(status=status_message(status))

    @unary
    async def CloseBus(self, request: pb.CloseBusRequest) -> pb.CloseBusResponse:
        await self.core.close_bus(request.bus_id)
        return pb.CloseBusResponse()

    @unary
    async def ListBuses(self, request: pb.ListBusesRequest) -> pb.ListBusesResponse:
        return pb.ListBusesResponse(buses=[status_message(s) for s in self.core.buses()])

    @unary
    async def GetBusStatus(self, request: pb.GetBusStatusRequest) -> pb.GetBusStatusResponse:
        return pb.GetBusStatusResponse(status=status_message(self.core.bus_status(request.bus_id)))

    @unary
    async def ReadRegisters(self, request: pb.ReadRegistersRequest) -> pb.ReadRegistersResponse:
        spec = read_spec(
            request.slave_id,
            request.register_type,
            request.start_address,
            request.count,
            value_format(request.HasField("format"), request.format),
        )
        result = await self.core.read(request.bus_id, _settings(request), spec)
        return pb.ReadRegistersResponse(
            values=result.values, typed_values=result.typed, read_time=timestamp(result.time)
        )

    @unary
    async def WriteRegisters(self, request: pb.WriteRegistersRequest) -> pb.WriteRegistersResponse:
        spec = _write(request)
        when = await self.core.write(request.bus_id, _settings(request), spec)
        return pb.WriteRegistersResponse(count=len(spec.values), write_time=timestamp(when))

    @unary
    async def ScheduleWrite(self, request: pb.ScheduleWriteRequest) -> pb.ScheduleWriteResponse:
        schedule_id, due = self.core.schedule_write(
            request.bus_id, _settings(request), _write(request), seconds(request.delay)
        )
        return pb.ScheduleWriteResponse(schedule_id=schedule_id, due_time=timestamp(due))

    async def SubscribeRegisters(
        self, request: pb.SubscribeRegistersRequest, context: Context
    ) -> AsyncIterator[pb.SubscribeRegistersResponse]:
        try:
            spec = read_spec(
                request.slave_id,
                request.register_type,
                request.start_address,
                request.count,
                value_format(request.HasField("format"), request.format),
            )
            interval = seconds(request.poll_interval) if request.HasField("poll_interval") else 1.0
            polls = self.core.subscribe(
                request.bus_id, _settings(request), spec, interval, request.changes_only
            )
            async for item in polls:
                yield poll_message(item)
        except ModbusBridgeError as exc:
            await _abort(context, exc)

    @unary
    async def CreateServer(self, request: pb.CreateServerRequest) -> pb.CreateServerResponse:
        info = await self.core.servers.create(
            request.server_id,
            server_transport(request),
            list(request.slave_ids),
            request.size or DEFAULT_SIZE,
        )
        return pb.CreateServerResponse(status=server_message(info))

    @unary
    async def ListServers(self, request: pb.ListServersRequest) -> pb.ListServersResponse:
        return pb.ListServersResponse(
            servers=[server_message(i) for i in self.core.servers.infos()]
        )

    @unary
    async def CloseServer(self, request: pb.CloseServerRequest) -> pb.CloseServerResponse:
        await self.core.servers.close(request.server_id)
        return pb.CloseServerResponse()

    @unary
    async def SetServerRegisters(
        self, request: pb.SetServerRegistersRequest
    ) -> pb.SetServerRegistersResponse:
        fmt = value_format(request.HasField("format"), request.format)
        table = table_of(request.register_type)
        words = raw_values(table, request.values, request.typed_values, fmt)
        await self.core.servers.set(
            request.server_id, request.slave_id, table, request.start_address, words
        )
        return pb.SetServerRegistersResponse()

    @unary
    async def GetServerRegisters(
        self, request: pb.GetServerRegistersRequest
    ) -> pb.GetServerRegistersResponse:
        fmt = value_format(request.HasField("format"), request.format)
        spec = read_spec(
            0,
            request.register_type,
            request.start_address,
            request.count,
            fmt,
            max_count=DEFAULT_SIZE,
        )
        values = await self.core.servers.get(
            request.server_id, request.slave_id, spec.table, spec.address, spec.count
        )
        typed = decode(values, fmt) if fmt is not None else []
        return pb.GetServerRegistersResponse(values=values, typed_values=typed)
