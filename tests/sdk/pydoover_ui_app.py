"""A tank monitor written as pydoover 0.x apps with a UI are: elements built in ``setup``,
decorated interactions on the app, a ``@ui.callback`` pattern, values set in ``main_loop``.

With pydoover its imports read ``from pydoover import ui`` and ``from pydoover.docker import
Application, run_app``; only those were changed. ``AsyncTankMonitor`` awaits the plain names
(``await self.set_tag(...)``, ``await self.ui_manager.push()``), as most 0.x apps do;
``SyncTankMonitor`` is the same app with plain ``def`` hooks. Run one against a device's
bridges with ``python -m tests.sdk.pydoover_ui_app`` (``APP_KEY``, ``DDA_URI``... as any app;
``TANK_SYNC=1`` runs the sync one).

The tank drains by a tenth of the pump speed every loop; "Refill" puts it back to half and
stops the pump (``coerce_command``, so the slider shows 0 too) and resets itself, so that the
next press (the dashboard writes ``true`` each time) is a change again; below 20 % a warning
shows.
"""

from __future__ import annotations

import os
from typing import Any

from apps.sdk import Application, run_app, ui

__all__ = ["LEVEL_RANGES", "AsyncTankMonitor", "SyncTankMonitor"]

LEVEL_RANGES = [
    ui.Range("Low", 0, 20, ui.Colour.red),
    ui.Range("Normal", 20, 80, ui.Colour.green),
    ui.Range("High", 80, 100, ui.Colour.yellow),
]
MODES = [ui.Option("auto", "Automatic"), ui.Option("manual", "Manual")]


class TankUI:
    """The elements both apps show (0.x apps often keep them in an ``app_ui.py``)."""

    def __init__(self, speed: Any) -> None:
        self.level = ui.NumericVariable(
            "level",
            "Tank level (%)",
            curr_val=50.0,
            precision=1,
            ranges=LEVEL_RANGES,
            form=ui.Widget.radial,
        )
        self.volume = ui.NumericVariable(
            "volume", "Volume (L)", precision=0, ranges=[ui.Range("Full", 900, 1000)]
        )
        self.low_level = ui.WarningIndicator("low_level", "Tank level low", hidden=True)
        self.pump_state = ui.TextVariable("pump_state", "Pump", curr_val="stopped")
        self.last_event = ui.TextVariable("last_event", "Last event")
        self.pump = ui.Submodule(
            "pump", "Pump", children=[self.pump_state, speed], status="stopped"
        )
        self.setpoint = ui.NumericParameter("setpoint", "Alarm level (%)", min_val=0, max_val=100)
        self.note = ui.TextParameter("note", "Operator note", is_text_area=True)

    def elements(self, *interactions: Any) -> list[Any]:
        return [
            self.level,
            self.volume,
            self.low_level,
            self.last_event,
            self.pump,
            *interactions,
            self.setpoint,
            self.note,
        ]

    def show(self, level: float, speed: float) -> bool:
        """Set the values of one loop; True when the level is low."""
        self.level.current_value = level
        self.volume.current_value = level * 10
        low = level < 20
        self.low_level.hidden = not low
        self.pump_state.current_value = "running" if speed else "stopped"
        self.pump.status = f"{speed:g} %" if speed else "stopped"
        return low


class AsyncTankMonitor(Application):
    async def setup(self) -> None:
        self.tank = 50.0
        self.speed_pct = 0.0
        self.refills = 0
        self.modes: list[str] = []
        self.alarm_levels: list[tuple[str, Any]] = []
        self.speeds: list[Any] = []
        self.tank_ui = TankUI(self.speed)
        self.set_ui_elements(self.tank_ui.elements(self.refill, self.mode))
        self.ui_manager.set_display_name("Tank Monitor")
        self.set_ui_status_icon("idle")
        await self.set_tag("level", self.tank)

    async def main_loop(self) -> None:
        self.tank = max(0.0, self.tank - self.speed_pct / 10)
        low = self.tank_ui.show(self.tank, self.speed_pct)
        self.ui_manager.set_status_icon("warning" if low else "idle", critical=low)
        await self.set_tag("level", self.tank)

    @ui.action("refill", "Refill", colour=ui.Colour.green, requires_confirm=False)
    async def refill(self, new_value: Any) -> None:
        self.refills += 1
        self.tank = 50.0
        self.tank_ui.last_event.current_value = f"refill {self.refills}"
        self.tank_ui.level.current_value = self.tank
        self.coerce_command("speed", 0)
        self.coerce_command("refill", None)  # ready for the next press (each sends true)
        await self.set_tag("refills", self.refills)
        await self.ui_manager.push()  # show it now, not at the next loop

    @ui.slider("speed", "Pump speed (%)", min_val=0, max_val=100, step_size=5, inverted=False)
    async def speed(self, new_value: Any) -> None:
        self.speeds.append(new_value)
        self.speed_pct = float(new_value or 0)
        await self.set_tag("speed", self.speed_pct)

    @ui.state_command("mode", "Mode", user_options=MODES)
    async def mode(self, new_value: Any) -> None:
        self.modes.append(new_value)

    @ui.callback("setpoint")
    async def on_alarm_level(self, element: Any, new_value: Any) -> None:
        self.alarm_levels.append((element.name, new_value))


class SyncTankMonitor(Application):
    def setup(self) -> None:
        self.tank = 50.0
        self.speed_pct = 0.0
        self.refills = 0
        self.modes: list[str] = []
        self.alarm_levels: list[tuple[str, Any]] = []
        self.speeds: list[Any] = []
        self.tank_ui = TankUI(self.speed)
        self.set_ui_elements(self.tank_ui.elements(self.refill, self.mode))
        self.ui_manager.set_display_name("Tank Monitor")
        self.set_ui_status_icon("idle")
        self.set_tag("level", self.tank)
        self.start_ui_comms()  # some 0.x apps start them themselves; the app would anyway

    def main_loop(self) -> None:
        self.tank = max(0.0, self.tank - self.speed_pct / 10)
        low = self.tank_ui.show(self.tank, self.speed_pct)
        self.ui_manager.set_status_icon("warning" if low else "idle", critical=low)
        self.set_tag("level", self.tank)

    @ui.action("refill", "Refill", colour=ui.Colour.green, requires_confirm=False)
    def refill(self, new_value: Any) -> None:
        self.refills += 1
        self.tank = 50.0
        self.tank_ui.last_event.current_value = f"refill {self.refills}"
        self.tank_ui.level.current_value = self.tank
        self.coerce_command("speed", 0)
        self.coerce_command("refill", None)  # ready for the next press (each sends true)
        self.set_tag("refills", self.refills)
        self.ui_manager.push()  # blocks until published: a sync app's plain call

    @ui.slider("speed", "Pump speed (%)", min_val=0, max_val=100, step_size=5, inverted=False)
    def speed(self, new_value: Any) -> None:
        self.speeds.append(new_value)
        self.speed_pct = float(new_value or 0)
        self.set_tag("speed", self.speed_pct)

    @ui.state_command("mode", "Mode", user_options=MODES)
    def mode(self, new_value: Any) -> None:
        self.modes.append(new_value)

    @ui.callback("setpoint")
    def on_alarm_level(self, element: Any, new_value: Any) -> None:
        self.alarm_levels.append((element.name, new_value))


if __name__ == "__main__":
    run_app(SyncTankMonitor() if os.environ.get("TANK_SYNC") == "1" else AsyncTankMonitor())
