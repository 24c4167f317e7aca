"""pydoover 0.x's pin and value shapes, cast before any call (pure)."""

from __future__ import annotations

import math

import pytest

from apps.sdk.platform_shapes import analog_values, digital_values, flat_pins


def test_pins_flatten_ints_lists_and_nesting() -> None:
    assert flat_pins(3) == [3]
    assert flat_pins((0, 1)) == [0, 1]  # get_di(0, 1): the *pins tuple
    assert flat_pins(([0, 1],)) == [0, 1]  # get_di([0, 1])
    assert flat_pins(([[0], (1, 2)], 3, range(4, 6))) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("bad", [True, "1", 1.0, None, -1, [0, [None]]])
def test_pins_refuse_what_is_not_a_pin(bad: object) -> None:
    with pytest.raises(ValueError, match="pins"):
        flat_pins(bad)


def test_no_pins_is_an_error() -> None:
    with pytest.raises(ValueError, match="no pins"):
        flat_pins(([],))


def test_digital_values_are_bools_and_zero_one() -> None:
    assert digital_values(True) == [True]
    assert digital_values(1) == [True]
    assert digital_values([0, [True, (False,)]]) == [False, True, False]
    for bad in (2, -1, 0.5, "on", None):
        with pytest.raises(ValueError, match="digital values"):
            digital_values(bad)


def test_analog_values_round_floats_explicitly() -> None:
    assert analog_values(3300) == [3300]
    assert analog_values(3300.4) == [3300]
    assert analog_values([2500.6, (1, -0.4)]) == [2501, 1, 0]
    assert analog_values([0.5, 1.5]) == [0, 2]  # halves to even, as round() does
    for bad in (math.nan, math.inf, True, "3.3", None):
        with pytest.raises(ValueError, match="analog values"):
            analog_values(bad)
