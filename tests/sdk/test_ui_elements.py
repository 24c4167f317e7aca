"""``apps.sdk.ui``'s elements against pydoover 0.x: the dicts the dashboard reads.

Every expected dict below was written from pydoover 0.x's source (``pydoover/ui/*.py`` of
the 0.4 line), key for key, not from what this SDK produces.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.sdk import ui
from apps.sdk.ui.payload import json_safe, wrap_ui_state

BASE = {"showActivity": True, "hidden": False}  # what every plain element carries


def test_element_leaves_out_what_is_none_and_keeps_extras_as_attributes() -> None:
    element = ui.Element("tank", "Tank", help_str="the main tank", position=7, units="%")
    assert element.to_dict() == {
        "name": "tank",
        "type": "uiElement",
        "displayString": "Tank",
        "helpString": "the main tank",
        "showActivity": True,
        "position": 7,
        "hidden": False,
    }
    assert element.units == "%"  # pydoover's **kwargs
    assert ui.Element("old", display_str="Old name").display_name == "Old name"
    everything = ui.Element(
        "e",
        "E",
        is_available=False,
        verbose_str="v",
        form="f",
        graphic="g",
        layout="l",
        component_url="https://x.example/c.js",
        conditions={"a": 1},
        hidden=True,
        show_activity=False,
    ).to_dict()
    assert everything == {
        "name": "e",
        "type": "uiElement",
        "displayString": "E",
        "isAvailable": False,
        "verboseString": "v",
        "showActivity": False,
        "form": "f",
        "graphic": "g",
        "layout": "l",
        "componentUrl": "https://x.example/c.js",
        "conditions": {"a": 1},
        "hidden": True,
    }


def test_variables_and_their_ranges() -> None:
    level = ui.NumericVariable(
        "level",
        "Level",
        curr_val=42.36,
        precision=1,
        ranges=[
            ui.Range("Low", 0, 20, ui.Colour.red),
            {"min": 20, "max": 100, "colour": "green", "show_on_graph": False},
        ],
        form=ui.Widget.radial,
    )
    assert level.to_dict() == {
        "name": "level",
        "type": "uiVariable",
        "displayString": "Level",
        "showActivity": True,
        "form": "radialGauge",
        "hidden": False,
        "varType": "float",
        "currentValue": 42.36,  # as given: pydoover rounds what is set afterwards
        "decPrecision": 1,
        "ranges": [
            {"min": 0, "max": 20, "colour": "red", "show_on_graph": True, "label": "Low"},
            {"min": 20, "max": 100, "colour": "green", "show_on_graph": False},
        ],
    }
    level.current_value = 17.25
    assert level.to_dict()["currentValue"] == 17.2
    assert ui.TextVariable("state", "State").to_dict() == {
        "name": "state",
        "type": "uiVariable",
        "displayString": "State",
        **BASE,
        "varType": "string",
        "ranges": [],
    }
    assert ui.BooleanVariable("on", "On", curr_val=False).to_dict()["varType"] == "bool"
    assert ui.BooleanVariable("on", "On", curr_val=False).to_dict()["currentValue"] is False
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    dated = ui.DateTimeVariable("at", "At", curr_val=1767323045, earliest_data_time=when)
    assert (dated.to_dict()["varType"], dated.to_dict()["currentValue"]) == ("time", 1767323045)
    assert dated.to_dict()["earliestDataDate"] == 1767323045
    zoomed = ui.NumericVariable("z", "Z", default_zoom="1d").to_dict()
    assert zoomed["defaultZoom"] == "1d"
    assert "currentValue" not in zoomed  # no value yet


def test_timestamp_is_published_in_milliseconds() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert ui.Timestamp("seen", "Last seen", curr_val=when).to_dict() == {
        "name": "seen",
        "type": "uiTimestamp",
        "displayString": "Last seen",
        **BASE,
        "varType": "timestamp",
        "currentValue": 1767323045000,
        "ranges": [],
    }
    assert ui.Timestamp("seen", "Last seen").to_dict()["currentValue"] is None


def test_a_variable_without_a_value_takes_the_one_the_channel_kept() -> None:
    fresh = ui.Variable("level", "Level", "float")
    assert fresh.current_value is None
    fresh.recv_ui_state_update({"currentValue": 12})
    assert fresh.current_value == 12
    fresh.recv_ui_state_update({"currentValue": 99})  # it has one now: the app's wins
    assert fresh.current_value == 12


def test_log_thresholds_ask_for_a_logged_push() -> None:
    level = ui.NumericVariable("level", "Level", curr_val=10, log_threshold=5)
    level.current_value = 14
    assert not level.has_pending_log_request()
    level.current_value = 20
    assert level.has_pending_log_request()
    level.clear_log_request()
    flag = ui.BooleanVariable("on", "On", curr_val=False)  # 0: every change
    flag.current_value = True
    assert flag.has_pending_log_request()


def test_interactions() -> None:
    assert ui.Interaction("x", "X").to_dict() == {
        "name": "x",
        "type": "uiInteraction",
        "displayString": "X",
        "hidden": False,
    }  # no showActivity: interactions leave it to the site unless given
    shown = ui.Interaction("x", "X", current_value=3, show_activity=True).to_dict()
    assert (shown["currentValue"], shown["showActivity"]) == (3, True)
    assert ui.Action("go", "Go").to_dict() == {
        "name": "go",
        "type": "uiAction",
        "displayString": "Go",
        "hidden": False,
        "colour": "blue",
        "requiresConfirm": True,
        "disabled": False,
    }
    warning = ui.WarningIndicator("hot", "Too hot", can_cancel=False).to_dict()
    assert warning == {
        "name": "hot",
        "type": "uiWarningIndicator",
        "displayString": "Too hot",
        "hidden": False,
        "can_cancel": False,
    }
    assert ui.HiddenValue("secret", current_value=5).to_dict() == {
        "name": "secret",
        "type": "uiHiddenValue",
    }
    assert ui.SlimCommand("raw").to_dict() == {
        "name": "raw",
        "type": "uiStateCommand",
        "hidden": False,
    }
    mode = ui.StateCommand(
        "mode",
        "Mode",
        user_options=[ui.Option("auto", "Automatic"), {"name": "off", "display_str": "Off"}],
        current_value="auto",
    )
    assert mode.to_dict() == {
        "name": "mode",
        "type": "uiStateCommand",
        "displayString": "Mode",
        "hidden": False,
        "currentValue": "auto",
        "userOptions": {
            "auto": {"name": "auto", "displayString": "Automatic", "type": "uiElement"},
            "off": {"name": "off", "displayString": "Off", "type": "uiElement"},
        },
    }
    assert ui.StateCommand("empty").to_dict()["userOptions"] == {}
    assert ui.Slider("speed", "Speed").to_dict() == {
        "name": "speed",
        "type": "uiSlider",
        "displayString": "Speed",
        "hidden": False,
        "min": 0,
        "max": 100,
        "stepSize": 0.1,
        "dualSlider": True,
        "isInverted": True,
    }
    styled = ui.Slider("s", "S", icon="fa-fan", colours="red,green").to_dict()
    assert (styled["icon"], styled["colours"]) == ("fa-fan", "red,green")


def test_interaction_values_defaults_and_datetimes() -> None:
    speed = ui.Slider("speed", "Speed", default=10)
    assert speed.current_value == 10
    assert "currentValue" not in speed.to_dict()  # the default is not a value the app set
    assert speed.transform_check(None) == 10
    when = datetime(2026, 1, 2, tzinfo=UTC)
    speed.current_value = when
    assert speed.to_dict()["currentValue"] == int(when.timestamp())
    chosen = ui.Interaction("pick", current_value=("a", "b"))
    assert chosen.to_dict()["currentValue"] == ["a", "b"]


def test_parameters() -> None:
    assert ui.NumericParameter("limit", "Limit", min_val=0, max_val=10).to_dict() == {
        "name": "limit",
        "type": "uiFloatParam",
        "displayString": "Limit",
        "hidden": False,
        "min": 0,  # pydoover 0.x lost a bound of 0 (``min_val or ...``); kept here
        "max": 10,
    }
    assert ui.NumericParameter("limit", "Limit", float_max=3).to_dict()["max"] == 3
    assert ui.TextParameter("note", "Note").to_dict() == {
        "name": "note",
        "type": "uiTextParam",
        "displayString": "Note",
        "hidden": False,
        "isTextArea": False,
    }
    with pytest.raises(NotImplementedError):
        ui.BooleanParameter("flag", "Flag")
    start = ui.DateTimeParameter("start", "Start", include_time=True, current_value=1767323045)
    assert start.to_dict() == {
        "name": "start",
        "type": "uiDatetimeParam",
        "displayString": "Start",
        "hidden": False,
        "currentValue": 1767323045,
        "includeTime": True,
    }
    assert start.current_value == datetime(2026, 1, 2, 3, 4, 5)  # naive UTC, as pydoover
    start.current_value = datetime(2026, 1, 2, tzinfo=UTC)
    assert start.to_dict()["currentValue"] == 1767312000


def test_misc_elements() -> None:
    assert ui.ConnectionInfo().to_dict() == {
        "name": "connectionInfo",
        "type": "uiConnectionInfo",
        "connectionType": "constant",
    }
    periodic = ui.ConnectionInfo(
        connection_type=ui.ConnectionType.periodic,
        connection_period=600,
        next_connection=300,
        offline_after=1800,
        allowed_misses=2,
    )
    assert periodic.to_dict() == {
        "name": "connectionInfo",
        "type": "uiConnectionInfo",
        "connectionType": "periodic",
        "connectionPeriod": 600,
        "nextConnection": 300,
        "offlineAfter": 1800,
        "allowedMisses": 2,
    }
    with pytest.raises(RuntimeError, match="connection_type must be periodic"):
        ui.ConnectionInfo(connection_period=600)
    assert ui.AlertStream().to_dict() == {
        "name": "significantEvent",
        "type": "uiAlertStream",
        "displayString": "placeholder",
        **BASE,
    }
    plot = ui.Multiplot(
        "trend",
        "Trend",
        ["level", "flow"],
        series_colours=["red", "blue"],
        series_active=[True, False],
        earliest_data_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        title="Last day",
        shared_axis=[True, True],
        step_labels=["a"],
        step_padding=[1],
        default_zoom="1d",
    )
    assert plot.to_dict() == {
        "name": "trend",
        "type": "uiMultiPlot",
        "displayString": "Trend",
        **BASE,
        "series": ["level", "flow"],
        "colours": ["red", "blue"],
        "activeSeries": [True, False],
        "sharedAxis": [True, True],
        "stepLabels": ["a"],
        "stepPadding": [1],
        "defaultZoom": "1d",
        "title": "Last day",
        "earliestDataDate": 1767323045,
    }
    assert ui.Multiplot("p", "P", ["a"]).to_dict()["colours"] is None  # always there
    assert ui.CameraLiveView("cam", "main", True).to_dict() == {
        "name": "History",
        "type": "uiCameraLiveView",
        "displayString": "Live View",
        **BASE,
        "cameraName": "cam",
        "streamName": "main",
        "ptzControl": True,
        "presets": [],
        "activePreset": None,
    }
    assert ui.CameraHistory("cam").to_dict() == {
        "name": "history",
        "type": "uiCameraHistory",
        "displayString": "History",
        **BASE,
        "cameraName": "cam",
        "ptzControl": True,
        "presets": [],
        "activePreset": None,
    }
    assert ui.Colour.from_hex("#ff8800") == "#ff8800"
    assert ui.Range.from_dict(ui.Range("L", 1, 2, "red", False).to_dict()).to_dict() == {
        "min": 1,
        "max": 2,
        "colour": "red",
        "show_on_graph": False,
        "label": "L",
    }


def test_containers_number_their_children_and_nest_them() -> None:
    level = ui.NumericVariable("level", "Level", curr_val=1)
    pinned = ui.TextVariable("pinned", "Pinned", position=5)
    pump = ui.Submodule("pump", "Pump", children=[level, pinned], status="idle")
    assert pump.to_dict() == {
        "name": "pump",
        "type": "uiSubmodule",
        "displayString": "Pump",
        **BASE,
        "children": {
            "level": {**level.to_dict(), "position": 101},
            "pinned": {**pinned.to_dict(), "position": 5},
        },
        "statusString": "idle",
        "defaultOpen": True,
    }
    assert level.parent is pump
    assert ui.Submodule("s", "S", is_collapsed=True).to_dict()["defaultOpen"] is False
    assert ui.Submodule("s", "S", status_string="old").status == "old"  # 0.x's older name
    app = ui.Application("tank", "Tank", children=[pump], status_icon="idle", variant="stacked")
    assert app.to_dict()["type"] == "uiApplication"
    assert (app.to_dict()["statusIcon"], app.to_dict()["variant"]) == ("idle", "stacked")
    assert app.get_element("level") is level  # found depth first
    assert app.get_all_elements(ui.TextVariable) == [pinned]
    remote = ui.RemoteComponent("map", "Map", "https://x.example/map.js", zoom=4)
    assert remote.to_dict() == {
        "name": "map",
        "type": "uiRemoteComponent",
        "displayString": "Map",
        **BASE,
        "componentUrl": "https://x.example/map.js",
        "children": {},
        "zoom": 4,
    }
    assert ui.Container("c").to_dict()["type"] == "uiContainer"


def test_a_submodule_subclass_makes_its_decorated_methods_its_children() -> None:
    class PumpPanel(ui.Submodule):
        def __init__(self) -> None:
            self.presses: list[Any] = []
            super().__init__("pump", "Pump")

        @ui.action("start", "Start", colour=ui.Colour.green)
        def start(self, new_value: Any) -> None:
            self.presses.append(new_value)

    panel = PumpPanel()
    assert isinstance(panel.start, ui.Action)
    assert panel.to_dict()["children"]["start"]["colour"] == "green"
    panel.start(True)  # the element still answers a call as the method did
    assert panel.presses == [True]


def test_diffs_carry_only_what_changed() -> None:
    level = ui.NumericVariable("level", "Level", curr_val=1)
    assert level.get_diff(level.to_dict()) is None
    before = level.to_dict()
    level.current_value = 2
    assert level.get_diff(before) == {"currentValue": 2}
    assert level.get_diff({**before, "stale": 1}) == {"currentValue": 2, "stale": None}
    assert level.get_diff({**before, "stale": 1}, remove=False) == {"currentValue": 2}
    assert level.get_diff(level.to_dict(), retain_fields=["name"]) == {"name": "level"}

    pump = ui.Submodule("pump", "Pump", children=[level])
    cloud = pump.to_dict()
    level.current_value = 3
    flow = ui.NumericVariable("flow", "Flow")
    pump.add_children(flow)
    pump.remove_children(level)
    cloud["children"]["old"] = {"name": "old"}
    assert pump.get_diff(cloud) == {
        "children": {"level": None, "old": None, "flow": flow.to_dict()},
    }


def test_names_are_checked_and_interactions_prefixed_with_the_app_key() -> None:
    with pytest.raises(RuntimeError, match="Invalid name 'bad name'"):
        ui.Submodule("s", "S", children=[ui.TextVariable("bad name", "Bad")])
    manager = ui.UIManager("tank")
    speed = ui.Slider("speed", "Speed")
    pump = ui.Submodule("pump", "Pump", children=[speed])
    start = ui.Action("start", "Start")
    manager.add_children(start, pump, ui.NumericVariable("level", "Level"))
    assert manager.get_all_interaction_names() == ["tank_start", "tank_speed"]
    assert manager.get_command("speed") is speed
    assert manager.get_command("tank_speed") is speed  # a name holding the key is left as is
    ours = manager._base_container.to_dict()["children"]
    assert set(ours) == {"tank_start", "pump", "level"}  # variables keep their names
    # pydoover keys a submodule's child by the name it was added with, and prefixes only
    # the element's own name: the dashboard writes ``name`` to ui_cmds.
    assert ours["pump"]["children"]["speed"]["name"] == "tank_speed"
    with pytest.raises(RuntimeError, match="Invalid name 'tank_no way'"):
        manager.add_interaction(ui.Action("no way", "No"))
    with pytest.raises(ValueError, match="Variant"):
        manager.set_variant("floating")
    manager.set_variant(ui.ApplicationVariant.submodule)
    manager.set_display_name("Tank")
    manager.set_status_icon("warning")
    manager.set_position(3)
    top = manager._base_container.to_dict()
    assert {k: top[k] for k in ("name", "displayString", "statusIcon", "variant", "position")} == {
        "name": "tank",
        "displayString": "Tank",
        "statusIcon": "warning",
        "variant": "submodule",
        "position": 3,
    }
    manager.remove_children(speed)
    assert manager.get_command("speed") is None
    assert "speed" not in manager._base_container.to_dict()["children"]["pump"]["children"]
    with pytest.raises(RuntimeError, match="base container"):
        manager.remove_children(manager._base_container)


def test_decorators_declare_elements_and_callbacks() -> None:
    class App:
        @ui.action("go", "Go", colour=ui.Colour.red, requires_confirm=False)
        def go(self, value: Any) -> str:
            return f"went {value}"

        @ui.slider("speed", "Speed", max_val=50, step_size=5)
        def speed(self, value: Any) -> None: ...

        @ui.state_command("mode", "Mode", user_options=[ui.Option("a", "A")])
        def mode(self, value: Any) -> None: ...

        @ui.warning_indicator("hot", "Hot", can_cancel=False)
        def hot(self, value: Any) -> None: ...

        @ui.hidden_value("token")
        def token(self, value: Any) -> None: ...

        @ui.numeric_parameter("limit", "Limit", min_val=1)
        def limit(self, value: Any) -> None: ...

        @ui.text_parameter("note", "Note", is_text_area=True)
        def note(self, value: Any) -> None: ...

        @ui.datetime_parameter("start", "Start", include_time=True)
        def start(self, value: Any) -> None: ...

        @ui.boolean_parameter("flag", "Flag")
        def flag(self, value: Any) -> None: ...

        @ui.callback(re.compile(r"do_\d+"))
        def any_do(self, element: Any, value: Any) -> None: ...

        @ui.callback("camera_get_now", global_interaction=True)
        def camera(self, element: Any, value: Any) -> None: ...

    app = App()
    manager = ui.UIManager("tank")
    with pytest.raises(NotImplementedError):  # the boolean parameter, built with the rest
        manager.register_interactions(app)
    del App.flag
    app = App()
    manager.register_interactions(app)
    assert isinstance(app.go, ui.Action)
    assert (app.go.colour, app.go.requires_confirm) == ("red", False)
    assert app.go("now") == "went now"  # still callable
    assert isinstance(app.speed, ui.Slider)
    assert app.speed.max_val == 50
    assert isinstance(app.mode, ui.StateCommand)
    assert app.mode.user_options[0].name == "a"
    assert isinstance(app.hot, ui.WarningIndicator)
    assert app.hot.can_cancel is False
    assert isinstance(app.token, ui.HiddenValue)
    assert isinstance(app.limit, ui.NumericParameter)
    assert app.limit.min == 1
    assert isinstance(app.note, ui.TextParameter)
    assert app.note.is_text_area
    assert isinstance(app.start, ui.DateTimeParameter)
    assert app.start.include_time
    manager.register_callbacks(app)
    patterns = sorted(p.pattern for p, _ in manager._command_callbacks)
    assert patterns == ["camera_get_now", r"tank_do_\d+"]

    class Broken:
        @ui.callback(42)
        def nope(self, element: Any, value: Any) -> None: ...

    with pytest.raises(ValueError, match="Invalid pattern type"):
        manager.register_callbacks(Broken())


def test_payloads_are_legal_json_and_wrapped_as_pydoover_does() -> None:
    assert json_safe({"a": math.nan, "b": [math.inf, 1.5], "c": (1, 2)}) == {
        "a": None,
        "b": [None, 1.5],
        "c": [1, 2],
    }
    assert json_safe({"t": datetime(2026, 1, 2, tzinfo=UTC)}) == {"t": 1767312000}
    assert json_safe(ui.ConnectionType.periodic) == "periodic"
    assert wrap_ui_state("tank", {"a": 1}) == {"state": {"children": {"tank": {"a": 1}}}}
    assert wrap_ui_state("tank", None) == {"state": {"children": {"tank": {}}}}
    assert wrap_ui_state("tank", None, clear=True) == {"state": {"children": {"tank": None}}}
