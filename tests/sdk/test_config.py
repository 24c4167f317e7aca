"""apps.sdk.config: JSON Schema export, strict validation, all-or-nothing loads, pydoover parity."""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path
from typing import Any

import pytest

from apps.sdk.config import (
    Array,
    Boolean,
    ConfigElement,
    ConfigError,
    Enum,
    Integer,
    Number,
    Object,
    Schema,
    String,
)


class Tank(Schema):
    name = String("Name", max_length=8, pattern=r"^[a-z]+$", description="Shown on the dashboard")
    level = Integer("Level", minimum=0, maximum=100, multiple_of=5, default=50)
    rate = Number("Rate", minimum=0.5, exclusive_maximum=10)
    enabled = Boolean("Enabled", default=True, hidden=True)
    mode = Enum("Mode", choices=["auto", "manual"], default="auto")
    setpoints = Array("Setpoints", element=Number("Setpoint"), min_items=1, unique_items=True)
    pump = Object(
        "Pump", pin=Integer("Pin", minimum=0), max_level=Integer("Max Level", maximum=100)
    )
    alarm = Object("Alarm", high=Number("High", default=90), low=Number("Low", default=10.5))


GOOD: dict[str, Any] = {
    "name": "tank",
    "rate": 2,
    "setpoints": [1, 2.5],
    "pump": {"pin": 3, "max_level": 80},
}


def problems(element: ConfigElement[Any], data: object) -> list[str]:
    """Return the problems of setting one element's value (an empty list when it is accepted)."""
    try:
        element.value = data
    except ConfigError as exc:
        return exc.problems
    return []


def prop(
    title: str, key: str, json_type: str, position: int, *, hidden: bool = False, **extra: Any
) -> dict[str, Any]:
    """A property as exported: pydoover's keys, then the type's own; optional means nullable."""
    required = not extra.pop("optional", "default" in extra)
    kind = json_type if required else [json_type, "null"]
    head = {"title": title, "x-name": key, "x-hidden": hidden, "type": kind}
    return head | {"x-required": required, "x-position": position} | extra


def test_json_schema_export_of_every_element_type() -> None:
    text = {"description": "Shown on the dashboard", "maxLength": 8, "length": 8}
    setpoint = {"title": "Setpoint", "x-name": "setpoint", "x-hidden": False, "type": "number"}
    assert Tank.to_json_schema("tank-app") == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "",
        "title": "tank-app",
        "type": "object",
        "properties": {
            "name": prop("Name", "name", "string", 0, **text, pattern="^[a-z]+$"),
            "level": prop(
                "Level", "level", "integer", 1, default=50, minimum=0, maximum=100, multipleOf=5
            ),
            "rate": prop("Rate", "rate", "number", 2, minimum=0.5, exclusiveMaximum=10),
            "enabled": prop("Enabled", "enabled", "boolean", 3, default=True, hidden=True),
            "mode": prop("Mode", "mode", "string", 4, default="auto", enum=["auto", "manual"]),
            "setpoints": prop(
                "Setpoints",
                "setpoints",
                "array",
                5,
                items=setpoint | {"x-required": True},
                minItems=1,
                uniqueItems=True,
            ),
            "pump": prop(
                "Pump",
                "pump",
                "object",
                6,
                properties={
                    "pin": prop("Pin", "pin", "integer", 1, minimum=0),
                    "max_level": prop("Max Level", "max_level", "integer", 2, maximum=100),
                },
                required=["pin", "max_level"],
                additionalElements=True,
                additionalProperties=True,
            ),
            "alarm": prop(
                "Alarm",
                "alarm",
                "object",
                7,
                optional=True,
                properties={
                    "high": prop("High", "high", "number", 1, default=90),
                    "low": prop("Low", "low", "number", 2, default=10.5),
                },
                required=[],
                additionalElements=True,
                additionalProperties=True,
            ),
        },
        "required": ["name", "rate", "setpoints", "pump"],
        "additionalElements": True,
        "additionalProperties": True,
    }
    assert Tank.to_json_schema()["title"] == "Tank"
    assert Tank.to_schema("x") == Tank().to_dict("x") == Tank.to_json_schema("x")  # pydoover names


def test_export_writes_doover_config_json(tmp_path: Path) -> None:
    path = tmp_path / "doover_config.json"
    Tank.export(path, "tank-app")
    expected = {"tank-app": {"config_schema": Tank.to_json_schema("tank-app")}}
    assert path.read_text() == json.dumps(expected, indent=4) + "\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, []),
        (100, []),
        (-1, ["x: -1 is below the minimum 0"]),
        (101, ["x: 101 is above the maximum 100"]),
        (True, ["x: expected an integer, got True"]),
        (3.0, ["x: expected an integer, got 3.0"]),  # strict: JSON sends ints as ints
        ("3", ["x: expected an integer, got '3'"]),
    ],
)
def test_integer(value: object, expected: list[str]) -> None:
    element = Integer("x", minimum=0, maximum=100)
    assert problems(element, value) == expected
    if not expected:
        assert element.value == value
        assert type(element.value) is int


