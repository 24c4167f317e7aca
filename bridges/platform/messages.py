"""Conversions between the platform core's values and the wire messages (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from bridges.platform.errors import InvalidValueError
from bridges.platform.events import LoggedEvent
from bridges.platform.feed import InputChange
from bridges.platform.iotable import IOKind, IOSpec, IOValue
from bridges.platform.leases import Lease
from revlink.platform.v1 import platform_pb2 as pb

__all__ = [
    "KINDS",
    "change_message",
    "descriptor",
    "duration",
    "event_message",
    "from_pb_value",
    "pair",
    "seconds",
    "timestamp",
    "to_pb_value",
]

KINDS = {kind: pb.IOKind.Value(f"IO_KIND_{kind.value}") for kind in IOKind}


def to_pb_value(value: IOValue) -> pb.IOValue:
    if isinstance(value, bool):
        return pb.IOValue(bool_value=value)
    return pb.IOValue(int_value=value)


def from_pb_value(name: str, value: pb.IOValue) -> IOValue:
    kind = value.WhichOneof("kind")
    if kind is None:
        raise InvalidValueError(f"no value given for {name}")
    result: IOValue = getattr(value, kind)
    return result


def timestamp(unix_s: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(unix_s * 1e9))
    return stamp


def seconds(value: Duration) -> float:
    return float(value.seconds + value.nanos / 1e9)


def duration(secs: float) -> Duration:
    value = Duration()
    value.FromNanoseconds(round(secs * 1e9))
    return value


def pair(specs: Sequence[IOSpec], values: Sequence[object]) -> list[tuple[IOSpec, object]]:
    if len(values) == 1:
        return [(spec, values[0]) for spec in specs]
    if len(values) != len(specs):
        raise InvalidValueError(
            f"{len(specs)} pins but {len(values)} values (give one value, or one per pin)"
        )
    return list(zip(specs, values, strict=True))


def descriptor(spec: IOSpec, owner: Lease | None, owner_expiry_unix: float) -> pb.IODescriptor:
    message = pb.IODescriptor(
        name=spec.name,
        kind=KINDS[spec.kind],
        pin=spec.pin,
        bit_length=spec.bit_length,
        signed=spec.signed,
        byte_address=spec.byte_address,
        bit_address=spec.bit_address,
        writable=spec.writable,
        is_input=spec.is_input,
        device_name=spec.device_name,
        device_position=spec.device_position,
        default_value=to_pb_value(spec.default_value),
        safe_value=to_pb_value(spec.safe_value),
        min_value=spec.min_value,
        max_value=spec.max_value,
        unit=spec.unit,
        owner=owner.holder if owner else "",
    )
    if owner is not None:
        message.owner_lease_expire_time.CopyFrom(timestamp(owner_expiry_unix))
    return message


def change_message(change: InputChange) -> pb.InputChange:
    message = pb.InputChange(
        name=change.name,
        kind=KINDS[change.kind],
        pin=change.pin,
        new_value=to_pb_value(change.new),
    )
    if change.old is not None:
        message.old_value.CopyFrom(to_pb_value(change.old))
    message.time.FromNanoseconds(change.time_ns)
    return message


def event_message(event: LoggedEvent) -> pb.Event:
    message = pb.Event(
        event_id=event.event_id,
        event=event.event,
        pin=event.pin,
        name=event.name,
        value=event.value,
    )
    message.time.FromNanoseconds(event.time_ns)
    return message
