"""Tank level control: fill the tank with the pump between two setpoints.

The level comes from an analog input (0..full scale mV = 0..100 %); the pump output turns
on below ``start_below`` and off above ``stop_above`` (hysteresis, so it does not chatter).
Each loop publishes the level and pump state to the ``tank_level`` channel. A cloud command
on ``tank_level.commands`` with ``{"start_below": 25, "stop_above": 85}`` moves the
setpoints (validated; refused ones are logged and change nothing).

The setpoints in force are kept in the channel's aggregate (``setpoints``, with the
configured ones they started from under ``configured``), so the cloud always shows what the
device is doing: at start the app takes the setpoints a command set before a restart, unless
the config changed since, and publishes what it runs with.

Its own UI (:mod:`apps.tank_level.app_ui`, pydoover's elements) shows the level coloured by
the setpoints and the pump's state on the dashboard's apps page, and takes the two setpoints
as parameters there; a refused pair is put back to the setpoints in force.
"""

from __future__ import annotations

from typing import Any

from apps.sdk import Application, Integer, Number, Schema, String, ui
from apps.tank_level.app_ui import TankLevelUI

__all__ = ["Setpoints", "TankLevel", "TankLevelConfig", "next_pump_state"]


class TankLevelConfig(Schema):
    level_ai = Integer("Level AI", default=0, minimum=0, description="AI pin of the level sensor")
    pump_do = Integer("Pump DO", default=0, minimum=0, description="DO pin of the pump")
    full_scale_mv = Integer("Full Scale mV", default=10000, minimum=1)
    start_below = Number("Start Below", default=30.0, minimum=0, maximum=100)
    stop_above = Number("Stop Above", default=80.0, minimum=0, maximum=100)
    channel = String("Channel", default="tank_level", pattern=r"^[A-Za-z0-9_.-]{1,100}$")


class Setpoints:
    """Start/stop levels in percent, always with start below stop."""

    def __init__(self, start_below: float, stop_above: float) -> None:
        if not 0 <= start_below < stop_above <= 100:
            raise ValueError(
                f"need 0 <= start_below < stop_above <= 100, got {start_below}, {stop_above}"
            )
        self.start_below = float(start_below)
        self.stop_above = float(stop_above)

    def as_dict(self) -> dict[str, float]:
        return {"start_below": self.start_below, "stop_above": self.stop_above}


def next_pump_state(level_percent: float, pump_on: bool, setpoints: Setpoints) -> bool:
    """Hysteresis: on below the start level, off above the stop level, else unchanged."""
    if level_percent < setpoints.start_below:
        return True
    if level_percent > setpoints.stop_above:
        return False
    return pump_on


