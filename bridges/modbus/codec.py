"""Typed values to and from 16-bit Modbus registers: pure functions, no I/O.

A value of ``n`` registers is packed big-endian (most significant byte first), cut into
``n`` words; :attr:`ByteOrder.LITTLE` swaps the two bytes of every word and
:attr:`WordOrder.LITTLE` reverses the words. So the float32 ``1.0`` (``0x3F800000``) is
``[0x3F80, 0x0000]`` big/big ("ABCD"), ``[0x0000, 0x3F80]`` with little word order ("CDAB"),
``[0x803F, 0x0000]`` with little byte order ("BADC") and ``[0x0000, 0x803F]`` with both
("DCBA").
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ByteOrder",
    "CodecError",
    "ValueFormat",
    "ValueType",
    "WordOrder",
    "decode",
    "encode",
]


class CodecError(ValueError):
    """Registers that do not make whole values, or a value that does not fit its type."""


class ValueType(enum.Enum):
    """How registers are read as numbers; the value is (struct code, registers per value)."""

    INT16 = ("h", 1)
    UINT16 = ("H", 1)
    INT32 = ("i", 2)
    UINT32 = ("I", 2)
    FLOAT32 = ("f", 2)
    FLOAT64 = ("d", 4)

    @property
    def registers(self) -> int:
        """Registers per value."""
        return self.value[1]

    @property
    def is_float(self) -> bool:
        return self.value[0] in "fd"

    @property
    def bounds(self) -> tuple[int, int]:
        """Smallest and largest value of an integer type."""
        bits = 16 * self.registers
        if self.value[0].islower():
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1


class WordOrder(enum.Enum):
    BIG = "big"  # most significant register first (the Modbus convention)
    LITTLE = "little"


class ByteOrder(enum.Enum):
    BIG = "big"  # most significant byte of each register first (the Modbus convention)
    LITTLE = "little"


@dataclass(frozen=True, slots=True)
class ValueFormat:
    """A value type and the order of its registers and bytes."""

    type: ValueType
    word_order: WordOrder = WordOrder.BIG
    byte_order: ByteOrder = ByteOrder.BIG

    def __str__(self) -> str:
        words, order = self.word_order.value, self.byte_order.value
        return f"{self.type.name.lower()} ({words} words, {order} bytes)"


def _words(packed: bytes, fmt: ValueFormat) -> list[int]:
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
    if fmt.byte_order is ByteOrder.LITTLE:
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    if fmt.word_order is WordOrder.LITTLE:
        words.reverse()
    return words


def _packed(words: Sequence[int], fmt: ValueFormat) -> bytes:
    ordered = list(words)
    if fmt.word_order is WordOrder.LITTLE:
        ordered.reverse()
    if fmt.byte_order is ByteOrder.LITTLE:
        ordered = [((w & 0xFF) << 8) | (w >> 8) for w in ordered]
    return b"".join(w.to_bytes(2, "big") for w in ordered)


def decode(registers: Sequence[int], fmt: ValueFormat) -> list[float]:
    """The values ``registers`` hold; their count must be a multiple of the type's size.

    Integers come back exact (as ``int``, within a float's exact range for every type here);
    floats as they are, NaN and infinities included.
    """
    size = fmt.type.registers
    if len(registers) % size:
        raise CodecError(
            f"{len(registers)} registers do not make whole {fmt.type.name.lower()} values "
            f"({size} registers each)"
        )
    for word in registers:
        if not 0 <= word <= 0xFFFF:
            raise CodecError(f"register value {word} is outside 0-65535")
    code = fmt.type.value[0]
    values: list[float] = []
    for start in range(0, len(registers), size):
        packed = _packed(registers[start : start + size], fmt)
        values.append(struct.unpack(f">{code}", packed)[0])
    return values


def _checked(value: float, fmt: ValueFormat, index: int) -> float | int:
    name = fmt.type.name.lower()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"value {index} ({value!r}) is not a number")
    if not math.isfinite(value):
        raise CodecError(f"value {index} ({value}) is not finite; {name} takes finite numbers")
    if fmt.type.is_float:
        if fmt.type is ValueType.FLOAT32 and abs(value) > 3.4028234663852886e38:
            raise CodecError(f"value {index} ({value}) is too large for float32")
        return float(value)
    if value != int(value):
        raise CodecError(f"value {index} ({value}) is not a whole number; {name} takes integers")
    low, high = fmt.type.bounds
    number = int(value)
    if not low <= number <= high:
        raise CodecError(f"value {index} ({number}) is outside {name}'s range {low} to {high}")
    return number


def encode(values: Sequence[float], fmt: ValueFormat) -> list[int]:
    """The registers that hold ``values`` as ``fmt``; refuses what the type cannot hold."""
    code = fmt.type.value[0]
    registers: list[int] = []
    for index, value in enumerate(values):
        number = _checked(value, fmt, index)
        registers.extend(_words(struct.pack(f">{code}", number), fmt))
    return registers
