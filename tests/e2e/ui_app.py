"""The tank monitor of ``tests/sdk/pydoover_ui_app.py`` with a config, as the browser test runs
it: a config change shows in the app's UI, so the page can see the running app got it."""

from __future__ import annotations

from apps.sdk import config, run_app
from tests.sdk.pydoover_ui_app import AsyncTankMonitor

__all__ = ["ConfiguredTankMonitor", "MonitorConfig"]


class MonitorConfig(config.Schema):
    def __init__(self) -> None:
        self.capacity = config.Integer(
            "Capacity", default=1000, minimum=100, maximum=5000, description="litres"
        )


class ConfiguredTankMonitor(AsyncTankMonitor):
    config_cls = MonitorConfig

    async def on_config_update(self, new: config.Schema) -> None:
        assert isinstance(new, MonitorConfig)
        self.tank_ui.last_event.current_value = f"capacity {new.capacity.value} L"
        await self.ui_manager.push_async()
        # An alert, as 0.x apps raise them: text on the significantEvent channel.
        await self.publish_to_channel("significantEvent", f"Capacity set to {new.capacity.value} L")


if __name__ == "__main__":
    run_app(ConfiguredTankMonitor())
