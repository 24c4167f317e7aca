"""The pump controller written as most real pydoover 0.x apps are: ``async def`` hooks that
``await`` the plain names (``await self.get_ai(0)``, ``await self.platform_iface.set_do``).

With pydoover its imports read ``from pydoover.docker import Application, run_app``; only
those were changed. The config is the sync app's, so the same test drives both.
"""

from apps.sdk import Application, run_app
from tests.support.pydoover_app import PumpConfig


class AsyncPumpApplication(Application):
    config: PumpConfig

    async def setup(self):
        self.loop_target_period = 0.1
        self.running = False
        self.forced_off = False
        self.subscribe_to_channel("pump_commands", self.on_command)
        # An app's own tag_values subscription must not displace the one get_tag reads.
        self.tag_updates = 0
        self.subscribe_to_channel("tag_values", self.on_tags)
        await self.platform_iface.set_do(self.config.pump_do.value, False)

    async def main_loop(self):
        level = await self.get_ai(0)
        if self.forced_off:
            self.running = False
        elif level < self.config.start_below.value:
            self.running = True
        elif level > self.config.stop_above.value:
            self.running = False
        await self.set_do(self.config.pump_do.value, self.running)
        if await self.platform_iface.get_do(self.config.pump_do.value) != self.running:
            raise RuntimeError("an output just set must read back")
        telemetry = {"level": level, "running": self.running, "limit": self.get_tag("limit")}
        if not await self.publish_to_channel("pump", telemetry):
            raise RuntimeError("publish_to_channel answers True once stored")
        await self.set_tag("running", self.running)
        if self.get_tag("running") != self.running:
            raise RuntimeError("a tag just set must read back")
        if not self.device_agent.get_is_dda_available():  # a cached bool, as in pydoover
            raise RuntimeError("the agent answers, so it is available")
        if self.get_is_dda_online() or self.get_has_dda_been_online():
            raise RuntimeError("this agent has no cloud")
        if await self.set_do(self.config.pump_do.value, self.running) != self.running:
            raise RuntimeError("set_do answers the value it wrote")

    async def on_tags(self, channel, aggregate):
        self.tag_updates += 1

    async def on_command(self, channel, data):
        if "forced_off" in data:
            self.forced_off = bool(data["forced_off"])


if __name__ == "__main__":
    run_app(AsyncPumpApplication(config=PumpConfig()))