class TankLevel(Application):
    config_cls = TankLevelConfig
    loop_target_period = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pump_on = False
        self.level_percent = 0.0
        self.setpoints = Setpoints(30.0, 80.0)
        self.tank_ui = TankLevelUI()

    @property
    def settings(self) -> TankLevelConfig:
        assert isinstance(self.config, TankLevelConfig)
        return self.config

    async def setup(self) -> None:
        await self.device_agent.declare_fields_async(
            self.settings.channel.value,
            {
                "level_percent": {"unit": "%", "name": "Tank level"},
                "level_mv": {"unit": "mV", "name": "Level sensor"},
                "pump": {"name": "Pump running"},
            },
        )
        self.setpoints = await self._restored_setpoints()
        self.set_ui_elements([*self.tank_ui.elements(), self.start_below, self.stop_above])
        self.ui_manager.set_display_name("Tank level control")
        await self._pin_ui_setpoints()
        await self._publish_setpoints()
        await self.platform_iface.set_do_async(self.settings.pump_do.value, False)
        self.device_agent.add_subscription(
            f"{self.settings.channel.value}.commands", self.on_command, events=("command",)
        )

    def _configured(self) -> Setpoints:
        return Setpoints(self.settings.start_below.value, self.settings.stop_above.value)

    async def _restored_setpoints(self) -> Setpoints:
        """The setpoints a command set before this start, unless the config changed since."""
        configured = self._configured()
        saved = await self.device_agent.get_channel_aggregate_async(self.settings.channel.value)
        if saved.get("configured") != configured.as_dict():
            return configured  # first start, or a new config: it wins over older commands
        try:
            restored = Setpoints(**saved["setpoints"])
        except (KeyError, TypeError, ValueError):
            return configured
        if restored.as_dict() != configured.as_dict():
            self.log.info("tank.setpoints_restored", **restored.as_dict())
        return restored

    async def _pin_ui_setpoints(self) -> None:
        """Before the app listens to its UI, the parameters are set to the setpoints it runs
        with: the values they kept from an earlier run (or from before a new config) would
        otherwise arrive as a person's input and undo the restore."""
        shown = {}
        for key, value in self.setpoints.as_dict().items():
            parameter = self.get_command(key)
            if parameter is not None:
                shown[parameter.name] = value
        await self.device_agent.publish_async(
            "ui_cmds", aggregate={"cmds": shown}, datapoints=False
        )

    async def _publish_setpoints(self) -> None:
        """Tell the cloud and the UI which setpoints run (the parameters show them too)."""
        self.tank_ui.show_setpoints(self.setpoints.start_below, self.setpoints.stop_above)
        self.coerce_command("start_below", self.setpoints.start_below)
        self.coerce_command("stop_above", self.setpoints.stop_above)
        await self.device_agent.publish_to_channel_async(
            self.settings.channel.value,
            {"setpoints": self.setpoints.as_dict(), "configured": self._configured().as_dict()},
            record_log=False,
            datapoints=False,  # state, kept in the aggregate; the levels are the series
        )

    async def on_config_update(self, config: Schema) -> None:
        self.setpoints = self._configured()
        self.log.info("tank.setpoints_changed", source="config", **self.setpoints.as_dict())
        await self._publish_setpoints()

    async def on_command(self, channel: str, command: dict[str, Any]) -> None:
        await self._change_setpoints(command, source="command")

    @ui.numeric_parameter("start_below", "Start the pump below (%)", min_val=0, max_val=100)
    async def start_below(self, new_value: Any) -> None:
        await self._change_setpoints({"start_below": new_value}, source="ui")

    @ui.numeric_parameter("stop_above", "Stop the pump above (%)", min_val=0, max_val=100)
    async def stop_above(self, new_value: Any) -> None:
        await self._change_setpoints({"stop_above": new_value}, source="ui")

    async def _change_setpoints(self, change: dict[str, Any], source: str) -> None:
        try:
            setpoints = Setpoints(
                float(change.get("start_below", self.setpoints.start_below)),
                float(change.get("stop_above", self.setpoints.stop_above)),
            )
        except (TypeError, ValueError) as exc:
            self.log.warning(
                "tank.setpoints_refused", source=source, change=change, reason=str(exc)
            )
            if source == "ui":  # the parameters show what runs again
                self.coerce_command("start_below", self.setpoints.start_below)
                self.coerce_command("stop_above", self.setpoints.stop_above)
            return
        if setpoints.as_dict() == self.setpoints.as_dict():
            return  # e.g. the parameters echoing what the app showed them
        self.setpoints = setpoints
        self.log.info("tank.setpoints_changed", source=source, **self.setpoints.as_dict())
        await self._publish_setpoints()

    async def main_loop(self) -> None:
        raw = await self.platform_iface.get_ai_async(self.settings.level_ai.value)
        assert isinstance(raw, float)
        scale = self.settings.full_scale_mv.value
        self.level_percent = round(max(0.0, min(100.0, raw * 100 / scale)), 2)
        pump_on = next_pump_state(self.level_percent, self.pump_on, self.setpoints)
        # Written every loop, not only on a change: an output reset behind the app's back (a
        # platform bridge restart puts it to its safe value) is corrected within one loop.
        await self.platform_iface.set_do_async(self.settings.pump_do.value, pump_on)
        self.pump_on = pump_on
        self.tank_ui.show(self.level_percent, pump_on)
        await self.device_agent.publish_to_channel_async(
            self.settings.channel.value,
            {"level_percent": self.level_percent, "level_mv": raw, "pump": pump_on},
            aggregate={"pump": pump_on, "level_percent": self.level_percent},
        )
