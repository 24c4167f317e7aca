"""pydoover 0.x's argument shapes for pins and values, cast once before a call.

Pins: an int, or any (nested) list, tuple, range or other iterable of ints, flattened in order,
so ``get_di(0, 1)``, ``get_di([0, 1])`` and ``get_di([[0], (1,)])`` ask for the same pins.
Values: a scalar (applied to every pin) or the same kind of nesting, one per pin.
Digital values are bools (0 and 1 are taken as False and True); analog values are numbers in
the IO's integer unit (mV, uA, 0.1 degC, see ``IOInfo.unit``): a float is rounded to the
nearest integer (halves to even), since the RevPi's analog IOs hold integers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["analog_values", "digital_values", "flat_pins", "flatten", "per_pin"]


def flatten(values: Any, what: str) -> list[Any]:
    """``values`` as a flat list: a scalar becomes a one-item list, nesting is undone."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        return [values]
    flat: list[Any] = []
    for item in values:
        if isinstance(item, Iterable) and not isinstance(item, str | bytes):
            flat.extend(flatten(item, what))
        else:
            flat.append(item)
    if not flat:
        raise ValueError(f"no {what} given")
    return flat


def flat_pins(pins: Any) -> list[int]:
    flat = flatten(pins, "pins")
    for pin in flat:
        if isinstance(pin, bool) or not isinstance(pin, int):
            raise ValueError(f"pins are ints (or lists of them), not {pin!r}")
        if pin < 0:
            raise ValueError(f"pins are 0-based, not {pin}")
    return flat


def digital_values(values: Any) -> list[bool]:
    flat = flatten(values, "values")
    for value in flat:
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and value in (0, 1):
            continue
        raise ValueError(f"digital values are bools (or 0 and 1), not {value!r}")
    return [bool(value) for value in flat]


def analog_values(values: Any) -> list[int]:
    flat = flatten(values, "values")
    result = []
    for value in flat:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"analog values are numbers, not {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"analog values must be finite, not {value!r}")
        result.append(round(value))
    return result


def per_pin(pins: list[int], values: list[Any]) -> list[Any]:
    """One value per pin, as a write applies them (a single value goes to every pin)."""
    return values * len(pins) if len(values) == 1 else values
