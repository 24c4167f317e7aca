"""The ``modbus`` plugin's config: its JSON Schema, and the checks that turn it into channels.

The host validates a config against :data:`CONFIG_SCHEMA` first; :func:`parse_channels` then
makes the checks a schema cannot (a type that suits its table, min below max, a safe value in
range, exactly one of ``tcp`` and ``serial``...) and raises :class:`InvalidConfigError` naming
the field, so that a bad config is refused when the instance is created, not at the first read.
The connection settings are spelt as the Modbus bridge's bus definitions are; they are used as
given by the plugin class.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from bridges.modbus.model import MAX_ADDRESS
from bridges.plugin_host.bundled.modbus.layout import MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ
from bridges.plugin_host.bundled.modbus.values import (
    INTEGER_RANGES,
    TABLES,
    VALUE_TYPES,
    RegisterChannel,
    inverse,
)
from bridges.plugin_host.sdk import InvalidConfigError

__all__ = ["CONFIG_SCHEMA", "parse_channels"]

_TIMEOUT = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": 60,
    "default": 1,
    "description": "Seconds to wait for a connection or an answer; keep it below the host's "
    "REVLINK_PLUGIN_CALL_TIMEOUT",
}
_TCP = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "minLength": 1, "description": "Host name or IP address"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 502},
        "timeout": _TIMEOUT,
    },
    "required": ["host"],
    "additionalProperties": False,
}
_SERIAL = {
    "type": "object",
    "properties": {
        "port": {"type": "string", "minLength": 1, "description": "e.g. /dev/ttyRS485"},
        "baud": {"type": "integer", "minimum": 300, "maximum": 4000000, "default": 9600},
        "parity": {"enum": ["N", "E", "O"], "default": "N"},
        "data_bits": {"enum": [7, 8], "default": 8, "description": "8 for RTU; 7 or 8 for ASCII"},
        "stop_bits": {"enum": [1, 2], "default": 1},
        "timeout": _TIMEOUT,
        "framing": {"enum": ["rtu", "ascii"], "default": "rtu"},
    },
    "required": ["port"],
    "additionalProperties": False,
}
_NUMBER = {"type": "number"}
_CHANNEL = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$", "maxLength": 64},
        "name": {"type": "string", "minLength": 1, "maxLength": 300},
        "unit": {"type": "string", "maxLength": 32},
        "register": {"enum": list(TABLES)},
        "address": {"type": "integer", "minimum": 0, "maximum": MAX_ADDRESS},
        "type": {"enum": list(VALUE_TYPES)},
        "word_order": {"enum": ["big", "little"]},
        "scale": _NUMBER,
        "offset": _NUMBER,
        "writable": {"type": "boolean", "default": False},
        "min": _NUMBER,
        "max": _NUMBER,
        "safe_value": {"type": ["boolean", "number"]},
    },
    "required": ["id", "register", "address"],
    "additionalProperties": False,
}
CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        # Exactly one of the two: parse_channels refuses neither and both, naming (root).
        "tcp": {**_TCP, "description": "Modbus TCP; give this or serial"},
        "serial": {**_SERIAL, "description": "A serial line (RS-485); give this or tcp"},
        "slave_id": {
            "type": "integer",
            "minimum": 0,
            "maximum": 255,
            "default": 1,
            "description": "Unit id of the device (1-247 on a serial line)",
        },
        "channels": {"type": "array", "items": _CHANNEL, "minItems": 1},
        "max_registers_per_read": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_REGISTERS_PER_READ,
            "default": MAX_REGISTERS_PER_READ,
        },
        "max_bits_per_read": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_BITS_PER_READ,
            "default": MAX_BITS_PER_READ,
        },
        "max_gap": {
            "type": "integer",
            "minimum": 0,
            "description": "Most unused addresses one read may span; default: any",
        },
    },
    "required": ["channels"],
    "additionalProperties": False,
}


def _bounds(
    index: int, item: Mapping[str, Any], spec: RegisterChannel
) -> tuple[float | None, float | None]:
    """A writable integer channel's min/max: the user's, within what the register holds, and
    rounded inwards to the register's resolution, so that every value in range is writable."""
    low: float | None = item.get("min")
    high: float | None = item.get("max")
    if spec.is_bool or spec.value_type == "float32" or not spec.writable:
        return low, high
    raw_low, raw_high = INTEGER_RANGES[spec.value_type]
    # A negative scale turns the order round: the highest value comes from the lowest raw.
    raw_for_low, raw_for_high = (low, high) if spec.scale > 0 else (high, low)
    if raw_for_low is not None:
        raw_low = max(raw_low, math.ceil(inverse(raw_for_low, spec.scale, spec.offset)))
    if raw_for_high is not None:
        raw_high = min(raw_high, math.floor(inverse(raw_for_high, spec.scale, spec.offset)))
    if raw_low > raw_high:
        given = ", ".join(f"{k} {item[k]}" for k in ("min", "max") if k in item)
        raise InvalidConfigError(
            f"channels.{index}.min", f"a {spec.value_type} register holds no value within {given}"
        )
    ends = sorted((spec.engineering(raw_low), spec.engineering(raw_high)))
    return ends[0], ends[1]


