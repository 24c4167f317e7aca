"""apps.sdk.config against pydoover's config: its elements, options, JSON Schema and file layout.

The schema below is written as a pydoover app writes one (``from pydoover import config`` with
only the import changed, elements assigned in ``__init__``), using every element and option.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import apps.sdk
from apps.sdk import config


class SensorType(enum.Enum):
    SUBMERSIBLE = "Submersible"
    RADAR = "Radar"


class TankConfig(config.Schema):
    def __init__(self) -> None:
        self.sensor_pin = config.Integer(
            "Sensor Pin", minimum=0, maximum=3, description="AI pin of the level sensor"
        )
        self.sensor_type = config.Enum(
            "Sensor Type", choices=SensorType, default=SensorType.SUBMERSIBLE
        )
        radar = config.equal(self.sensor_type, SensorType.RADAR)
        self.radar_offset = config.Number("Radar Offset", default=0.0, show_if=radar)
        self.radar_address = config.Integer("Radar Address", minimum=1, show_if=radar)
        self.full_level = config.Number("Full Level", default=2.5, exclusive_minimum=0, position=20)
        self.site_name = config.String(
            "Site Name", length=32, default=config.Variable("Site", "Display Name")
        )
        self.commissioned = config.DateTime("Commissioned", default=None)
        self.debug = config.Boolean("Debug", default=False, hidden=True, advanced=True)
        self.legacy_mode = config.Boolean("Legacy Mode", default=False, deprecated=True)
        self.pump_app = config.Application("Pump App", description="The pump controller")
        self.installs = config.ApplicationInstall(required=False)
        self.viewers = config.DevicesConfig(max_items=4)
        self.owners = config.GroupsConfig(required=False)
        self.thresholds = config.Array(
            "Thresholds", element=config.Number("Threshold"), min_items=1, unique_items=True
        )
        self.alarm = config.Object("Alarm", additional_elements=False, collapsible=True)
        self.alarm.add_elements(
            config.Number("High", default=90.0), config.Device("Siren", required=False)
        )


def head(title: str, key: str, json_type: str, required: bool) -> dict[str, Any]:
    """pydoover's leading keys of a property; an optional one's type admits null."""
    kind = json_type if required else [json_type, "null"]
    return {"title": title, "x-name": key, "x-hidden": False, "type": kind, "x-required": required}


DEVICE = head("Device", "device", "string", True) | {
    "format": "doover-resource-device",
    "description": "Device ID",
    "pattern": r"\d+",
}
GROUP = head("Group", "group", "string", True) | {
    "format": "doover-resource-group",
    "description": "Group ID",
    "pattern": r"\d+",
}
EXPECTED: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "",
    "title": "tank-monitor",
    "type": "object",
    "properties": {
        "sensor_pin": head("Sensor Pin", "sensor_pin", "integer", True)
        | {
            "description": "AI pin of the level sensor",
            "minimum": 0,
            "maximum": 3,
            "x-position": 0,
        },
        "sensor_type": {"enum": ["Submersible", "Radar"]}
        | head("Sensor Type", "sensor_type", "string", False)
        | {"default": "Submersible", "x-position": 1},
        "full_level": head("Full Level", "full_level", "number", False)
        | {"default": 2.5, "x-position": 20, "exclusiveMinimum": 0},
        "site_name": head("Site Name", "site_name", "string", False)
        | {"default": "$site.display_name", "maxLength": 32, "length": 32, "x-position": 5},
        "commissioned": head("Commissioned", "commissioned", "string", False)
        | {"format": "date-time", "default": None, "x-position": 6},
        "debug": head("Debug", "debug", "boolean", False)
        | {"x-hidden": True, "default": False, "x-advanced": True, "x-position": 7},
        "legacy_mode": head("Legacy Mode", "legacy_mode", "boolean", False)
        | {"default": False, "deprecated": True, "x-position": 8},
        "pump_app": head("Pump App", "pump_app", "string", True)
        | {
            "format": "doover-application",
            "description": "The pump controller",
            "x-position": 9,
        },
        "applicationinstall": head("ApplicationInstall", "applicationinstall", "string", False)
        | {
            "format": "doover-application",
            "description": "Application Installation",
            "x-position": 10,
        },
        "devices": head("Devices", "devices", "array", True)
        | {
            "description": "List of devices to grant permissions to.",
            "maxItems": 4,
            "items": DEVICE,
            "x-position": 11,
        },
        "groups": head("Groups", "groups", "array", False)
        | {
            "description": "List of groups to grant permissions to.",
            "items": GROUP,
            "x-position": 12,
        },
        "thresholds": head("Thresholds", "thresholds", "array", True)
        | {
            "minItems": 1,
            "uniqueItems": True,
            "items": head("Threshold", "threshold", "number", True),
            "x-position": 13,
        },
        "alarm": head("Alarm", "alarm", "object", False)
        | {
            "properties": {
                "high": head("High", "high", "number", False) | {"default": 90.0, "x-position": 1},
                "siren": head("Siren", "siren", "string", False)
                | {
                    "format": "doover-resource-device",
                    "description": "Device ID",
                    "pattern": r"\d+",
                    "x-position": 2,
                },
            },
            "required": [],
            "additionalElements": False,
            "additionalProperties": False,
            "x-collapsible": True,
            "x-position": 14,
        },
    },
    "required": ["sensor_pin", "pump_app", "devices", "thresholds"],
    "allOf": [
        {
            "if": {
                "properties": {"sensor_type": {"const": "Radar"}},
                "required": ["sensor_type"],  # absent, it is Submersible, so the branch is off
            },
            "then": {
                "properties": {
                    "radar_offset": head("Radar Offset", "radar_offset", "number", False)
                    | {"default": 0.0, "x-position": 2},
                    "radar_address": head("Radar Address", "radar_address", "integer", True)
                    | {"minimum": 1, "x-position": 3},
                },
                "required": ["radar_address"],
            },
        }
    ],
    "additionalElements": True,
    "additionalProperties": True,
}
GOOD: dict[str, Any] = {
    "sensor_pin": 2,
    "pump_app": "pump_1",
    "devices": ["1234"],
    "thresholds": [10, 20.5],
    "AGENT_ID": "9f1c",  # the cloud adds these two to each app's deployment config
    "APP_DISPLAY_NAME": "Tank Monitor",
}


def refused(data: dict[str, Any]) -> list[str]:
    """Return the problems of injecting ``data`` into a fresh TankConfig (none if accepted)."""
    try:
        TankConfig()._inject_deployment_config(data)
    except config.ConfigError as exc:
        return exc.problems
    return []


def test_json_schema_has_pydoover_keys_and_show_if_branches() -> None:
    assert TankConfig.to_json_schema("tank-monitor") == EXPECTED
    jsonschema.Draft202012Validator.check_schema(EXPECTED)
    assert config.Application is not apps.sdk.Application  # the element, not the app class


def test_export_merges_into_an_existing_doover_config_json(tmp_path: Path) -> None:
    path = tmp_path / "doover_config.json"
    other = {"type": "docker", "config_schema": {"old": True}}
    path.write_text(json.dumps({"tank_monitor": {"image_name": "tank:1"}, "pump": other}))
    TankConfig().export(path, "tank_monitor")  # 0.x calls it on an instance; 1.x on the class
    written = json.loads(path.read_text())
    assert written == {
        "tank_monitor": {
            "image_name": "tank:1",
            "config_schema": TankConfig.to_json_schema("tank_monitor"),
        },
        "pump": other,
    }
    assert path.read_text() == json.dumps(written, indent=4) + "\n"  # pydoover's indent

    fresh = tmp_path / "new.json"
    TankConfig.export(fresh, "tank_monitor")
    assert list(json.loads(fresh.read_text())) == ["tank_monitor"]

    path.write_text("[1, 2]")
    with pytest.raises(config.ConfigError, match="expected a JSON object, got"):
        TankConfig.export(path, "tank_monitor")
    path.write_text('{"tank_monitor": 5}')
    with pytest.raises(config.ConfigError, match="tank_monitor: expected an object, got 5"):
        TankConfig.export(path, "tank_monitor")


def test_deployment_config_injection_fills_defaults() -> None:
    cfg = TankConfig()
    cfg._inject_deployment_config(GOOD)
    assert cfg.sensor_pin.value == 2
    assert cfg.sensor_type.value == "Submersible"
    assert cfg.sensor_type.member is SensorType.SUBMERSIBLE
    assert cfg.full_level.value == 2.5
    assert cfg.site_name.value == config.Variable("site", "display_name")  # as in pydoover
    assert cfg.commissioned.value is None
    assert (cfg.debug.value, cfg.legacy_mode.value) == (False, False)
    assert cfg.viewers.value == ["1234"]
    assert [e.value for e in cfg.viewers.elements] == ["1234"]
    assert cfg.owners.value is None
    assert cfg.alarm.value == {"high": 90.0, "siren": None}
    assert (cfg.radar_offset.value, cfg.radar_address.value) == (0.0, None)
    jsonschema.validate(GOOD, EXPECTED)


def test_missing_required_fields_and_wrong_types_are_named() -> None:
    assert refused({}) == [
        "sensor_pin: required",
        "pump_app: required",
        "devices: required",
        "thresholds: required",
    ]
    assert refused(GOOD | {"sensor_pin": "2", "commissioned": "yesterday"}) == [
        "sensor_pin: expected an integer, got '2'",
        "commissioned: 'yesterday' is not an ISO 8601 date and time",
    ]
    assert refused(GOOD | {"devices": ["abc"], "alarm": {"high": 95.0, "volume": 3}}) == [
        "devices[0]: 'abc' does not match the pattern '\\\\d+'",
        "alarm.volume: unknown key",  # additional_elements=False, as pydoover refuses it
    ]
    cfg = TankConfig()
    cfg._inject_deployment_config(GOOD | {"commissioned": "2024-05-01T06:30:00Z"})
    assert cfg.commissioned.value == "2024-05-01T06:30:00Z"  # a string, as in pydoover
    with pytest.raises(ValueError, match="sensor_pin: required"):  # pydoover raised ValueError
        TankConfig()._inject_deployment_config({"pump_app": "p"})


def test_show_if_is_honoured_by_the_loader_as_by_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(EXPECTED)
    off = GOOD | {"radar_offset": "ignored"}  # not shown: not required, and its data ignored
    assert refused(off) == []
    assert validator.is_valid(off)
    cfg = TankConfig()
    cfg._inject_deployment_config(off)
    assert (cfg.radar_offset.value, cfg.radar_address.value) == (0.0, None)

    radar = GOOD | {"sensor_type": "Radar"}
    assert refused(radar) == ["radar_address: required"]
    assert not validator.is_valid(radar)
    assert refused(radar | {"radar_address": 0}) == ["radar_address: 0 is below the minimum 1"]
    assert not validator.is_valid(radar | {"radar_address": 0})
    cfg._inject_deployment_config(radar | {"radar_address": 7, "radar_offset": 0.25})
    assert (cfg.radar_offset.value, cfg.radar_address.value) == (0.25, 7)
    assert cfg.sensor_type.member is SensorType.RADAR
    assert validator.is_valid(radar | {"radar_address": 7, "radar_offset": 0.25})


class Pump(config.Schema, name="Pump Settings"):  # pydoover 1.x style: class attributes
    mode = config.Enum("Mode", choices=["auto", "manual", "off"], default="auto")
    target = config.Number("Target", minimum=0, show_if=config.equal(mode, "auto"))
    speed = config.Integer("Speed", default=50, show_if=config.equal("mode", "manual"))
    ramp = config.Integer("Ramp", default=5, show_if=config.equal(mode, "manual"))


def test_class_attribute_schema_groups_branches_by_condition() -> None:
    schema = Pump.to_json_schema()
    assert schema["title"] == "Pump Settings"
    assert list(schema["properties"]) == ["mode"]
    auto, manual = schema["allOf"]
    assert auto["if"] == {"properties": {"mode": {"const": "auto"}}}  # the default is auto
    assert auto["then"]["required"] == ["target"]
    assert manual["if"] == {"properties": {"mode": {"const": "manual"}}, "required": ["mode"]}
    assert list(manual["then"]["properties"]) == ["speed", "ramp"]
    assert "required" not in manual["then"]
    pump = Pump()
    with pytest.raises(config.ConfigError, match="target: required"):
        pump.load({})
    pump.load({"mode": "manual"})
    assert pump.values() == {"mode": "manual", "target": None, "speed": 50, "ramp": 5}


def test_show_if_mistakes_fail_at_declaration() -> None:
    with pytest.raises(ValueError, match="show_if refers to 'nope', not a sibling"):

        class Unknown(config.Schema):
            a = config.Integer("A", show_if=config.equal("nope", 1))

    with pytest.raises(ValueError, match="cannot depend on the element itself"):

        class Itself(config.Schema):
            a = config.Integer("A", show_if=config.equal("a", 1))

    with pytest.raises(ValueError, match="cannot depend on 'b', a shown-if"):

        class Chained(config.Schema):
            a = config.Integer("A", default=1)
            b = config.Integer("B", default=1, show_if=config.equal(a, 1))
            c = config.Integer("C", default=1, show_if=config.equal(b, 1))

    nested = config.Object("O", x=config.Integer("X", show_if=config.equal("y", 1)))
    with pytest.raises(ValueError, match="show_if refers to 'y'"):
        nested.to_json_schema()


def test_an_enum_of_numbers_takes_the_text_pydoover_sends() -> None:
    class Gain(enum.Enum):
        LOW = 1
        HIGH = 10

    gain = config.Enum("Gain", choices=Gain, default=Gain.LOW)
    gain.value = "10"  # pydoover's choices for an enum class are str(value)
    assert (gain.value, gain.member) == (10, Gain.HIGH)
    gain.value = 1
    assert gain.member is Gain.LOW
