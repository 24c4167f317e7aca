"""The tank level app's own UI, as pydoover 0.x apps keep theirs in an ``app_ui.py``.

What the dashboard's apps page shows for it: the level on a gauge coloured by the setpoints
in force (below the start level, between, above the stop level), the pump's state, and the
two setpoints as parameters a person can change there.
"""

from __future__ import annotations

from apps.sdk import ui

__all__ = ["TankLevelUI"]


class TankLevelUI:
    def __init__(self) -> None:
        self.level = ui.NumericVariable(
            "level", "Tank level (%)", precision=1, form=ui.Widget.radial
        )
        self.pump = ui.TextVariable("pump", "Pump", curr_val="stopped")

    def elements(self) -> list[object]:
        return [self.level, self.pump]

    def show(self, level_percent: float, pump_on: bool) -> None:
        self.level.current_value = level_percent
        self.pump.current_value = "running" if pump_on else "stopped"

    def show_setpoints(self, start_below: float, stop_above: float) -> None:
        """Colour the level by the setpoints: the pump starts in the first band, stops in the
        last."""
        self.level.ranges = []
        self.level.add_ranges(
            ui.Range("Pump starts", 0, start_below, ui.Colour.yellow),
            ui.Range("Normal", start_below, stop_above, ui.Colour.green),
            ui.Range("Pump stops", stop_above, 100, ui.Colour.blue),
        )
