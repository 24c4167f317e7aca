"""The simulated energy meter served over Modbus TCP by pymodbus, updated in real time.

Register map (slave 1 by default, 0-based addresses):

=================  =======  ========  ==============================================
table              address  type      value
=================  =======  ========  ==============================================
input registers    0-1      float32   voltage, V (high word first)
input registers    2-3      float32   current, A
input registers    4-5      float32   active power, W
input registers    6-7      float32   frequency, Hz
input registers    8-9      uint32    energy, Wh (low word first)
input registers    10       int16     meter temperature, 0.1 degC
holding registers  100      uint16    power limit, W (writable)
coils              0        bool      load relay (writable): adds a load while on
discrete inputs    0        bool      over limit: power above the power limit
=================  =======  ========  ==============================================

Any other address answers with exception 2 (illegal data address), as a real meter does.
The registers are encoded with pymodbus's own converters, so a client's decoding is checked
against an independent implementation. :func:`plugin_config` is the ``modbus`` plugin config
that reads all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from revlink.simulators.energy_meter import EnergyMeter, MeterReadings

__all__ = [
    "COIL_RELAY",
    "DISCRETE_OVER_LIMIT",
    "HOLDING_POWER_LIMIT",
    "INPUT_REGISTERS",
    "MeterServer",
    "ProcessImagePump",
    "plugin_config",
    "registers_of",
]

log = structlog.get_logger(__name__)

INPUT_REGISTERS = 11  # addresses 0-10
HOLDING_POWER_LIMIT = 100
COIL_RELAY = 0
DISCRETE_OVER_LIMIT = 0
# Function codes the pymodbus datastore is addressed with, per table.
_FC_COILS, _FC_DISCRETE, _FC_HOLDING, _FC_INPUT = 1, 2, 3, 4


def registers_of(readings: MeterReadings) -> list[int]:
    """Input registers 0-10 for ``readings``."""
    from pymodbus.client.mixin import ModbusClientMixin

    convert = ModbusClientMixin.convert_to_registers
    kind = ModbusClientMixin.DATATYPE
    registers: list[int] = []
    for value in (readings.voltage, readings.current, readings.power, readings.frequency):
        registers += convert(value, kind.FLOAT32)
    energy = min(2**32 - 1, max(0, round(readings.energy_wh)))
    registers += convert(energy, kind.UINT32, word_order="little")
    temperature = min(2**15 - 1, max(-(2**15), round(readings.temperature * 10)))
    registers += convert(temperature, kind.INT16)
    return registers


def plugin_config(host: str, port: int, slave_id: int = 1) -> dict[str, Any]:
    """The ``modbus`` plugin config that reads this meter at ``host:port``."""
    return {
        "tcp": {"host": host, "port": port, "timeout": 1},
        "slave_id": slave_id,
        "channels": [
            {"id": "voltage", "name": "Voltage", "unit": "V", "register": "input", "address": 0,
             "type": "float32"},
            {"id": "current", "name": "Current", "unit": "A", "register": "input", "address": 2,
             "type": "float32"},
            {"id": "power", "name": "Active power", "unit": "W", "register": "input",
             "address": 4, "type": "float32"},
            {"id": "frequency", "name": "Frequency", "unit": "Hz", "register": "input",
             "address": 6, "type": "float32"},
            {"id": "energy", "name": "Energy", "unit": "kWh", "register": "input", "address": 8,
             "type": "uint32", "word_order": "little", "scale": 0.001},
            {"id": "temperature", "name": "Meter temperature", "unit": "degC",
             "register": "input", "address": 10, "type": "int16", "scale": 0.1},
            {"id": "power_limit", "name": "Power limit", "unit": "W", "register": "holding",
             "address": HOLDING_POWER_LIMIT, "writable": True, "min": 0, "max": 5000},
            {"id": "relay", "name": "Load relay", "register": "coil", "address": COIL_RELAY,
             "writable": True, "safe_value": False},
            {"id": "over_limit", "name": "Over the power limit", "register": "discrete_input",
             "address": DISCRETE_OVER_LIMIT},
        ],
    }  # fmt: skip


class ProcessImagePump:
    """Whether the plant's pump runs: a DO of the process image, read each time it is called.

    Opened on the plant's side (``simulator=True``, as ``revlink sim`` does) and never
    written, so it cannot disturb the platform bridge or the plant.
    """

    def __init__(self, procimg: Path, configrsc: Path, pump_do: int = 0) -> None:
        from bridges.platform.image import open_process_image
        from bridges.platform.iotable import IOKind, IOTable

        self.procimg = procimg
        self._rpi: Any = open_process_image(procimg, configrsc, simulator=True)
        try:
            table = IOTable.from_modio(self._rpi, simulator=True)
            self.io_name = table.by_pin(IOKind.DO, pump_do).name
        except BaseException:
            self._rpi.cleanup()
            raise

    def __call__(self) -> bool:
        from bridges.platform.errors import ProcessImageError

        if not self._rpi.readprocimg():
            raise ProcessImageError(f"process image {self.procimg}: read failed")
        return bool(self._rpi.io[self.io_name].value)

    def close(self) -> None:
        self._rpi.cleanup()


class MeterServer:
    """A Modbus TCP server whose registers are the meter, stepped every ``period_s``.

    Each cycle takes what clients wrote (the relay coil, the power limit) into the model,
    steps it by the time that really passed and writes the new readings to the registers.
    """

    def __init__(
        self,
        meter: EnergyMeter,
        host: str = "127.0.0.1",
        port: int = 5020,
        *,
        slave_id: int = 1,
        period_s: float = 0.1,
        pump: Callable[[], bool] | None = None,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period must be > 0 s, not {period_s}")
        self.meter = meter
        self.host, self.port = host, port
        self.slave_id = slave_id
        self.period_s = period_s
        self.pump = pump
        self.readings: MeterReadings | None = None
        self._server: Any = None

    def _device(self) -> Any:
        from pymodbus.simulator import DataType, SimData, SimDevice

        p = self.meter.parameters
        bits = [False] * 16
        return SimDevice(
            id=self.slave_id,
            simdata=(
                [SimData(COIL_RELAY, values=list(bits), datatype=DataType.BITS)],
                [SimData(DISCRETE_OVER_LIMIT, values=list(bits), datatype=DataType.BITS)],
                [SimData(HOLDING_POWER_LIMIT, values=[p.power_limit_w], datatype=DataType.UINT16)],
                [SimData(0, values=[0] * INPUT_REGISTERS, datatype=DataType.REGISTERS)],
            ),
        )

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0). The registers hold data by then."""
        from pymodbus.server import ModbusTcpServer

        self._check_address()
        self._server = ModbusTcpServer([self._device()], address=(self.host, self.port))
        await self._publish(self.meter.step(0.0, self._pump_on()))
        try:
            await self._server.serve_forever(background=True)
        except RuntimeError:  # pymodbus logged why; _check_address says it in one line
            self._check_address()
            raise OSError(f"cannot listen on {self.host}:{self.port}") from None
        sockets = self._server.transport.sockets
        self.port = int(sockets[0].getsockname()[1])
        return self.port

    def _check_address(self) -> None:
        """Bind as pymodbus will (SO_REUSEADDR), to fail with the reason, not a log line."""
        import socket

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((self.host, self.port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OSError(f"cannot listen on {self.host}:{self.port}: {reason}") from None

    def _pump_on(self) -> bool | None:
        return None if self.pump is None else self.pump()

    async def step(self, dt_s: float) -> MeterReadings:
        """One cycle: clients' writes into the model, the model forward, readings out."""
        server = self._server
        relay = await server.async_getValues(self.slave_id, _FC_COILS, COIL_RELAY, 1)
        limit = await server.async_getValues(self.slave_id, _FC_HOLDING, HOLDING_POWER_LIMIT, 1)
        self.meter.relay = bool(relay[0])
        self.meter.power_limit_w = int(limit[0])
        readings = self.meter.step(dt_s, self._pump_on())
        await self._publish(readings)
        return readings

    async def _publish(self, readings: MeterReadings) -> None:
        server = self._server
        await server.async_setValues(self.slave_id, _FC_INPUT, 0, registers_of(readings))
        await server.async_setValues(
            self.slave_id, _FC_DISCRETE, DISCRETE_OVER_LIMIT, [readings.over_limit]
        )
        self.readings = readings

    async def run(self, stop: asyncio.Event) -> int:
        """Step in real time until ``stop`` is set; returns the number of cycles.

        A late cycle is not followed by a burst of catch-up cycles: the model advances by the
        time that really passed, and the schedule restarts from now.
        """
        cycles = 0
        last = next_tick = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            await self.step(now - last)
            cycles += 1
            last = now
            next_tick = max(next_tick + self.period_s, time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(next_tick - time.monotonic()):
                    await stop.wait()
        return cycles

    async def close(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