def test_integer_multiple_of_and_exclusive_bounds() -> None:
    element = Integer("x", multiple_of=5, exclusive_minimum=0, exclusive_maximum=20)
    assert problems(element, 15) == []
    assert problems(element, 12) == ["x: 12 is not a multiple of 5"]
    assert problems(element, 0) == ["x: 0 is not above the exclusive minimum 0"]
    assert problems(element, 20) == ["x: 20 is not below the exclusive maximum 20"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, []),
        (10, []),
        (0.49, ["x: 0.49 is below the minimum 0.5"]),
        (10.01, ["x: 10.01 is above the maximum 10"]),
        (False, ["x: expected a number, got False"]),
        ("a", ["x: expected a number, got 'a'"]),
        (math.nan, ["x: expected a finite number, got nan"]),
        (math.inf, ["x: expected a finite number, got inf"]),
        (-math.inf, ["x: expected a finite number, got -inf"]),
    ],
)
def test_number(value: object, expected: list[str]) -> None:
    element = Number("x", minimum=0.5, maximum=10)
    assert problems(element, value) == expected
    if not expected:
        assert element.value == value
        assert type(element.value) is float


def test_number_multiple_of_tolerates_float_rounding() -> None:
    element = Number("x", multiple_of=0.1)
    assert problems(element, 0.3) == []
    assert problems(element, 0.35) == ["x: 0.35 is not a multiple of 0.1"]


def test_boolean_accepts_only_bools() -> None:
    element = Boolean("x")
    assert problems(element, False) == []
    assert element.value is False
    assert problems(element, 1) == ["x: expected a boolean, got 1"]
    assert problems(element, "true") == ["x: expected a boolean, got 'true'"]


def test_string_length_and_pattern() -> None:
    element = String("x", length=5, pattern=r"^\d+$")  # length: pydoover's name for max_length
    assert problems(element, "12345") == []
    assert problems(element, "123456") == ["x: '123456' is longer than 5 characters"]
    assert problems(element, "12a") == ["x: '12a' does not match the pattern '^\\\\d+$'"]
    assert problems(element, "abcdef") == [
        "x: 'abcdef' is longer than 5 characters",
        "x: 'abcdef' does not match the pattern '^\\\\d+$'",
    ]
    assert problems(element, 5) == ["x: expected a string, got 5"]
    assert String("x", max_length=3).to_json_schema()["maxLength"] == 3


def test_enum_of_a_list() -> None:
    mode = Enum("mode", choices=["auto", "manual"])
    assert problems(mode, "manual") == []
    assert mode.value == "manual"
    assert mode.member is None
    assert problems(mode, "x") == ["mode: 'x' is not one of ['auto', 'manual']"]
    numbers = Enum("Numbers", choices=[1, 2.5])
    assert numbers.to_json_schema() == {
        "enum": [1, 2.5],
        "title": "Numbers",
        "x-name": "numbers",
        "x-hidden": False,
        "type": "number",
        "x-required": True,
    }
    assert problems(numbers, 1.0) == []
    assert numbers.value == 1
    assert problems(numbers, True) == [
        "numbers: True is not one of [1, 2.5]"
    ]  # JSON: true is not 1


class Mode(enum.Enum):
    AUTO = "auto"
    MANUAL = "manual"


class Speed:
    """An enum value that is not a JSON scalar: pydoover uses its ``str()`` as the choice."""

    def __init__(self, label: str, rpm: int) -> None:
        self.label, self.rpm = label, rpm

    def __str__(self) -> str:
        return self.label


class Speeds(enum.Enum):
    SLOW = Speed("slow", 600)
    FAST = Speed("fast", 1800)


def test_enum_of_a_python_enum() -> None:
    mode = Enum("Mode", choices=Mode, default=Mode.MANUAL)
    assert mode.to_json_schema() == {
        "enum": ["auto", "manual"],
        "title": "Mode",
        "x-name": "mode",
        "x-hidden": False,
        "type": ["string", "null"],
        "x-required": False,
        "default": "manual",
    }
    assert (mode.value, mode.member) == ("manual", Mode.MANUAL)  # the default, before a load
    mode.value = "auto"
    assert (mode.value, mode.member) == ("auto", Mode.AUTO)
    speed = Enum("Speed", choices=Speeds, default=Speeds.SLOW)
    assert speed.to_json_schema()["enum"] == ["slow", "fast"]
    assert problems(speed, "fast") == []
    assert speed.value.rpm == 1800
    assert speed.member is Speeds.FAST
    assert problems(speed, "medium") == ["speed: 'medium' is not one of ['slow', 'fast']"]


