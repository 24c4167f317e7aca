"""The Modbus interface's value types and wire conversions (pure: no calls)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apps.sdk.config_modbus import BusDefinition, ModbusType
from revlink.modbus.v1 import modbus_pb2 as pb

__all__ = [
    "BusState",
    "bus_request",
    "bus_state",
    "registers_out",
    "registers_per_value",
    "table",
    "value_format",
]

_PARITY = {"N": pb.PARITY_NONE, "E": pb.PARITY_EVEN, "O": pb.PARITY_ODD}
_VALUE_TYPES = {
    "int16": pb.VALUE_TYPE_INT16,
    "uint16": pb.VALUE_TYPE_UINT16,
    "int32": pb.VALUE_TYPE_INT32,
    "uint32": pb.VALUE_TYPE_UINT32,
    "float32": pb.VALUE_TYPE_FLOAT32,
    "float64": pb.VALUE_TYPE_FLOAT64,
}
_WIDTHS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4}
_WORD_ORDERS = {"big": pb.WORD_ORDER_BIG, "little": pb.WORD_ORDER_LITTLE}
_BYTE_ORDERS = {"big": pb.BYTE_ORDER_BIG, "little": pb.BYTE_ORDER_LITTLE}


@dataclass(frozen=True, slots=True)
class BusState:
    """What the bridge says of one bus."""

    bus_id: str
    open: bool
    connected: bool
    requests: int
    errors: int
    timeouts: int
    reconnects: int
    last_error: str
    last_error_time: datetime | None


def _seconds(value: float) -> int:
    return round(value * 1e9)


def bus_request(bus: BusDefinition) -> pb.BusSettings:
    """The bridge's settings for ``bus`` (a pydoover-style definition)."""
    settings = pb.BusSettings()
    if bus.bus_type is ModbusType.TCP:
        host, sep, port = bus.tcp_uri.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"tcp_uri must be HOST:PORT, not {bus.tcp_uri!r}")
        settings.tcp.host, settings.tcp.port = host, int(port)
        settings.tcp.timeout.FromNanoseconds(_seconds(bus.tcp_timeout))
        return settings
    if bus.serial_method != "rtu":
        raise ValueError(f"serial_method {bus.serial_method!r}: the Modbus bridge speaks rtu")
    if bus.serial_parity not in _PARITY:
        raise ValueError(f"serial_parity must be N, E or O, not {bus.serial_parity!r}")
    serial = settings.serial
    serial.port, serial.baud = bus.serial_port, bus.serial_baud
    serial.parity = _PARITY[bus.serial_parity]
    serial.data_bits, serial.stop_bits = bus.serial_bits, bus.serial_stop
    serial.timeout.FromNanoseconds(_seconds(bus.serial_timeout))
    return settings


def bus_state(status: pb.BusStatus) -> BusState:
    return BusState(
        status.bus_id,
        status.open,
        status.connected,
        status.requests,
        status.errors,
        status.timeouts,
        status.reconnects,
        status.last_error,
        status.last_error_time.ToDatetime() if status.HasField("last_error_time") else None,
    )


def registers_out(values: list[int]) -> int | list[int] | None:
    """pydoover's shape: None for no value, an int for one, the list for more."""
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def value_format(value_type: str, word_order: str, byte_order: str) -> pb.ValueFormat:
    try:
        return pb.ValueFormat(
            type=_VALUE_TYPES[value_type],
            word_order=_WORD_ORDERS[word_order],
            byte_order=_BYTE_ORDERS[byte_order],
        )
    except KeyError as exc:
        raise ValueError(
            f"unknown {exc.args[0]!r}: value types {sorted(_VALUE_TYPES)}, orders big, little"
        ) from None


def registers_per_value(value_type: str) -> int:
    """How many 16-bit registers one value of ``value_type`` takes."""
    try:
        return _WIDTHS[value_type]
    except KeyError:
        raise ValueError(f"unknown value type {value_type!r}: {sorted(_WIDTHS)}") from None


def table(register_type: int) -> pb.RegisterType.ValueType:
    """pydoover's ``register_type`` (the function code: 1 coils, 2 discrete inputs, 3 holding,
    4 input registers) as the wire's enum, whose numbers are the same; the bridge refuses others."""
    return pb.RegisterType.ValueType(register_type)
