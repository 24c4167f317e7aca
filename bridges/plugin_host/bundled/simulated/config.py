"""The simulated device's config: its JSON Schema, its defaults and the checks a schema can't do.

A config names its input channels, each with a signal, and its outputs::

    {"seed": 7,
     "channels": [{"id": "tank_temp", "unit": "degC", "signal": "sine",
                   "amplitude": 5, "period_s": 60, "offset": 20}],
     "outputs": [{"id": "setpoint", "unit": "%", "min": 0, "max": 100, "safe_value": 0}]}

Signals and their parameters:

- ``sine``: ``amplitude``, ``period_s``, ``offset`` (default 0), ``noise`` (default 0; uniform,
  at most this far off the curve).
- ``random_walk``: ``step`` (the most it moves per read), ``min``, ``max``, ``start`` (default
  halfway between min and max).
- ``step``: ``values`` (one or more numbers), ``period_s`` (how long each value holds).

A config with neither ``channels`` nor ``outputs`` gets :data:`DEFAULT_CHANNELS` and
:data:`DEFAULT_OUTPUTS`; once either is given, the other one defaults to none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridges.plugin_host.sdk import InvalidConfigError

__all__ = [
    "CONFIG_SCHEMA",
    "DEFAULT_CHANNELS",
    "DEFAULT_OUTPUTS",
    "InputSpec",
    "OutputSpec",
    "parse",
]

_NUMBER = {"type": "number"}
_PERIOD = {"type": "number", "exclusiveMinimum": 0}
_COMMON = ("id", "name", "unit", "signal")
_SIGNAL_PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "sine": {
        "amplitude": _NUMBER,
        "period_s": _PERIOD,
        "offset": {"type": "number", "default": 0},
        "noise": {"type": "number", "minimum": 0, "default": 0},
    },
    "random_walk": {
        "start": _NUMBER,
        "step": {"type": "number", "minimum": 0},
        "min": _NUMBER,
        "max": _NUMBER,
    },
    "step": {
        "values": {"type": "array", "items": _NUMBER, "minItems": 1},
        "period_s": _PERIOD,
    },
}
_REQUIRED: dict[str, list[str]] = {
    "sine": ["amplitude", "period_s"],
    "random_walk": ["step", "min", "max"],
    "step": ["values", "period_s"],
}
_ID = {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"}
_TEXT = {"type": "string"}


def _input_schema() -> dict[str, Any]:
    params: dict[str, Any] = {}
    for signal_params in _SIGNAL_PARAMS.values():
        params.update(signal_params)
    # additionalProperties only sees the union of all parameters; each signal's branch then
    # refuses the parameters of the others. An unknown signal fails only on its enum, so the
    # error names the "signal" field rather than the whole item.
    branches = [
        {
            "if": {"properties": {"signal": {"const": signal}}, "required": ["signal"]},
            "then": {
                "required": _REQUIRED[signal],
                "propertyNames": {"enum": [*_COMMON, *_SIGNAL_PARAMS[signal]]},
            },
        }
        for signal in _SIGNAL_PARAMS
    ]
    return {
        "type": "object",
        "properties": {
            "id": _ID,
            "name": _TEXT,
            "unit": _TEXT,
            "signal": {"enum": list(_SIGNAL_PARAMS)},
            **params,
        },
        "required": ["id", "signal"],
        "additionalProperties": False,
        "allOf": branches,
    }


CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "seed": {"type": "integer", "description": "Makes every reading reproducible"},
        "channels": {"type": "array", "items": _input_schema()},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": _ID,
                    "name": _TEXT,
                    "unit": _TEXT,
                    "min": _NUMBER,
                    "max": _NUMBER,
                    "safe_value": _NUMBER,
                    "initial": _NUMBER,
                },
                "required": ["id"],
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}

DEFAULT_CHANNELS: list[dict[str, Any]] = [
    {
        "id": "tank_temp",
        "name": "Tank temperature",
        "unit": "degC",
        "signal": "sine",
        "amplitude": 5,
        "period_s": 60,
        "offset": 20,
        "noise": 0.2,
    },
    {
        "id": "line_pressure",
        "name": "Line pressure",
        "unit": "bar",
        "signal": "random_walk",
        "start": 2.0,
        "step": 0.05,
        "min": 0,
        "max": 6,
    },
    {
        "id": "valve_state",
        "name": "Valve state",
        "signal": "step",
        "values": [0, 1],
        "period_s": 30,
    },
]
DEFAULT_OUTPUTS: list[dict[str, Any]] = [
    {"id": "setpoint", "name": "Setpoint", "unit": "%", "min": 0, "max": 100, "safe_value": 0},
]


@dataclass(frozen=True, slots=True)
class InputSpec:
    id: str
    name: str
    unit: str
    signal: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OutputSpec:
    id: str
    name: str
    unit: str
    min: float | None
    max: float | None
    safe_value: float | None
    initial: float


def _name(item: Mapping[str, Any]) -> str:
    return str(item.get("name") or item["id"].replace("_", " ").capitalize())


def _within(value: float | None, low: float | None, high: float | None) -> bool:
    return value is None or ((low is None or value >= low) and (high is None or value <= high))


def _input(index: int, item: Mapping[str, Any]) -> InputSpec:
    params = {key: value for key, value in item.items() if key not in _COMMON}
    if item["signal"] == "random_walk":
        low, high = params["min"], params["max"]
        if low > high:
            raise InvalidConfigError(f"channels.{index}.max", f"{high} is below min {low}")
        params.setdefault("start", (low + high) / 2)
        if not _within(params["start"], low, high):
            raise InvalidConfigError(f"channels.{index}.start", f"not within [{low}, {high}]")
    return InputSpec(item["id"], _name(item), item.get("unit", ""), item["signal"], params)


def _output(index: int, item: Mapping[str, Any]) -> OutputSpec:
    low, high = item.get("min"), item.get("max")
    if low is not None and high is not None and low > high:
        raise InvalidConfigError(f"outputs.{index}.max", f"{high} is below min {low}")
    for key in ("safe_value", "initial"):
        if not _within(item.get(key), low, high):
            raise InvalidConfigError(f"outputs.{index}.{key}", f"not within [{low}, {high}]")
    safe_value = item.get("safe_value")
    if "initial" in item:
        initial = item["initial"]
    elif safe_value is not None:
        initial = safe_value
    else:  # zero, or the bound nearest to it when the range excludes zero
        initial = 0
        if low is not None:
            initial = max(initial, low)
        if high is not None:
            initial = min(initial, high)
    return OutputSpec(item["id"], _name(item), item.get("unit", ""), low, high, safe_value, initial)


def parse(config: Mapping[str, Any]) -> tuple[list[InputSpec], list[OutputSpec]]:
    """The channels of a schema-valid config, after the checks across fields."""
    if "channels" not in config and "outputs" not in config:
        config = {**config, "channels": DEFAULT_CHANNELS, "outputs": DEFAULT_OUTPUTS}
    inputs = [_input(i, item) for i, item in enumerate(config.get("channels", []))]
    outputs = [_output(i, item) for i, item in enumerate(config.get("outputs", []))]
    seen: set[str] = set()
    fields: Sequence[tuple[str, str]] = [
        *((f"channels.{i}.id", spec.id) for i, spec in enumerate(inputs)),
        *((f"outputs.{i}.id", spec.id) for i, spec in enumerate(outputs)),
    ]
    for field, channel_id in fields:
        if channel_id in seen:
            raise InvalidConfigError(field, f"channel id {channel_id!r} is used twice")
        seen.add(channel_id)
    return inputs, outputs
