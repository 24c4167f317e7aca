"""The Modbus bridge from an app: pydoover 0.x's ``ModbusInterface`` (``self.modbus_iface``).

The names, arguments, defaults and return shapes are pydoover's: ``register_type`` is the
Modbus function code (1 coils, 2 discrete inputs, 3 holding registers, 4 input registers),
one register reads back as an int and several as a list, and a subscription's callback gets
the values (``None`` after a failed poll). Unlike pydoover, a failed call raises a typed
error (:mod:`apps.sdk.errors`, the bridge's reason in ``.reason``) instead of answering
``None`` or ``False``. A request naming a bus the bridge does not know (it restarted, or the
bus was never opened) opens the app's configured buses again and is repeated once, which is
what pydoover's ``configure_bus=True`` asks for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import structlog

from apps.sdk.client import BridgeClient
from apps.sdk.config_modbus import (
    PARITY,
    BusDefinition,
    ManyModbusConfig,
    ModbusConfig,
    ModbusType,
)
from apps.sdk.errors import BridgeUnavailableError, NotFoundError
from apps.sdk.modbus_types import (
    BusState,
    bus_request,
    bus_state,
    registers_out,
    registers_per_value,
    table,
    value_format,
)
from apps.sdk.runtime import callback_loop, dispatch, maybe_async
from revlink.error_reasons import UNKNOWN_BUS
from revlink.modbus.v1 import modbus_pb2 as pb
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc

# pydoover apps import the config elements from beside the interface.
__all__ = [
    "ManyModbusConfig",
    "ModbusConfig",
    "ModbusInterface",
    "ModbusType",
    "RegisterSubscription",
]

log = structlog.get_logger(__name__)

RegisterCallback = Callable[[Any], Any]


class RegisterSubscription:
    """A running ``add_read_register_subscription``; ``cancel()`` ends it."""

    def __init__(self, interface: ModbusInterface, task: asyncio.Task[None]) -> None:
        self._interface = interface
        self._task = task

    def cancel(self) -> None:
        self._interface._unfollow(self._task)

    def done(self) -> bool:
        return self._task.done()


class ModbusInterface(BridgeClient):
    name = "modbus"
    stub_class = pb_grpc.ModbusServiceStub
    default_uri = "localhost:50054"
    idempotent_methods = frozenset(
        {"ListBuses", "GetBusStatus", "ReadRegisters", "ListServers", "GetServerRegisters"}
    )

    def __init__(
        self,
        app_key: str = "",
        modbus_uri: str = default_uri,
        is_async: bool | None = None,
        config: Any = None,
        **kwargs: Any,
    ) -> None:
        """pydoover's arguments in its order; ``config`` is the app's schema, whose
        ``modbus_config`` (a ModbusConfig or ManyModbusConfig) names the buses to open."""
        super().__init__(modbus_uri, app_key=app_key, is_async=is_async, **kwargs)
        self.config = config
        self.config_complete = False
        self.subscription_tasks: list[RegisterSubscription] = []

    # -- buses -----------------------------------------------------------------------------

    def configured_buses(self) -> list[BusDefinition]:
        element = getattr(self.config, "modbus_config", None) if self.config else None
        if isinstance(element, ModbusConfig):
            return [element.definition()]
        if isinstance(element, ManyModbusConfig):
            return element.definitions()
        return []

    async def setup(self) -> None:
        """Open the buses of the app's config (none: nothing to do, no call is made)."""
        self.config_complete = False
        for bus in self.configured_buses():
            log.info("sdk.modbus_bus_opening", bus_id=bus.bus_id, type=bus.bus_type.value)
            await self._open(bus)
        self.config_complete = True

    async def _open(self, bus: BusDefinition) -> BusState:
        request = pb.OpenBusRequest(bus_id=bus.bus_id, settings=bus_request(bus))
        return bus_state((await self._call("OpenBus", request)).status)

    async def open_bus_async(
        self,
        bus_type: str = "serial",
        name: str = "default",
        serial_port: str = "/dev/ttyS0",
        serial_baud: int = 9600,
        serial_method: str = "rtu",
        serial_bits: int = 8,
        serial_parity: str = "N",
        serial_stop: int = 1,
        serial_timeout: float = 0.3,
        tcp_uri: str = "127.0.0.1:5000",
        tcp_timeout: float = 2,
    ) -> bool:
        """Open (or reopen with new settings) bus ``name``; True once the bridge holds it (it
        connects in the background: :meth:`bus_state` says when it is connected)."""
        parity = PARITY.get(serial_parity, serial_parity)  # "Even" as the config spells it, or "E"
        bus = BusDefinition(
            str(name),
            ModbusType(bus_type),
            serial_port,
            int(serial_baud),
            serial_method,
            int(serial_bits),
            parity,
            int(serial_stop),
            float(serial_timeout),
            tcp_uri,
            float(tcp_timeout),
        )
        await self._open(bus)
        return True

    async def close_bus_async(self, bus_id: str = "default") -> bool:
        await self._call("CloseBus", pb.CloseBusRequest(bus_id=str(bus_id)))
        return True

    async def get_bus_status_async(self, bus_id: str = "default") -> bool:
        """True when the bus is open (pydoover's answer); :meth:`bus_state` has the detail."""
        return (await self.bus_state_async(bus_id)).open

    async def bus_state_async(self, bus_id: str = "default") -> BusState:
        reply = await self._call("GetBusStatus", pb.GetBusStatusRequest(bus_id=str(bus_id)))
        return bus_state(reply.status)

    async def list_buses_async(self) -> list[BusState]:
        reply = await self._call("ListBuses", pb.ListBusesRequest())
        return [bus_state(status) for status in reply.buses]

    async def test_comms_async(self, message: str = "Comms Check Message") -> str:
        """pydoover's echo: ``message`` back once the bridge answers its health check."""
        if not await self.health_async():
            raise BridgeUnavailableError(
                self.name, grpc.StatusCode.UNAVAILABLE, f"no answer from {self.target}"
            )
        return message

    # -- registers -------------------------------------------------------------------------

    async def _on_bus(self, method: str, request: Any, configure_bus: bool) -> Any:
        try:
            return await self._call(method, request)
        except NotFoundError as exc:
            if exc.reason != UNKNOWN_BUS or not configure_bus or not self.configured_buses():
                raise
            log.warning("sdk.modbus_bus_reopened", bus_id=request.bus_id, reason=str(exc))
            await self.setup()
            return await self._call(method, request)

    async def read_registers_async(
        self,
        bus_id: str = "default",
        modbus_id: int = 1,
        start_address: int = 0,
        num_registers: int = 1,
        register_type: int = 4,
        configure_bus: bool = True,
    ) -> int | list[int] | None:
        """Read ``num_registers`` from ``start_address``: an int for one, a list for more
        (bits as 0/1), None for none."""
        request = pb.ReadRegistersRequest(
            bus_id=str(bus_id),
            slave_id=modbus_id,
            register_type=table(register_type),
            start_address=start_address,
            count=num_registers,
        )
        reply = await self._on_bus("ReadRegisters", request, configure_bus)
        return registers_out(list(reply.values))

    async def write_registers_async(
        self,
        bus_id: str = "default",
        modbus_id: int = 1,
        start_address: int = 0,
        values: Sequence[int] | None = None,
        register_type: int = 4,
        configure_bus: bool = True,
    ) -> bool:
        """Write ``values`` from ``start_address`` (holding registers or coils); True once
        the slave confirmed."""
        request = pb.WriteRegistersRequest(
            bus_id=str(bus_id),
            slave_id=modbus_id,
            register_type=table(register_type),
            start_address=start_address,
            values=[int(v) for v in values or []],
        )
        await self._on_bus("WriteRegisters", request, configure_bus)
        return True

    async def schedule_write_async(
        self,
        bus_id: str = "default",
        modbus_id: int = 1,
        start_address: int = 0,
        values: Sequence[int] | None = None,
        register_type: int = 4,
        delay_secs: float = 0.0,
    ) -> float:
        """Write after ``delay_secs``; returns the seconds until it is due."""
        request = pb.ScheduleWriteRequest(
            bus_id=str(bus_id),
            slave_id=modbus_id,
            register_type=table(register_type),
            start_address=start_address,
            values=[int(v) for v in values or []],
        )
        request.delay.FromNanoseconds(round(delay_secs * 1e9))
        reply = await self._call("ScheduleWrite", request)
        due = float(reply.due_time.ToNanoseconds()) / 1e9
        return max(0.0, due - time.time())

    async def read_values_async(
        self,
        bus_id: str = "default",
        modbus_id: int = 1,
        start_address: int = 0,
        count: int = 1,
        register_type: int = 3,
        value_type: str = "float32",
        word_order: str = "big",
        byte_order: str = "big",
    ) -> list[float]:
        """revlink's typed read: ``count`` values of ``value_type`` (int16, uint16, int32,
        uint32, float32, float64) decoded by the bridge in the given word and byte order."""
        request = pb.ReadRegistersRequest(
            bus_id=str(bus_id),
            slave_id=modbus_id,
            register_type=table(register_type),
            start_address=start_address,
            count=count * registers_per_value(value_type),
            format=value_format(value_type, word_order, byte_order),
        )
        reply = await self._call("ReadRegisters", request)
        return list(reply.typed_values)

    async def write_values_async(
        self,
        bus_id: str = "default",
        modbus_id: int = 1,
        start_address: int = 0,
        values: Sequence[float] = (),
        value_type: str = "float32",
        word_order: str = "big",
        byte_order: str = "big",
    ) -> bool:
        """revlink's typed write to holding registers, encoded by the bridge."""
        request = pb.WriteRegistersRequest(
            bus_id=str(bus_id),
            slave_id=modbus_id,
            register_type=pb.REGISTER_TYPE_HOLDING_REGISTER,
            start_address=start_address,
            typed_values=[float(v) for v in values],
            format=value_format(value_type, word_order, byte_order),
        )
        await self._call("WriteRegisters", request)
        return True

    def add_read_register_subscription(
        self,
        bus_id: str = "default",
        modbus_id: int = 1,
        start_address: int = 0,
        num_registers: int = 1,
        register_type: int = 4,
        poll_secs: float = 3,
        callback: RegisterCallback | None = None,
    ) -> RegisterSubscription | None:
        """Poll the registers every ``poll_secs`` in the bridge and call ``callback(values)``
        with each result (an int for one register, a list for more, None after a failed poll).
        The stream resumes by itself after a bus loss or a bridge restart."""
        if callback is None:
            log.error("sdk.modbus_subscription_without_callback", bus_id=bus_id)
            return None
        loop = callback_loop(callback)
        request = pb.SubscribeRegistersRequest(
            bus_id=str(bus_id),
            slave_id=modbus_id,
            register_type=table(register_type),
            start_address=start_address,
            count=num_registers,
        )
        request.poll_interval.FromNanoseconds(round(poll_secs * 1e9))

        def deliver(reply: pb.SubscribeRegistersResponse) -> None:
            values = None if reply.HasField("error") else registers_out(list(reply.values))
            dispatch(callback, loop, values)

        subscription = RegisterSubscription(
            self, self._follow("SubscribeRegisters", lambda: request, deliver)
        )
        self.subscription_tasks.append(subscription)
        return subscription

    async def close_async(self) -> None:
        for subscription in self.subscription_tasks:
            subscription.cancel()
        self.subscription_tasks.clear()
        await super().close_async()

    open_bus = maybe_async(open_bus_async)
    close_bus = maybe_async(close_bus_async)
    get_bus_status = maybe_async(get_bus_status_async)
    fetch_bus_status = get_bus_status  # pydoover's other name
    bus_state = maybe_async(bus_state_async)
    list_buses = maybe_async(list_buses_async)
    test_comms = maybe_async(test_comms_async)
    read_registers = maybe_async(read_registers_async)
    write_registers = maybe_async(write_registers_async)
    schedule_write = maybe_async(schedule_write_async)
    read_values = maybe_async(read_values_async)
    write_values = maybe_async(write_values_async)