def _channel(index: int, item: Mapping[str, Any]) -> RegisterChannel:
    """Channel ``index`` of the config, refused with the path of the first field that is wrong."""
    where = f"channels.{index}"
    table = item["register"]
    label, bit_table, writable_table = TABLES[table]
    value_type = item.get("type", "bool" if bit_table else "uint16")
    if bit_table != (value_type == "bool"):
        wanted = "bool" if bit_table else "int16, uint16, int32, uint32 or float32"
        raise InvalidConfigError(f"{where}.type", f"{label} hold {wanted}, not {value_type}")
    writable = bool(item.get("writable", False))
    if writable and not writable_table:
        raise InvalidConfigError(
            f"{where}.writable", f"{label} are read-only; coils and holding registers are writable"
        )
    words = VALUE_TYPES[value_type][1]
    if item["address"] + max(1, words) - 1 > MAX_ADDRESS:
        raise InvalidConfigError(f"{where}.address", f"a {value_type} does not fit at the end")
    if value_type == "bool":
        for key in ("scale", "offset", "word_order", "min", "max"):
            if key in item:
                raise InvalidConfigError(f"{where}.{key}", "does not apply to a bool channel")
    elif words == 1 and "word_order" in item:
        raise InvalidConfigError(f"{where}.word_order", "applies to 32-bit types only")
    scale = item.get("scale", 1)
    if scale == 0:
        raise InvalidConfigError(f"{where}.scale", "must not be 0")
    if "min" in item and "max" in item and item["min"] > item["max"]:
        raise InvalidConfigError(f"{where}.max", f"{item['max']} is below min {item['min']}")
    spec = RegisterChannel(
        id=item["id"],
        name=str(item.get("name") or item["id"].replace("_", " ").capitalize()),
        unit=item.get("unit", ""),
        table=table,
        address=item["address"],
        value_type=value_type,
        word_order=item.get("word_order", "big"),
        scale=scale,
        offset=item.get("offset", 0),
        writable=writable,
        min=None,
        max=None,
        safe_value=None,
    )
    low, high = _bounds(index, item, spec)
    safe = item.get("safe_value")
    if safe is not None:
        if not writable:
            raise InvalidConfigError(f"{where}.safe_value", "only a writable channel has one")
        if spec.is_bool != isinstance(safe, bool):
            kind = "true or false" if spec.is_bool else "a number"
            raise InvalidConfigError(f"{where}.safe_value", f"must be {kind}, not {safe!r}")
        if (low is not None and safe < low) or (high is not None and safe > high):
            raise InvalidConfigError(f"{where}.safe_value", f"{safe} is not within [{low}, {high}]")
    return dataclasses.replace(spec, min=low, max=high, safe_value=safe)


def parse_channels(config: Mapping[str, Any]) -> list[RegisterChannel]:
    """The channels of a schema-valid config, after the checks a schema cannot make."""
    specs: list[RegisterChannel] = []
    seen: set[str] = set()
    for index, item in enumerate(config["channels"]):
        if item["id"] in seen:
            raise InvalidConfigError(f"channels.{index}.id", f"{item['id']!r} is declared twice")
        seen.add(item["id"])
        specs.append(_channel(index, item))
    if config.get("max_registers_per_read", 2) < 2 and any(s.width == 2 for s in specs):
        raise InvalidConfigError(
            "max_registers_per_read", "a 32-bit channel needs at least 2 registers per read"
        )
    if ("tcp" in config) == ("serial" in config):
        raise InvalidConfigError("(root)", "needs exactly one of tcp and serial")
    slave = config.get("slave_id", 1)
    if "serial" in config:
        serial = config["serial"]
        if serial.get("framing", "rtu") == "rtu" and serial.get("data_bits", 8) != 8:
            raise InvalidConfigError("serial.data_bits", "RTU framing takes 8 data bits")
        if not 1 <= slave <= 247:
            raise InvalidConfigError("slave_id", f"{slave} is not 1-247, as on a serial line")
    return specs
