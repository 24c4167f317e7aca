"""The codec: typed values to and from registers, in every word and byte order."""

from __future__ import annotations

import math

import pytest

from bridges.modbus.codec import (
    ByteOrder,
    CodecError,
    ValueFormat,
    ValueType,
    WordOrder,
    decode,
    encode,
)

BIG = ValueFormat(ValueType.FLOAT32)


@pytest.mark.parametrize(
    ("word", "byte", "registers"),
    [
        (WordOrder.BIG, ByteOrder.BIG, [0x3F80, 0x0000]),  # ABCD
        (WordOrder.LITTLE, ByteOrder.BIG, [0x0000, 0x3F80]),  # CDAB
        (WordOrder.BIG, ByteOrder.LITTLE, [0x803F, 0x0000]),  # BADC
        (WordOrder.LITTLE, ByteOrder.LITTLE, [0x0000, 0x803F]),  # DCBA
    ],
)
def test_float32_one_in_every_order(word: WordOrder, byte: ByteOrder, registers: list[int]) -> None:
    fmt = ValueFormat(ValueType.FLOAT32, word, byte)
    assert encode([1.0], fmt) == registers
    assert decode(registers, fmt) == [1.0]


@pytest.mark.parametrize(
    ("value_type", "value", "registers"),
    [
        (ValueType.INT16, -1, [0xFFFF]),
        (ValueType.INT16, -32768, [0x8000]),
        (ValueType.UINT16, 65535, [0xFFFF]),
        (ValueType.INT32, -2, [0xFFFF, 0xFFFE]),
        (ValueType.INT32, 0x12345678, [0x1234, 0x5678]),
        (ValueType.UINT32, 4294967295, [0xFFFF, 0xFFFF]),
        (ValueType.FLOAT64, 1.0, [0x3FF0, 0, 0, 0]),
    ],
)
def test_integers_and_doubles_big_endian(
    value_type: ValueType, value: float, registers: list[int]
) -> None:
    fmt = ValueFormat(value_type)
    assert encode([value], fmt) == registers
    assert decode(registers, fmt) == [value]


def test_int32_word_swapped_and_byte_swapped() -> None:
    value = 0x12345678
    assert encode([value], ValueFormat(ValueType.INT32, WordOrder.LITTLE)) == [0x5678, 0x1234]
    swapped = ValueFormat(ValueType.INT32, WordOrder.LITTLE, ByteOrder.LITTLE)
    assert encode([value], swapped) == [0x7856, 0x3412]
    assert decode([0x7856, 0x3412], swapped) == [value]


def test_int16_byte_order_swaps_inside_the_register() -> None:
    fmt = ValueFormat(ValueType.INT16, byte_order=ByteOrder.LITTLE)
    assert encode([0x0102], fmt) == [0x0201]
    assert decode([0x0201], fmt) == [0x0102]


def test_several_values_round_trip() -> None:
    values = [0.5, -2.25, 1e10, 0.0]
    for word in WordOrder:
        for byte in ByteOrder:
            fmt = ValueFormat(ValueType.FLOAT32, word, byte)
            assert decode(encode(values, fmt), fmt) == values


def test_decode_keeps_nan_and_infinity() -> None:
    nan, inf = decode([0x7FC0, 0, 0x7F80, 0], BIG)
    assert math.isnan(nan)
    assert inf == math.inf


def test_decode_needs_whole_values() -> None:
    with pytest.raises(CodecError, match="3 registers do not make whole float32"):
        decode([0, 0, 0], BIG)
    with pytest.raises(CodecError, match="outside 0-65535"):
        decode([70000], ValueFormat(ValueType.UINT16))


@pytest.mark.parametrize(
    ("value_type", "value", "message"),
    [
        (ValueType.INT16, 32768, "outside int16's range -32768 to 32767"),
        (ValueType.INT16, -32769, "outside int16's range"),
        (ValueType.UINT16, -1, "outside uint16's range 0 to 65535"),
        (ValueType.UINT32, 4294967296, "outside uint32's range"),
        (ValueType.INT32, 1.5, "not a whole number"),
        (ValueType.FLOAT32, math.nan, "not finite"),
        (ValueType.FLOAT64, math.inf, "not finite"),
        (ValueType.FLOAT32, 1e39, "too large for float32"),
    ],
)
def test_encode_refuses_what_the_type_cannot_hold(
    value_type: ValueType, value: float, message: str
) -> None:
    with pytest.raises(CodecError, match=message):
        encode([value], ValueFormat(value_type))


def test_encode_takes_whole_floats_for_integer_types() -> None:
    assert encode([3.0], ValueFormat(ValueType.UINT16)) == [3]
