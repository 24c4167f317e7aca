"""Conversions between the Modbus core's values and the wire messages (pure functions)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from bridges.modbus.bus import BusStatus
from bridges.modbus.codec import ByteOrder, ValueFormat, ValueType, WordOrder
from bridges.modbus.core import PollFailure, ReadResult
from bridges.modbus.errors import InvalidRequestError
from bridges.modbus.model import BusConfig, Framing, SerialConfig, TcpConfig
from bridges.modbus.servers import ServerInfo, TcpServerConfig
from revlink.modbus.v1 import modbus_pb2 as pb

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "bus_config",
    "bus_settings",
    "optional_bus_config",
    "poll_message",
    "seconds",
    "serial_config",
    "server_message",
    "server_transport",
    "status_message",
    "timestamp",
    "value_format",
]

DEFAULT_TIMEOUT_S = 1.0
_PARITY = {pb.PARITY_UNSPECIFIED: "N", pb.PARITY_NONE: "N", pb.PARITY_EVEN: "E", pb.PARITY_ODD: "O"}
_PB_PARITY = {"N": pb.PARITY_NONE, "E": pb.PARITY_EVEN, "O": pb.PARITY_ODD}
_FRAMING = {pb.SERIAL_FRAMING_ASCII: Framing.ASCII}
_PB_FRAMING = {Framing.RTU: pb.SERIAL_FRAMING_RTU, Framing.ASCII: pb.SERIAL_FRAMING_ASCII}
_TYPES = {getattr(pb, f"VALUE_TYPE_{t.name}"): t for t in ValueType}
_WORDS = {pb.WORD_ORDER_LITTLE: WordOrder.LITTLE}
_BYTES = {pb.BYTE_ORDER_LITTLE: ByteOrder.LITTLE}


def timestamp(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def seconds(value: Duration) -> float:
    return float(value.seconds + value.nanos / 1e9)


def _duration(secs: float) -> Duration:
    value = Duration()
    value.FromNanoseconds(round(secs * 1e9))
    return value


def _timeout(has: bool, value: Duration) -> float:
    return seconds(value) if has else DEFAULT_TIMEOUT_S


def serial_config(s: pb.SerialSettings) -> SerialConfig:
    if s.parity not in _PARITY:
        raise InvalidRequestError(f"unknown parity {s.parity}")
    if s.framing not in (*_FRAMING, pb.SERIAL_FRAMING_UNSPECIFIED, pb.SERIAL_FRAMING_RTU):
        raise InvalidRequestError(f"unknown serial framing {s.framing}")
    return SerialConfig(
        port=s.port,
        baud=s.baud or 9600,
        parity=_PARITY[s.parity],  # type: ignore[arg-type]
        data_bits=s.data_bits or 8,
        stop_bits=s.stop_bits or 1,
        timeout_s=_timeout(s.HasField("timeout"), s.timeout),
        framing=_FRAMING.get(s.framing, Framing.RTU),
    )


def bus_config(settings: pb.BusSettings) -> BusConfig:
    """The core's settings from the wire's; a missing transport is INVALID_VALUE."""
    kind = settings.WhichOneof("transport")
    transport: SerialConfig | TcpConfig
    if kind == "serial":
        transport = serial_config(settings.serial)
    elif kind == "tcp":
        t = settings.tcp
        transport = TcpConfig(
            host=t.host, port=t.port or 502, timeout_s=_timeout(t.HasField("timeout"), t.timeout)
        )
    else:
        raise InvalidRequestError("bus settings need serial or tcp")
    return BusConfig(transport, retries=settings.retries)


def optional_bus_config(has: bool, settings: pb.BusSettings) -> BusConfig | None:
    return bus_config(settings) if has else None


def _serial_message(t: SerialConfig) -> pb.SerialSettings:
    return pb.SerialSettings(
        port=t.port,
        baud=t.baud,
        parity=_PB_PARITY[t.parity],
        data_bits=t.data_bits,
        stop_bits=t.stop_bits,
        timeout=_duration(t.timeout_s),
        framing=_PB_FRAMING[t.framing],
    )


def bus_settings(config: BusConfig) -> pb.BusSettings:
    t = config.transport
    if isinstance(t, TcpConfig):
        tcp = pb.TcpSettings(host=t.host, port=t.port, timeout=_duration(t.timeout_s))
        return pb.BusSettings(tcp=tcp, retries=config.retries)
    return pb.BusSettings(serial=_serial_message(t), retries=config.retries)


def value_format(has: bool, fmt: pb.ValueFormat) -> ValueFormat | None:
    """None when no type is asked (raw registers only)."""
    if not has or fmt.type == pb.VALUE_TYPE_UNSPECIFIED:
        return None
    if fmt.type not in _TYPES:
        raise InvalidRequestError(f"unknown value type {fmt.type}")
    if fmt.word_order not in (0, 1, 2) or fmt.byte_order not in (0, 1, 2):
        raise InvalidRequestError("unknown word or byte order")
    return ValueFormat(
        _TYPES[fmt.type],
        _WORDS.get(fmt.word_order, WordOrder.BIG),
        _BYTES.get(fmt.byte_order, ByteOrder.BIG),
    )


def status_message(status: BusStatus) -> pb.BusStatus:
    message = pb.BusStatus(
        bus_id=status.bus_id,
        open=status.open,
        connected=status.connected,
        requests=status.requests,
        errors=status.errors,
        last_error=status.last_error,
        settings=bus_settings(status.config),
        configured=status.configured,
        timeouts=status.timeouts,
        reconnects=status.reconnects,
    )
    if status.last_error_time is not None:
        message.last_error_time.CopyFrom(timestamp(status.last_error_time))
    return message


def server_message(info: ServerInfo) -> pb.ServerStatus:
    message = pb.ServerStatus(
        server_id=info.server_id,
        slave_ids=list(info.slave_ids),
        size=info.size,
        address=info.address,
    )
    if isinstance(info.transport, TcpServerConfig):
        message.tcp.CopyFrom(
            pb.TcpServerSettings(host=info.transport.host, port=info.transport.port)
        )
    else:
        message.serial.CopyFrom(_serial_message(info.transport))
    return message


def poll_message(item: ReadResult | PollFailure) -> pb.SubscribeRegistersResponse:
    if isinstance(item, PollFailure):
        error = pb.PollError(
            reason=item.reason, message=item.message, exception_code=item.exception_code
        )
        return pb.SubscribeRegistersResponse(read_time=timestamp(item.time), error=error)
    return pb.SubscribeRegistersResponse(
        values=item.values, typed_values=item.typed, read_time=timestamp(item.time)
    )


def server_transport(request: pb.CreateServerRequest) -> TcpServerConfig | SerialConfig:
    kind = request.WhichOneof("transport")
    if kind == "tcp":
        return TcpServerConfig(request.tcp.host or "127.0.0.1", request.tcp.port)
    if kind == "serial":
        return serial_config(request.serial)
    raise InvalidRequestError("a server needs tcp or serial settings")
