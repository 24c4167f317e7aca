"""A pump controller written the way pydoover 0.x apps are; only its imports were changed.

With pydoover its imports read::

    from pydoover.docker import Application, run_app
    from pydoover import config

Everything below the import is unchanged 0.x style: a config schema declared in
``__init__`` without ``super().__init__()``, sync hooks, the application's own ``get_ai`` /
``set_do`` / ``publish_to_channel`` / ``set_tag`` helpers, ``loop_target_period`` set on the
instance, a channel subscription for commands, and ``run_app`` given an instance.
"""

from apps.sdk import Application, config, run_app


class PumpConfig(config.Schema):
    def __init__(self):
        self.start_below = config.Integer("Start Below", default=3000)
        self.stop_above = config.Integer("Stop Above", default=7000)
        self.pump_do = config.Integer("Pump DO", default=0)


class PumpApplication(Application):
    config: PumpConfig

    def setup(self):
        self.loop_target_period = 0.1
        self.running = False
        self.forced_off = False
        self.subscribe_to_channel("pump_commands", self.on_command)
        # An app's own tag_values subscription must not displace the one get_tag reads.
        self.tag_updates = 0
        self.subscribe_to_channel("tag_values", self.on_tags)

    def main_loop(self):
        level = self.get_ai(0)
        if self.forced_off:
            self.running = False
        elif level < self.config.start_below.value:
            self.running = True
        elif level > self.config.stop_above.value:
            self.running = False
        self.set_do(self.config.pump_do.value, self.running)
        telemetry = {"level": level, "running": self.running, "limit": self.get_tag("limit")}
        if not self.publish_to_channel("pump", telemetry):
            raise RuntimeError("publish_to_channel answers True once stored")
        self.set_tag("running", self.running)
        if self.get_tag("running") != self.running:
            raise RuntimeError("a tag just set must read back")

    def on_tags(self, channel, aggregate):
        self.tag_updates += 1

    def on_command(self, channel, data):
        if "forced_off" in data:
            self.forced_off = bool(data["forced_off"])


if __name__ == "__main__":
    run_app(PumpApplication(config=PumpConfig()))
