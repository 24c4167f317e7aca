"""Two apps written as pydoover 0.x apps are, importing from revlink instead, that between
them reach past I/O and channels: state machines, reference and conditional config,
pulse counters with callbacks, the event log, system calls, tag batches and watchers, and
the shutdown hooks, power control and the display name.
With pydoover the imports read ``from pydoover.docker import
Application``, ``from pydoover import config`` and ``from pydoover.state import
StateMachine``; nothing else would change.
"""

# Class-level state and transition lists are how pydoover apps declare their machines.
# ruff: noqa: RUF012

from apps.sdk import Application, config
from apps.sdk.state import StateMachine, SyncStateMachine


class StationConfig(config.Schema):
    def __init__(self):
        self.use_schedule = config.Boolean("Use Schedule", default=False)
        self.start_at = config.DateTime(
            "Start At", show_if=config.equal(self.use_schedule, True), advanced=True
        )
        self.site = config.String("Site", default=config.Variable("device", "site"))
        self.pulse_di = config.Integer("Pulse DI", default=1, hidden=True)


class AsyncStation(Application):
    config: StationConfig

    states = [{"name": "idle"}, {"name": "counting"}, {"name": "done"}]
    transitions = [
        {"trigger": "begin", "source": "idle", "dest": "counting"},
        {"trigger": "finish", "source": "counting", "dest": "done"},
    ]

    async def setup(self):
        self.loop_target_period = 0.05
        self.machine = StateMachine(
            states=self.states, transitions=self.transitions, model=self, initial="idle"
        )
        self.pulses_seen = []
        self.watched = []
        self.scheduled = []
        self.counter = self.platform_iface.get_new_pulse_counter(
            self.config.pulse_di.value, callback=self.on_pulse
        )
        self.subscribe_to_tag("target", self.on_target)
        self.comms = await self.platform_iface.test_comms("ping")
        self.io_table = await self.platform_iface.get_io_table()
        self.location = await self.platform_iface.get_location()
        self.voltage = await self.platform_iface.get_system_voltage()
        await self.platform_iface.set_immunity_seconds(60)
        await self.platform_iface.sync_rtc()
        await self.set_ao(0, 2500.4)
        self.shutdown_due = None

    async def main_loop(self):
        if self.state == "idle" and self.counter.receiving_pulses:
            await self.begin()
        target = self.get_tag("target", default=3)
        if self.state == "counting" and self.counter.get_counter() >= target:
            await self.finish()
        if self.state == "done" and self.shutdown_due is None:
            self.shutdown_due = await self.platform_iface.schedule_shutdown(600)
        _, edges = await self.platform_iface.get_di_events(self.config.pulse_di.value, "rising")
        await self.set_tags({"state": self.state, "edges": len(edges)})

    async def on_pulse(self, di, value, dt_secs, count, edge):
        self.pulses_seen.append(count)

    async def on_target(self, key, value):
        self.watched.append(value)

    async def on_shutdown_at(self, dt):
        self.scheduled.append(dt)

    async def check_can_shutdown(self):
        return self.state == "done"


class SyncStation(Application):
    states = [{"name": "closed"}, {"name": "open"}]
    transitions = [
        {"trigger": "toggle", "source": "closed", "dest": "open"},
        {"trigger": "toggle", "source": "open", "dest": "closed"},
    ]

    def setup(self):
        self.loop_target_period = 0.05
        self.machine = SyncStateMachine(
            states=self.states, transitions=self.transitions, model=self, initial="closed"
        )
        self.inputs = []

    def main_loop(self):
        self.inputs.append(self.platform_iface.get_di([0, [1]]))
        self.toggle()
        self.set_do(0, self.state == "open")
        self.publish_to_channel("station_log", self.app_display_name + ": valve " + self.state)
        self.set_tag("valve", self.state)
        self.set_global_tag("last_station", self.app_key)
        self.events = self.platform_iface.get_events()
        if self.get_tag("reboot_now", default=False):
            self.set_tag("reboot_now", False)
            self.platform_iface.reboot()
