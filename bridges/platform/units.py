"""The unit of an analog IO's integer value, from the AIO's piCtory memory settings.

The AIO reports inputs in mV or uA by their configured range and RTD inputs in 0.1 degC, and
takes outputs in mV or uA by their range, unless piCtory scales the value with a multiplier,
divisor or offset: then the unit is the plant's and the config does not name it (empty).
Channels are found by their address in the module (the piCtory AIO layout), never by name,
because plants rename IOs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["analog_unit"]

AIO_PRODUCT_TYPE = 103
_INPUT_UNITS = {1: "mV", 2: "mV", 3: "mV", 4: "mV", 5: "uA", 6: "uA", 7: "uA", 8: "uA"}
_OUTPUT_UNITS = {r: "mV" for r in range(1, 9)} | {9: "uA", 10: "uA", 11: "uA"}

# kind: (first value address, channels, first settings address, settings stride,
#        offsets of range/type, multiplier, divisor, offset within the settings)
_LAYOUT = {
    "input": (0, 4, 24, 7, (0, 1, 3, 5)),
    "rtd": (12, 2, 53, 7, (0, 1, 3, 5)),
    "output": (20, 2, 69, 10, (0, 4, 6, 8)),
}


def analog_unit(device: Any, io: Any) -> str:
    """The unit of ``io``'s value on an AIO ``device``; empty when the config does not fix it."""
    if int(device.producttype) != AIO_PRODUCT_TYPE:
        return ""
    base = int(device.offset)
    relative = int(io.address) - base
    memory = {int(mem.address) - base: int(mem.value) for mem in device.get_memories()}
    for channel, (first, count, settings, stride, fields) in _LAYOUT.items():
        index, rest = divmod(relative - first, 2)
        if rest or not 0 <= index < count:
            continue
        at = settings + stride * index
        kind_value, multiplier, divisor, offset = (memory.get(at + f) for f in fields)
        if (multiplier, divisor, offset) != (1, 1, 0):
            return ""  # scaled in piCtory: the plant's unit, which the config does not name
        if channel == "rtd":
            return "0.1 degC"
        units = _INPUT_UNITS if channel == "input" else _OUTPUT_UNITS
        return units.get(kind_value if kind_value is not None else -1, "")
    return ""