def test_array_items_count_uniqueness_and_type() -> None:
    element = Array(
        "xs", element=Integer("x", maximum=9), min_items=1, max_items=3, unique_items=True
    )
    assert problems(element, [1, 2, 3]) == []
    assert problems(element, []) == ["xs: has 0 items, fewer than the minimum 1"]
    assert problems(element, [1, 2, 3, 4]) == ["xs: has 4 items, more than the maximum 3"]
    assert problems(element, [1, 1]) == ["xs: items are not unique"]
    assert problems(element, [1, 10, "a"]) == [
        "xs[1]: 10 is above the maximum 9",
        "xs[2]: expected an integer, got 'a'",
    ]
    assert problems(element, {"a": 1}) == ["xs: expected a list, got {'a': 1}"]
    flags = Array("flags", element=Number("f"), unique_items=True)
    assert problems(flags, [1, 1.0]) == ["flags: items are not unique"]  # JSON: 1 equals 1.0
    untyped = Array("Untyped", unique_items=True)
    assert problems(untyped, [True, 1, "1", {"a": [1]}]) == []  # true, 1 and "1" all differ


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    data = {
        "rate": 0.2,
        "mode": "x",
        "setpoints": [1, 2, "a"],
        "pump": {"max_level": 120},
        "alarm": [],
    }
    with pytest.raises(ConfigError) as caught:
        Tank().load(data)
    assert caught.value.problems == [
        "name: required",
        "rate: 0.2 is below the minimum 0.5",
        "mode: 'x' is not one of ['auto', 'manual']",
        "setpoints[2]: expected a number, got 'a'",
        "pump.pin: required",
        "pump.max_level: 120 is above the maximum 100",
        "alarm: expected an object, got []",
    ]
    assert str(caught.value) == "; ".join(caught.value.problems)
    assert isinstance(caught.value, ValueError)


def test_a_failed_update_keeps_the_previous_values() -> None:
    config = Tank()
    config.load(GOOD | {"level": 70})
    before = config.values()
    with pytest.raises(ConfigError, match=r"pump\.max_level: 120 is above the maximum 100"):
        config.load(GOOD | {"level": 80, "pump": {"pin": 4, "max_level": 120}})
    assert config.values() == before
    assert config.level.value == 70
    assert config.pump.pin.value == 3


def test_defaults_fill_missing_and_null_keys() -> None:
    config = Tank()
    config.load(GOOD | {"mode": None})
    assert config.values() == {
        "name": "tank",
        "level": 50,
        "rate": 2.0,
        "enabled": True,
        "mode": "auto",
        "setpoints": [1.0, 2.5],
        "pump": {"pin": 3, "max_level": 80},
        "alarm": {"high": 90.0, "low": 10.5},
    }
    assert type(config.rate.value) is float
    assert type(config.alarm.high.value) is float
    assert config.pump.value == {"pin": 3, "max_level": 80}
    assert config.pump.max_level.value == 80  # children are attributes too


def test_unknown_keys_are_ignored() -> None:
    config = Tank()
    config.load(GOOD | {"AGENT_ID": 7, "APP_DISPLAY_NAME": "Tank", "pump": GOOD["pump"] | {"x": 1}})
    assert "AGENT_ID" not in config.values()
    assert config.pump.value == {"pin": 3, "max_level": 80}


def test_values_before_any_load() -> None:
    config = Tank()
    assert config.level.value == 50
    assert config.alarm.value == {"high": 90.0, "low": 10.5}
    with pytest.raises(ConfigError, match="name: required"):
        config.values()


def test_instances_do_not_share_values() -> None:
    first, second = Tank(), Tank()
    first.load(GOOD | {"level": 10})
    second.load(GOOD | {"level": 20, "pump": {"pin": 9, "max_level": 1}})
    assert (first.level.value, second.level.value) == (10, 20)
    assert (first.pump.pin.value, second.pump.pin.value) == (3, 9)
    assert first.pump is not second.pump
    assert first.pump.pin is not second.pump.pin
    assert Tank.level.value == 50  # the class template was never loaded


def test_load_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(GOOD))
    config = Tank()
    config.load_file(path)
    assert config.name.value == "tank"
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as caught:
        config.load_file(missing)
    assert caught.value.problems == [
        f"{missing}: cannot read the config file: No such file or directory"
    ]
    path.write_text('{"name": "tank",}')
    with pytest.raises(ConfigError) as caught:
        config.load_file(path)
    assert caught.value.problems[0].startswith(f"{path}: invalid JSON at line 1 column 17")
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"config: expected an object, got \[1, 2\]"):
        config.load_file(path)
    assert config.name.value == "tank"


