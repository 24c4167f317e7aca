"""Two apps written as pydoover 0.x apps use ``modbus_iface``, importing from revlink instead.
With pydoover the imports read ``from pydoover.docker import Application``, ``from pydoover
import config`` and ``from pydoover.docker.modbus import ModbusConfig``; nothing else would
change. The async one opens its bus from its config (``modbus_config``) and subscribes; the
sync one opens a bus itself and goes through the Application's pass-throughs.
"""

from apps.sdk import Application, config
from apps.sdk.modbus import ModbusConfig


class MeterConfig(config.Schema):
    def __init__(self):
        self.modbus_config = ModbusConfig()
        self.meter_id = config.Integer("Meter ID", default=1)


class AsyncMeter(Application):
    config: MeterConfig

    async def setup(self):
        self.loop_target_period = 0.05
        self.polled = []
        self.modbus_iface.add_read_register_subscription(
            bus_id="default",
            modbus_id=self.config.meter_id.value,
            start_address=0,
            num_registers=2,
            register_type=3,
            poll_secs=0.1,
            callback=self.on_registers,
        )

    async def main_loop(self):
        meter = self.config.meter_id.value
        self.voltage = await self.modbus_iface.read_registers(
            bus_id="default", modbus_id=meter, start_address=0, num_registers=1, register_type=4
        )
        self.wrote = await self.modbus_iface.write_registers(
            bus_id="default", modbus_id=meter, start_address=10, values=[42, 43], register_type=3
        )
        self.bus_open = await self.modbus_iface.get_bus_status("default")
        self.coils = await self.modbus_iface.read_registers("default", meter, 0, 3, 1)

    async def on_registers(self, values):
        self.polled.append(values)


class SyncMeterConfig(config.Schema):
    def __init__(self):
        self.meter_uri = config.String("Meter URI", default="127.0.0.1:5020")


class SyncMeter(Application):
    config: SyncMeterConfig

    def setup(self):
        self.loop_target_period = 0.05
        self.opened = self.modbus_iface.open_bus(
            "tcp", "meter", tcp_uri=self.config.meter_uri.value, tcp_timeout=1
        )

    def main_loop(self):
        self.holding = self.read_modbus_registers(0, 2, 3, modbus_id=1, bus_id="meter")
        self.write_modbus_registers(20, [7], 3, modbus_id=1, bus_id="meter")
        self.echo = self.modbus_iface.read_registers("meter", 1, 20, 1, 3)
