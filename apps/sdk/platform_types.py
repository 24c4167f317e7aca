"""What the platform interface answers with, and the conversions to and from the wire.

Pure data: no calls, so :mod:`apps.sdk.platform` and :mod:`apps.sdk.pulses` share these
without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.duration_pb2 import Duration

from revlink.platform.v1 import platform_pb2 as pb

__all__ = [
    "Event",
    "EventPage",
    "IOInfo",
    "SystemStatus",
    "Value",
    "duration",
    "io_info",
    "one_or_many",
]

T = TypeVar("T")

Value = bool | int
_KIND_NAMES = {value: name.removeprefix("IO_KIND_") for name, value in pb.IOKind.items()}


def one_or_many(values: Sequence[T]) -> T | list[T]:
    return values[0] if len(values) == 1 else list(values)


def duration(seconds: float) -> Duration:
    value = Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


def plain(value: pb.IOValue) -> Value:
    result: Value = getattr(value, value.WhichOneof("kind") or "int_value")
    return result


def typed(value: Value) -> pb.IOValue:
    if isinstance(value, bool):
        return pb.IOValue(bool_value=value)
    return pb.IOValue(int_value=value)


@dataclass(frozen=True, slots=True)
class IOInfo:
    name: str
    kind: str  # "DI", "DO", "AI", "AO", "COUNTER" or "OTHER"
    pin: int
    writable: bool
    is_input: bool
    bit_length: int
    min_value: int
    max_value: int
    device_name: str
    unit: str = ""  # of analog values: "mV", "uA", "0.1 degC"; empty when not fixed
    # Outputs have one owner: the holder (app key) of the lease that owns this output, and
    # when that lease lapses unless renewed (UTC); "" and None while nobody owns it.
    owner: str = ""
    owner_lease_expire_time: datetime | None = None


def io_info(io: pb.IODescriptor) -> IOInfo:
    expires = None
    if io.HasField("owner_lease_expire_time"):
        expires = io.owner_lease_expire_time.ToDatetime(tzinfo=UTC)
    return IOInfo(
        io.name,
        _KIND_NAMES[io.kind],
        io.pin,
        io.writable,
        io.is_input,
        io.bit_length,
        io.min_value,
        io.max_value,
        io.device_name,
        io.unit,
        io.owner,
        expires,
    )


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the bridge's event log (pydoover's Event: ``event``, ``pin``, ``time``)."""

    event_id: int  # monotonic within one run of the bridge
    event: str  # "DI_R" (rising edge), "DI_F" (falling edge), or "BRIDGE_START"
    pin: int  # DI pin of an edge; 0 for system events
    time: int  # Unix time in milliseconds
    value: bool = False  # the DI's value after the edge
    name: str = ""  # the DI's piCtory name


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[Event]
    synced: bool
    run_id: str
    last_event_id: int


@dataclass(frozen=True, slots=True)
class SystemStatus:
    core_temperature_celsius: int
    cpu_frequency_mhz: int
    picontrol_running: bool
    io_cycle_ms: int
    simulated: bool
