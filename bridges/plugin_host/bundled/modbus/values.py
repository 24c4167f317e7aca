"""The register tables, the value types, and one channel's mapping onto them.

:class:`RegisterChannel` is where a channel's registers (or bit) turn into an engineering
value and back: the value type and word order, ``raw * scale + offset`` and its inverse, and
the clamping of a written value to what the register can hold. Validating a config into
these is :mod:`.config`'s job; grouping them into requests is :mod:`.layout`'s.

The Modbus bridge's :mod:`bridges.modbus.codec` packs registers too, but it is not used here:
it validates differently (it refuses a bool or a fraction for an integer type, and register
words outside 0-65535, with its own CodecError) and knows neither bit channels nor the
shortest-decimal float32 this plugin reports, so reusing it would change what a direct call
of :meth:`RegisterChannel.decode` or :meth:`RegisterChannel.encode` raises or returns.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from bridges.plugin_host.sdk import Channel, Direction, Value

__all__ = [
    "INTEGER_RANGES",
    "TABLES",
    "VALUE_TYPES",
    "RegisterChannel",
    "inverse",
]

TABLES: dict[str, tuple[str, bool, bool]] = {
    # register name: (how messages name it, a bit table?, writable?)
    "coil": ("coils", True, True),
    "discrete_input": ("discrete inputs", True, False),
    "holding": ("holding registers", False, True),
    "input": ("input registers", False, False),
}
# value type: (struct code, registers); bool is one bit of a coil or a discrete input.
VALUE_TYPES: dict[str, tuple[str, int]] = {
    "bool": ("?", 0),
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "float32": ("f", 2),
}
# The raw values an integer register holds: a write is clamped to these.
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}
_FLOAT32_MAX: float = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]


@dataclass(frozen=True, slots=True)
class RegisterChannel:
    """One channel as the config maps it onto the device."""

    id: str
    name: str
    unit: str
    table: str
    address: int
    value_type: str
    word_order: str
    scale: float
    offset: float
    writable: bool
    min: float | None  # engineering units; a writable one within what the register holds
    max: float | None
    safe_value: Value | None

    @property
    def width(self) -> int:
        """Addresses the value takes: registers, or one bit."""
        return max(1, VALUE_TYPES[self.value_type][1])

    @property
    def is_bool(self) -> bool:
        return self.value_type == "bool"

    def describe(self) -> str:
        """The addresses, as a message names them: ``holding registers 100-101``."""
        end = self.address + self.width - 1
        span = f"{self.address}" if end == self.address else f"{self.address}-{end}"
        return f"{TABLES[self.table][0]} {span}"

    # -- raw values and engineering values ---------------------------------------------------

    def engineering(self, raw: int | float) -> int | float:
        """``raw * scale + offset``; integers stay integers while scale and offset allow."""
        value = raw * self.scale + self.offset
        if isinstance(value, float):
            # 12 significant digits hold every 32-bit register exactly; they shed the binary
            # noise of the scaling (2301 * 0.1 is 230.10000000000002), and + 0.0 a -0.0.
            value = float(f"{value:.12g}") + 0.0
        return value

    def decode(self, words: Sequence[int] | Sequence[bool]) -> Value:
        """The engineering value of this channel's registers (or bit)."""
        if self.is_bool:
            return bool(words[0])
        code, count = VALUE_TYPES[self.value_type]
        registers = list(words[:count])
        if self.word_order == "little":
            registers.reverse()
        packed = b"".join(int(r).to_bytes(2, "big") for r in registers)
        raw: int | float = struct.unpack(f">{code}", packed)[0]
        if self.value_type == "float32":
            raw = _shortest_float32(float(raw), packed)
        return self.engineering(raw)

    def to_raw(self, value: Value) -> int | float | bool:
        """The raw value that stands for ``value``, at the register's resolution."""
        if self.is_bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError(f"channel {self.id} takes true or false, not {value!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"channel {self.id} takes a number, not {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"channel {self.id}: {value} is not a finite number")
        raw = inverse(value, self.scale, self.offset)
        if self.value_type == "float32":
            if abs(raw) > _FLOAT32_MAX:
                raise ValueError(f"channel {self.id}: {value} is beyond what a float32 holds")
            return raw
        low, high = INTEGER_RANGES[self.value_type]
        return max(low, min(high, round(raw)))

    def encode(self, raw: int | float | bool) -> list[int]:
        """The registers that hold ``raw`` (not for bool channels: a coil takes the bool)."""
        code, _ = VALUE_TYPES[self.value_type]
        packed = struct.pack(f">{code}", raw)
        registers = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
        if self.word_order == "little":
            registers.reverse()
        return registers

    def quantize(self, value: Value) -> Value:
        """What the device will hold after writing ``value``, in engineering units."""
        raw = self.to_raw(value)
        if isinstance(raw, bool):
            return raw
        if self.value_type == "float32":
            return self.decode(self.encode(raw))
        return self.engineering(raw)

    def channel(self) -> Channel:
        """The SDK's view of this channel: what the host lists and checks writes against."""
        direction = Direction.BIDIRECTIONAL if self.writable else Direction.INPUT
        return Channel(
            self.id, self.name, direction, self.unit, self.min, self.max, self.safe_value
        )


def _shortest_float32(value: float, packed: bytes) -> float:
    """The shortest decimal that is the same float32: 230.1, not 230.10000610351562."""
    if not math.isfinite(value):
        return value
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == packed:
            return candidate
    return value


def inverse(value: float, scale: float, offset: float) -> float:
    """``(value - offset) / scale``, snapped to an integer when only float noise separates them."""
    if scale == 1 and offset == 0:
        return value
    raw = (value - offset) / scale
    nearest = round(raw)
    if abs(raw - nearest) <= 1e-9 * max(1.0, abs(raw)):
        return float(nearest)
    return raw