def test_array_of_objects() -> None:
    pumps = Array(
        "Pumps",
        element=Object("Pump", pin=Integer("Pin"), rate=Number("Rate", default=1)),
        min_items=1,
    )
    assert pumps.to_json_schema()["items"]["required"] == ["pin"]
    assert problems(pumps, [{"pin": 1}, {"pin": 2, "rate": 2.5}]) == []
    assert pumps.value == [{"pin": 1, "rate": 1.0}, {"pin": 2, "rate": 2.5}]
    second = pumps.elements[1]  # pydoover's per-item view
    assert isinstance(second, Object)
    assert second.pin.value == 2
    assert second.rate.value == 2.5
    assert problems(pumps, [{"pin": "a"}, {}, 5]) == [
        "pumps[0].pin: expected an integer, got 'a'",
        "pumps[1].pin: required",
        "pumps[2]: expected an object, got 5",
    ]
    assert pumps.value[0] == {"pin": 1, "rate": 1.0}


def test_pydoover_0x_style_init_and_object_subclass() -> None:
    class Valve(Object):
        pin = Integer("Pin")
        open_secs = Number("Open Secs", default=2)

    class Legacy(Schema):
        def __init__(self) -> None:  # 0.x apps declare here and do not call super().__init__()
            self.threshold = Number("Threshold", default=1.5)
            self.valve = Valve("Valve")
            self.extra = Object("Extra")
            self.extra.add_elements(Integer("Retry Count", default=3), Boolean("On", name="on_"))

    config = Legacy()
    assert list(config.to_json_schema()["properties"]) == ["threshold", "valve", "extra"]
    assert list(config.to_json_schema()["properties"]["extra"]["properties"]) == [
        "retry_count",
        "on_",
    ]
    config.load({"valve": {"pin": 2}, "extra": {"on_": True}})
    assert config.values() == {
        "threshold": 1.5,
        "valve": {"pin": 2, "open_secs": 2.0},
        "extra": {"retry_count": 3, "on_": True},
    }
    assert config.valve.pin.value == 2
    assert config.extra.retry_count.value == 3
    assert Legacy().valve is not config.valve


def test_name_overrides_the_key_and_nullable_defaults() -> None:
    class Renamed(Schema):
        pump_pin = Integer("Digital Output Number", name="digital_output_number")
        note = String("Note", default=None)
        extra = Integer("Extra", required=False)

    assert Renamed.to_json_schema()["required"] == ["digital_output_number"]
    assert Renamed.to_json_schema()["properties"]["note"]["type"] == ["string", "null"]
    config = Renamed()
    config.load({"digital_output_number": 4})
    assert config.pump_pin.value == 4
    nullable: list[object] = [config.note.value, config.extra.value]  # typed str/int; None here
    assert nullable == [None, None]
    assert config.values() == {"digital_output_number": 4, "note": None, "extra": None}


def test_declaration_mistakes_fail_early() -> None:
    with pytest.raises(ConfigError, match="level default: 200 is above the maximum 100"):

        class BadDefault(Schema):
            level = Integer("Level", maximum=100, default=200)

    with pytest.raises(ConfigError, match=r"expected an integer, got 3\.0"):
        Object("O", n=Integer("N", default=3.0))
    with pytest.raises(ConfigError, match="mode default: 'x' is not one of"):

        class BadEnum(Schema):
            mode = Enum("Mode", choices=["a"], default="x")

    with pytest.raises(ValueError, match="'values' is reserved by"):

        class Shadowing(Schema):
            values = Integer("Values")  # type: ignore[assignment]

    with pytest.raises(ValueError, match="'value' is reserved by"):
        Object("O", value=Integer("V"))
    with pytest.raises(ValueError, match="duplicate config key 'a'"):
        Object("O", a=Integer("A"), b=Integer("B", name="a"))
    with pytest.raises(ValueError, match="may only use letters"):
        Integer("x", name="a.b")
    with pytest.raises(TypeError, match="must be a ConfigElement"):
        Object("O", a=5)


def test_keys_follow_pydoover_display_names() -> None:
    """A pydoover 0.x app keeps its deployed config: keys come from display names."""

    class Pydoover(Schema):
        funny_message = String("A Funny Message", default="hi")
        pump_pin = Integer("Pump Pin", name="pin")

    assert set(Pydoover.to_json_schema()["properties"]) == {"a_funny_message", "pin"}
    config = Pydoover()
    config.load({"a_funny_message": "hello", "pin": 3})
    assert (config.funny_message.value, config.pump_pin.value) == ("hello", 3)
