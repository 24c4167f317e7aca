"""The IO table: every IO of config.rsc with its kind, pin, range and safe value.

Kinds and pins are derived from what revpimodio2 built, never from IO names, because
plants rename IOs in piCtory: bit inputs are DI and bit outputs DO; signed 16-bit integer
inputs/outputs (analog module values) are AI/AO; the DIO's hardware counters are COUNTER;
everything else (status bytes, PWM duty cycles, system values) is OTHER. Pins are 0-based per
kind in config order: modules by process-image offset, then IOs by their index in the module.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bridges.platform.errors import InvalidValueError, UnknownIOError
from bridges.platform.units import analog_unit

__all__ = ["IOKind", "IOSpec", "IOTable", "IOValue", "check_value"]

IOValue = bool | int

AIO_PRODUCT_TYPE = 103
# piCtory AIO memory layout: the range byte of analog output k sits at 69 + 10 k, relative to
# the module, for the output value at 20 + 2 k. Ranges in mV or uA, per revpimodio2.AIO.
_AIO_OUTPUT_VALUE_ADDRESS = 20
_AIO_OUTPUT_RANGE_ADDRESS = 69
_AIO_OUTPUT_RANGES: dict[int, tuple[int, int]] = {
    0: (0, 0),  # output switched off
    1: (0, 5000),
    2: (0, 10000),
    3: (-5000, 5000),
    4: (-10000, 10000),
    5: (0, 5500),
    6: (0, 11000),
    7: (-5500, 5500),
    8: (-11000, 11000),
    9: (4000, 20000),
    10: (0, 20000),
    11: (0, 24000),
}


class IOKind(enum.Enum):
    DI = "DI"
    DO = "DO"
    AI = "AI"
    AO = "AO"
    COUNTER = "COUNTER"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class IOSpec:
    """One IO as the bridge addresses and validates it."""

    name: str
    kind: IOKind
    pin: int
    bit_length: int
    signed: bool
    byte_address: int
    bit_address: int | None
    writable: bool
    is_input: bool
    device_name: str
    device_position: int
    default_value: IOValue
    safe_value: IOValue
    min_value: int
    max_value: int
    unit: str = ""  # of the integer value, where the config fixes it (see units.py)

    @property
    def is_bit(self) -> bool:
        return self.bit_address is not None


def check_value(spec: IOSpec, value: object) -> IOValue:
    """Return ``value`` if it suits ``spec`` (type and range), else raise InvalidValueError."""
    if spec.is_bit:
        if not isinstance(value, bool):
            raise InvalidValueError(f"{spec.name} is a bit IO and takes a bool, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValueError(f"{spec.name} is an integer IO and takes an int, not {value!r}")
    if not spec.min_value <= value <= spec.max_value:
        raise InvalidValueError(
            f"{spec.name}: {value} is outside its range {spec.min_value}..{spec.max_value}"
        )
    return value


class IOTable:
    """Lookup of IOs by name and by (kind, pin)."""

    def __init__(self, specs: Iterable[IOSpec]) -> None:
        self._specs = tuple(specs)
        self._by_name = {spec.name: spec for spec in self._specs}
        self._by_kind: dict[IOKind, list[IOSpec]] = {kind: [] for kind in IOKind}
        for spec in self._specs:
            self._by_kind[spec.kind].append(spec)

    def __iter__(self) -> Iterator[IOSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def by_name(self, name: str) -> IOSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownIOError(f"no IO named {name!r} in config.rsc") from None

    def by_pin(self, kind: IOKind, pin: int) -> IOSpec:
        specs = self._by_kind[kind]
        if not 0 <= pin < len(specs):
            raise UnknownIOError(
                f"no {kind.value} pin {pin} (this config has {kind.value} pins 0..{len(specs) - 1})"
                if specs
                else f"no {kind.value} pin {pin} (this config has no {kind.value})"
            )
        return specs[pin]

    def of_kind(self, kind: IOKind) -> list[IOSpec]:
        return list(self._by_kind[kind])

    def inputs(self) -> list[IOSpec]:
        return [spec for spec in self._specs if spec.is_input]

    @classmethod
    def from_modio(
        cls,
        rpi: Any,
        safe_values: Mapping[str, IOValue] | None = None,
        *,
        simulator: bool = False,
    ) -> IOTable:
        """Build the table from a RevPiModIO instance.

        ``simulator`` says ``rpi`` was opened with ``simulator=True``, where revpimodio2 swaps
        inputs and outputs; the table still describes the plant's IOs as the device sees them.
        """
        safe_values = dict(safe_values or {})
        pins: dict[IOKind, int] = dict.fromkeys(IOKind, 0)
        specs: list[IOSpec] = []
        for device in sorted(rpi.device, key=lambda d: d.offset):
            inputs, outputs = device.get_inputs(), device.get_outputs()
            if simulator:
                inputs, outputs = outputs, inputs
            groups = [
                (inputs, True, False),
                (outputs, False, True),
                (device.get_memories(), False, False),
            ]
            for ios, is_input, writable in groups:
                for io in ios:
                    spec = _spec_for(device, io, is_input, writable, pins, safe_values)
                    pins[spec.kind] += 1
                    specs.append(spec)
        unknown = sorted(set(safe_values) - {spec.name for spec in specs})
        if unknown:
            listed = ", ".join(unknown)
            raise UnknownIOError(f"safe values given for IOs not in config.rsc: {listed}")
        table = cls(specs)
        for name in safe_values:
            spec = table.by_name(name)
            if not spec.writable:
                raise InvalidValueError(f"safe value given for {name}, which is not an output")
        return table


def _spec_for(
    device: Any,
    io: Any,
    is_input: bool,
    writable: bool,
    pins: Mapping[IOKind, int],
    safe_values: Mapping[str, IOValue],
) -> IOSpec:
    bit_length = int(io.length) * 8 if not io._bitshift else 1
    bit_address = int(io._bitaddress) if io._bitshift else None
    signed = bool(getattr(io, "_signed", False))
    kind = _kind_of(io, is_input, writable, bit_length, signed)
    low, high = _value_range(device, io, bit_length, signed, kind)
    default: IOValue = bool(io.defaultvalue) if bit_address is not None else int(io.defaultvalue)
    spec = IOSpec(
        name=io.name,
        kind=kind,
        pin=pins[kind],
        bit_length=bit_length,
        signed=signed,
        byte_address=int(io.address),
        bit_address=bit_address,
        writable=writable,
        is_input=is_input,
        device_name=device.name,
        device_position=int(device.position),
        default_value=default,
        safe_value=False if bit_address is not None else max(low, min(0, high)),
        min_value=low,
        max_value=high,
        unit=analog_unit(device, io) if kind in (IOKind.AI, IOKind.AO) else "",
    )
    if io.name in safe_values:
        return replace(spec, safe_value=check_value(spec, safe_values[io.name]))
    return spec


def _kind_of(io: Any, is_input: bool, writable: bool, bits: int, signed: bool) -> IOKind:
    if bits == 1:
        return IOKind.DI if is_input else (IOKind.DO if writable else IOKind.OTHER)
    if is_input and type(io).__name__ == "IntIOCounter":
        return IOKind.COUNTER
    if signed and bits == 16 and (is_input or writable):
        return IOKind.AI if is_input else IOKind.AO
    return IOKind.OTHER


def _value_range(device: Any, io: Any, bits: int, signed: bool, kind: IOKind) -> tuple[int, int]:
    if bits == 1:
        return 0, 1
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if kind is IOKind.AO and int(device.producttype) == AIO_PRODUCT_TYPE:
        relative = int(io.address) - int(device.offset)
        index = (relative - _AIO_OUTPUT_VALUE_ADDRESS) // 2
        range_address = int(device.offset) + _AIO_OUTPUT_RANGE_ADDRESS + 10 * index
        for mem in device.get_memories():
            if int(mem.address) == range_address:
                return _AIO_OUTPUT_RANGES.get(int(mem.value), (low, high))
    return low, high
