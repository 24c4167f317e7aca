"""The ``modbus`` plugin against real pymodbus servers: TCP on loopback, RTU over a socat pty
pair, and inside a real plugin host process.

The servers encode their registers with pymodbus's own converters, so the plugin's decoding
is checked against an independent implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from pymodbus import FramerType
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from bridges.plugin_host.bundled.modbus import (
    ModbusDeviceError,
    ModbusPlugin,
    RegisterChannel,
    parse_channels,
    plan_reads,
)
from bridges.plugin_host.conformance import PluginConformance
from bridges.plugin_host.discovery import discover
from bridges.plugin_host.sdk import Direction, InvalidConfigError
from revlink.plugins.v1 import plugins_pb2 as pb
from revlink.simulators.energy_meter import EnergyMeter
from revlink.simulators.meter_server import MeterServer, plugin_config
from tests.rig.bridges import free_port
from tests.rig.platform import wait_for
from tests.rig.plugins import PluginHostProcess, start_plugin_host

T = TypeVar("T")
DATATYPE = ModbusClientMixin.DATATYPE
convert_to = ModbusClientMixin.convert_to_registers
convert_from = ModbusClientMixin.convert_from_registers
FC_COILS, FC_DISCRETE, FC_HOLDING, FC_INPUT = 1, 2, 3, 4
SLAVE = 7
LOCKED = 200  # a read-only holding register: writes to it get exception 2


# -- a pymodbus server on its own loop ------------------------------------------------------


@dataclass
class Rig:
    """A pymodbus server in a daemon thread, so plugins on any loop (the conformance suite
    runs its own) talk to it over a real socket. ``delay_s`` holds back every answer."""

    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    server: Any = None
    port: int = 0
    delay_s: float = 0.0
    requests: list[int] = field(default_factory=list)  # function codes received

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def get(self, fc: int, address: int, count: int = 1) -> list[Any]:
        values: list[Any] = self.call(
            lambda: self.server.async_getValues(SLAVE, fc, address, count)
        )
        return values

    def set(self, fc: int, address: int, values: list[Any]) -> None:
        self.call(lambda: self.server.async_setValues(SLAVE, fc, address, values))

    def trace(self, sending: bool, pdu: Any) -> Any:
        if not sending:
            self.requests.append(pdu.function_code)
        return pdu

    async def action(self, *_: Any) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)

    def stop(self) -> None:
        if self.server is not None:
            self.call(self.server.shutdown)
            self.server = None


def rig_device(action: Any) -> SimDevice:
    bits = [False] * 32
    return SimDevice(
        id=SLAVE,
        simdata=(
            [SimData(0, values=list(bits), datatype=DataType.BITS)],
            [SimData(0, values=list(bits), datatype=DataType.BITS)],
            [
                SimData(0, values=[0] * 40, datatype=DataType.REGISTERS),
                SimData(LOCKED, values=[0], datatype=DataType.REGISTERS, readonly=True),
            ],
            [SimData(0, values=[0] * 200, datatype=DataType.REGISTERS)],
        ),
        action=action,
    )


async def _cancel_pending() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def rig_thread() -> Iterator[Rig]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="modbus-rig", daemon=True)
    thread.start()
    rig = Rig(loop, thread)
    try:
        yield rig
    finally:
        rig.stop()
        rig.call(_cancel_pending)  # answers still held back by delay_s
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def tcp_rig(port: int = 0) -> Iterator[Rig]:
    with rig_thread() as rig:

        async def start() -> None:
            rig.server = ModbusTcpServer(
                [rig_device(rig.action)], address=("127.0.0.1", port), trace_pdu=rig.trace
            )
            await rig.server.serve_forever(background=True)
            rig.port = rig.server.transport.sockets[0].getsockname()[1]

        rig.call(start)
        yield rig


@pytest.fixture
def rig() -> Iterator[Rig]:
    with tcp_rig() as running:
        yield running


@pytest.fixture(scope="module")
def module_rig() -> Iterator[Rig]:
    with tcp_rig() as running:
        yield running


def tcp(port: int, timeout: float = 1.0) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "timeout": timeout}


# Every value type, word order, scaling and table; writable channels with and without bounds.
RIG_CHANNELS: list[dict[str, Any]] = [
    {"id": "pump", "register": "coil", "address": 0, "writable": True, "safe_value": False},
    {"id": "door", "register": "discrete_input", "address": 3},
    {"id": "setpoint", "unit": "degC", "register": "holding", "address": 0, "type": "int16",
     "scale": 0.1, "offset": -40, "writable": True, "min": -20, "max": 80, "safe_value": 20},
    {"id": "speed", "unit": "rpm", "register": "holding", "address": 1, "writable": True,
     "safe_value": 0},
    {"id": "target", "register": "holding", "address": 2, "type": "int32", "writable": True},
    {"id": "total", "register": "holding", "address": 4, "type": "uint32",
     "word_order": "little", "writable": True},
    {"id": "gain", "register": "holding", "address": 6, "type": "float32", "writable": True,
     "min": -10, "max": 10, "safe_value": 1.5},
    {"id": "temp", "name": "Temperature", "unit": "degC", "register": "input", "address": 0,
     "type": "int16", "scale": 0.1},
    {"id": "flow", "unit": "l/min", "register": "input", "address": 1, "type": "float32"},
    {"id": "counter", "register": "input", "address": 3, "type": "uint32"},
    {"id": "level", "unit": "%", "register": "input", "address": 10, "scale": 0.5, "offset": 5},
    {"id": "swapped", "register": "input", "address": 11, "type": "float32",
     "word_order": "little"},
]  # fmt: skip


def rig_config(port: int, **extra: Any) -> dict[str, Any]:
    return {"tcp": tcp(port), "slave_id": SLAVE, "channels": RIG_CHANNELS, **extra}


def channel(**item: Any) -> RegisterChannel:
    config = {"tcp": tcp(502), "channels": [{"id": "c", **item}]}
    return parse_channels(config)[0]


# -- the pure parts: decoding, scaling, bounds, read planning -------------------------------


@pytest.mark.parametrize(
    ("item", "kind", "value"),
    [
        ({"type": "int16"}, DATATYPE.INT16, -12345),
        ({"type": "uint16"}, DATATYPE.UINT16, 54321),
        ({"type": "int32"}, DATATYPE.INT32, -2_000_000_000),
        ({"type": "uint32"}, DATATYPE.UINT32, 4_000_000_000),
        ({"type": "int32", "word_order": "little"}, DATATYPE.INT32, -7),
        ({"type": "uint32", "word_order": "little"}, DATATYPE.UINT32, 70_000),
        ({"type": "float32"}, DATATYPE.FLOAT32, 230.1),
        ({"type": "float32", "word_order": "little"}, DATATYPE.FLOAT32, -0.015625),
    ],
)
def test_registers_decode_and_encode_as_pymodbus_does(
    item: dict[str, Any], kind: Any, value: float
) -> None:
    spec = channel(register="holding", address=0, **item)
    order = item.get("word_order", "big")
    registers = convert_to(value, kind, word_order=order)
    assert spec.decode(registers) == value  # 230.1, not 230.10000610351562
    assert spec.encode(spec.to_raw(value)) == registers


def test_scale_and_offset_are_applied_and_inverted() -> None:
    spec = channel(register="holding", address=0, type="int16", scale=0.1, offset=-40)
    assert spec.decode([635]) == 23.5  # 635 * 0.1 - 40, without binary noise
    assert spec.to_raw(23.5) == 635
    assert spec.quantize(23.54) == 23.5  # the register's resolution
    assert channel(register="input", address=0).decode([7]) == 7  # stays an int
    assert channel(register="input", address=0, scale=2, offset=1).decode([7]) == 15
    negative = channel(register="holding", address=0, scale=-0.5, writable=True)
    assert negative.decode([10]) == -5.0
    assert negative.to_raw(-5) == 10
    assert (negative.min, negative.max) == (-32767.5, 0)


def test_writable_bounds_lie_within_the_register_and_its_resolution() -> None:
    uint16 = channel(register="holding", address=0, writable=True)
    assert (uint16.min, uint16.max) == (0, 65535)
    full = channel(register="holding", address=0, type="int16", writable=True)
    assert (full.min, full.max) == (-32768, 32767)
    scaled = channel(register="holding", address=0, scale=0.1, writable=True, min=0.05, max=1e9)
    assert (scaled.min, scaled.max) == (0.1, 6553.5)  # rounded inwards, within uint16
    reading = channel(register="input", address=0, min=0, max=10)
    assert (reading.min, reading.max) == (0, 10)  # an input's bounds are only information
    assert channel(register="coil", address=0, writable=True).channel().direction is (
        Direction.BIDIRECTIONAL
    )


def test_coils_take_booleans_and_numbers_take_numbers() -> None:
    coil = channel(register="coil", address=0, writable=True)
    assert coil.to_raw(True) is True
    assert coil.to_raw(0) is False
    with pytest.raises(ValueError, match="takes true or false"):
        coil.to_raw(2)
    number = channel(register="holding", address=0, type="float32", writable=True)
    with pytest.raises(ValueError, match="takes a number"):
        number.to_raw("high")
    with pytest.raises(ValueError, match="beyond what a float32 holds"):
        number.to_raw(1e39)
    fine = channel(register="holding", address=0, type="int16", scale=0.001, writable=True)
    assert fine.to_raw(32.767) == 32767  # 32766.999999999996 is float noise, not a value


def specs(*items: tuple[str, int, str]) -> list[RegisterChannel]:
    return [channel(register=table, address=address, type=kind) for table, address, kind in items]


def test_reads_are_grouped_into_the_fewest_requests_the_limits_allow() -> None:
    many = specs(*(("holding", address, "uint16") for address in range(130)))
    blocks = plan_reads(many)
    assert [(b.start, b.count) for b in blocks] == [(0, 125), (125, 5)]
    # A 32-bit value is never split across two requests.
    wide = specs(("input", 0, "uint16"), ("input", 124, "uint32"), ("input", 126, "float32"))
    assert [(b.start, b.count) for b in plan_reads(wide)] == [(0, 1), (124, 4)]
    # Tables are read separately; unused addresses are read over unless max_gap says not.
    mixed = specs(
        ("input", 0, "int16"), ("input", 50, "int16"), ("coil", 0, "bool"), ("coil", 1999, "bool")
    )
    assert [(b.table, b.start, b.count) for b in plan_reads(mixed)] == [
        ("coil", 0, 2000),
        ("input", 0, 51),
    ]
    assert [(b.start, b.count) for b in plan_reads(mixed, max_gap=10) if b.table == "input"] == [
        (0, 1),
        (50, 1),
    ]
    assert len(plan_reads(mixed, max_bits=1000)) == 3
    assert len(plan_reads(many, max_registers=10)) == 13
    # Overlapping channels share the addresses.
    overlap = specs(("holding", 0, "uint32"), ("holding", 1, "uint16"))
    assert [(b.start, b.count, len(b.channels)) for b in plan_reads(overlap)] == [(0, 2, 2)]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"channels": []}, "channels"),
        ({"udp": {"host": "h"}}, "(root)"),
        ({"serial": {"port": "/dev/x"}}, "(root)"),  # both tcp and serial
        ({"tcp": None}, "(root)"),  # neither
        ({"tcp": {"host": "h", "port": 0}}, "tcp.port"),
        ({"tcp": {"host": "h", "timeout": 0}}, "tcp.timeout"),
        ({"tcp": {"port": 502}}, "tcp"),
        ({"tcp": {"host": "h", "baud": 9600}}, "tcp"),
        ({"tcp": None, "serial": {"port": "/dev/x", "parity": "X"}}, "serial.parity"),
        ({"tcp": None, "serial": {"port": "/dev/x", "data_bits": 9}}, "serial.data_bits"),
        ({"tcp": None, "serial": {"port": "/dev/x", "data_bits": 7}}, "serial.data_bits"),
        ({"tcp": None, "serial": {"port": "/dev/x", "framing": "binary"}}, "serial.framing"),
        ({"tcp": None, "serial": {"port": "/dev/x"}, "slave_id": 0}, "slave_id"),
        ({"slave_id": 256}, "slave_id"),
        ({"channels": [{"id": "a", "register": "ram", "address": 0}]}, "channels.0.register"),
        ({"channels": [{"id": "a", "register": "input", "address": -1}]}, "channels.0.address"),
        ({"channels": [{"id": "a", "register": "input", "address": 65535, "type": "uint32"}]},
         "channels.0.address"),
        ({"channels": [{"id": "a", "register": "input", "address": 0, "type": "int64"}]},
         "channels.0.type"),
        ({"channels": [{"id": "a", "register": "coil", "address": 0, "type": "int16"}]},
         "channels.0.type"),
        ({"channels": [{"id": "a", "register": "holding", "address": 0, "type": "bool"}]},
         "channels.0.type"),
        ({"channels": [{"id": "a", "register": "input", "address": 0, "writable": True}]},
         "channels.0.writable"),
        ({"channels": [{"id": "a", "register": "discrete_input", "address": 0,
                        "writable": True}]}, "channels.0.writable"),
        ({"channels": [{"id": "a", "register": "input", "address": 0, "scale": 0}]},
         "channels.0.scale"),
        ({"channels": [{"id": "a", "register": "coil", "address": 0, "scale": 2}]},
         "channels.0.scale"),
        ({"channels": [{"id": "a", "register": "input", "address": 0, "word_order": "little"}]},
         "channels.0.word_order"),
        ({"channels": [{"id": "a", "register": "input", "address": 0, "min": 5, "max": 1}]},
         "channels.0.max"),
        ({"channels": [{"id": "a", "register": "holding", "address": 0, "writable": True,
                        "min": 70000}]}, "channels.0.min"),
        ({"channels": [{"id": "a", "register": "input", "address": 0, "safe_value": 1}]},
         "channels.0.safe_value"),
        ({"channels": [{"id": "a", "register": "coil", "address": 0, "writable": True,
                        "safe_value": 1}]}, "channels.0.safe_value"),
        ({"channels": [{"id": "a", "register": "holding", "address": 0, "writable": True,
                        "max": 10, "safe_value": 11}]}, "channels.0.safe_value"),
        ({"channels": [{"id": "a", "register": "input", "address": 0},
                       {"id": "a", "register": "input", "address": 1}]}, "channels.1.id"),
        ({"channels": [{"id": "a b", "register": "input", "address": 0}]}, "channels.0.id"),
        ({"channels": [{"id": "a", "register": "input", "address": 0, "colour": "red"}]},
         "channels.0"),
        ({"channels": [{"id": "a", "register": "input", "address": 0, "type": "uint32"}],
          "max_registers_per_read": 1}, "max_registers_per_read"),
        ({"max_registers_per_read": 126}, "max_registers_per_read"),
        ({"max_bits_per_read": 2001}, "max_bits_per_read"),
        ({"max_gap": -1}, "max_gap"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(config: dict[str, Any], field: str) -> None:
    merged = {"tcp": tcp(502), "channels": RIG_CHANNELS, **config}
    with pytest.raises(InvalidConfigError) as err:
        ModbusPlugin({key: value for key, value in merged.items() if value is not None})
    assert err.value.field == field


def test_a_serial_line_is_set_up_as_a_bus_of_the_modbus_bridge_is() -> None:
    serial = {"port": "/dev/ttyRS485", "baud": 19200, "parity": "E", "stop_bits": 2}
    plugin = ModbusPlugin({"serial": serial, "slave_id": 3, "channels": RIG_CHANNELS})
    assert plugin.channels()[0].id == "pump"
    ascii_line = {"port": "/dev/ttyRS485", "framing": "ascii", "data_bits": 7}
    assert ModbusPlugin({"serial": ascii_line, "channels": RIG_CHANNELS}).channels()


def test_the_channels_carry_names_units_and_directions() -> None:
    plugin = ModbusPlugin(rig_config(502))
    by_id = {c.id: c for c in plugin.channels()}
    assert list(by_id) == [item["id"] for item in RIG_CHANNELS]
    assert (by_id["temp"].name, by_id["temp"].unit) == ("Temperature", "degC")
    assert by_id["counter"].name == "Counter"
    assert by_id["temp"].direction is Direction.INPUT
    assert by_id["setpoint"].direction is Direction.BIDIRECTIONAL
    assert (by_id["setpoint"].min_value, by_id["setpoint"].max_value) == (-20, 80)
    assert (by_id["speed"].min_value, by_id["speed"].max_value) == (0, 65535)
    assert by_id["pump"].safe_value is False
    # One request per table: 4, with the input registers' gap read over.
    assert [(b.table, b.start, b.count) for b in plugin.read_blocks] == [
        ("coil", 0, 1),
        ("discrete_input", 3, 1),
        ("holding", 0, 8),
        ("input", 0, 13),
    ]


def test_the_plugin_is_registered_like_the_other_bundled_plugins() -> None:
    found = discover().get("modbus")
    assert found is not None, (
        'pyproject.toml lacks modbus = "bridges.plugin_host.bundled.modbus:ModbusPlugin" under '
        '[project.entry-points."revlink.plugins"] (then reinstall: make install)'
    )
    assert (found.plugin_class, found.load_error, found.distribution) == (
        ModbusPlugin,
        "",
        "revlink",
    )


# -- the conformance suite, against the rig and against the demo's meter --------------------


class TestModbusConformance(PluginConformance):
    plugin_class = ModbusPlugin
    config: ClassVar[dict[str, Any]] = {}  # the rig's port is only known once it runs
    invalid_configs = (
        ({"tcp": tcp(502), "channels": []}, "channels"),
        ({"tcp": tcp(502)}, "(root)"),
        ({"channels": RIG_CHANNELS}, "(root)"),
        ({"tcp": {"port": 502}, "channels": RIG_CHANNELS}, "tcp"),
        ({"tcp": tcp(502), "channels": RIG_CHANNELS, "slave_id": -1}, "slave_id"),
    )

    @pytest.fixture(autouse=True)
    def _rig(self, module_rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(type(self), "config", rig_config(module_rig.port))


@contextlib.contextmanager
def meter_thread(seed: int = 1) -> Iterator[tuple[Rig, MeterServer]]:
    with rig_thread() as rig:
        meter = MeterServer(EnergyMeter(seed=seed), "127.0.0.1", 0, period_s=0.05)
        stop = asyncio.Event()
        running: list[asyncio.Task[int]] = []

        async def start() -> None:
            rig.port = await meter.start()
            running.append(asyncio.create_task(meter.run(stop)))

        async def finish() -> None:
            stop.set()
            await running[0]
            await meter.close()

        rig.call(start)
        try:
            yield rig, meter
        finally:
            rig.call(finish)


@pytest.fixture(scope="module")
def meter_port() -> Iterator[int]:
    with meter_thread() as (rig, _):
        yield rig.port


class TestMeterConformance(PluginConformance):
    """The config ``revlink demo`` gives its ``meter`` instance, against the simulated meter."""

    plugin_class = ModbusPlugin
    config: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(autouse=True)
    def _meter(self, meter_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(type(self), "config", plugin_config("127.0.0.1", meter_port))


# -- a real TCP server ------------------------------------------------------------------------


async def connected(config: dict[str, Any]) -> ModbusPlugin:
    plugin = ModbusPlugin(config)
    await plugin.connect()
    return plugin


async def test_reads_every_type_in_one_request_per_table(rig: Rig) -> None:
    rig.set(FC_COILS, 0, [True])
    rig.set(FC_DISCRETE, 3, [True])
    holding = convert_to(-123, DATATYPE.INT16) + convert_to(1500, DATATYPE.UINT16)
    holding += convert_to(-70000, DATATYPE.INT32)
    holding += convert_to(4_000_000_000, DATATYPE.UINT32, word_order="little")
    holding += convert_to(0.25, DATATYPE.FLOAT32)
    rig.set(FC_HOLDING, 0, holding)
    inputs = convert_to(215, DATATYPE.INT16) + convert_to(12.5, DATATYPE.FLOAT32)
    inputs += convert_to(99_999, DATATYPE.UINT32)
    rig.set(FC_INPUT, 0, inputs)
    rig.set(FC_INPUT, 10, [90, *convert_to(-3.75, DATATYPE.FLOAT32, word_order="little")])
    plugin = await connected(rig_config(rig.port))
    try:
        rig.requests.clear()
        assert await plugin.read_inputs() == {
            "pump": True,
            "door": True,
            "setpoint": -52.3,  # -123 * 0.1 - 40
            "speed": 1500,
            "target": -70000,
            "total": 4_000_000_000,
            "gain": 0.25,
            "temp": 21.5,
            "flow": 12.5,
            "counter": 99_999,
            "level": 50.0,  # 90 * 0.5 + 5
            "swapped": -3.75,
        }
        assert sorted(rig.requests) == [FC_COILS, FC_DISCRETE, FC_HOLDING, FC_INPUT]
    finally:
        await plugin.safe_disconnect()


async def test_a_poll_of_many_registers_takes_the_fewest_requests(rig: Rig) -> None:
    rig.set(FC_INPUT, 0, list(range(200)))
    items = [{"id": f"r{a}", "register": "input", "address": a} for a in range(0, 200, 3)]
    plugin = await connected({"tcp": tcp(rig.port), "slave_id": SLAVE, "channels": items})
    try:
        rig.requests.clear()
        reading = await plugin.read_inputs()
        assert reading == {f"r{a}": a for a in range(0, 200, 3)}
        assert rig.requests == [FC_INPUT, FC_INPUT]  # 0-124 and 126-198
    finally:
        await plugin.safe_disconnect()


async def test_writes_invert_the_scaling_and_clamp(rig: Rig) -> None:
    plugin = await connected(rig_config(rig.port))
    try:
        assert await plugin.write("setpoint", 23.54) == (23.5, False)  # at the 0.1 resolution
        assert rig.get(FC_HOLDING, 0) == [635]
        assert await plugin.write("setpoint", 500) == (80, True)
        assert rig.get(FC_HOLDING, 0) == [1200]
        assert await plugin.write("speed", -5) == (0, True)
        assert await plugin.write("target", -1) == (-1, False)
        assert convert_from(rig.get(FC_HOLDING, 2, 2), DATATYPE.INT32) == -1
        rig.requests.clear()
        assert await plugin.write("total", 70_000) == (70_000, False)
        assert rig.requests == [16]  # a 32-bit value goes in one write-multiple request
        assert rig.get(FC_HOLDING, 4, 2) == convert_to(70_000, DATATYPE.UINT32, "little")
        assert await plugin.write("gain", 2.2) == (2.2, False)
        assert convert_from(rig.get(FC_HOLDING, 6, 2), DATATYPE.FLOAT32) == pytest.approx(2.2)
        assert await plugin.write("pump", 1) == (True, False)
        assert rig.get(FC_COILS, 0) == [True]
        reading = await plugin.read_inputs()
        assert (reading["setpoint"], reading["total"], reading["pump"]) == (80, 70_000, True)
        with pytest.raises(ValueError, match="takes true or false"):
            await plugin.write("pump", "on")
    finally:
        await plugin.safe_disconnect()
    # The safe values, after the scaling: 20 degC is (20 + 40) / 0.1.
    assert rig.get(FC_COILS, 0) == [False]
    assert rig.get(FC_HOLDING, 0, 2) == [600, 0]
    assert convert_from(rig.get(FC_HOLDING, 6, 2), DATATYPE.FLOAT32) == 1.5


async def test_a_slave_exception_is_a_clear_error(rig: Rig) -> None:
    unmapped = {"id": "x", "register": "holding", "address": 100}
    plugin = await connected({"tcp": tcp(rig.port), "slave_id": SLAVE, "channels": [unmapped]})
    with pytest.raises(ModbusDeviceError) as err:
        await plugin.read_inputs()
    assert str(err.value) == (
        f"reading holding registers 100 of slave {SLAVE} at 127.0.0.1:{rig.port}: "
        "slave exception 2 (illegal data address)"
    )
    await plugin.safe_disconnect()
    # A read over unused addresses says what to do about it.
    spans = [{"id": "a", "register": "input", "address": 150}, {**unmapped, "register": "input",
             "address": 205}]  # fmt: skip
    plugin = await connected({"tcp": tcp(rig.port), "slave_id": SLAVE, "channels": spans})
    with pytest.raises(ModbusDeviceError, match=r"input registers 150-205 .* set max_gap to 0"):
        await plugin.read_inputs()
    await plugin.safe_disconnect()


async def test_safe_values_are_all_tried_even_when_one_fails(rig: Rig) -> None:
    items = [
        {"id": "locked", "register": "holding", "address": LOCKED, "writable": True,
         "safe_value": 1},
        {"id": "pump", "register": "coil", "address": 0, "writable": True, "safe_value": False},
    ]  # fmt: skip
    plugin = await connected({"tcp": tcp(rig.port), "slave_id": SLAVE, "channels": items})
    await plugin.write("pump", True)
    with pytest.raises(ModbusDeviceError, match=r"writing holding registers 200 .* exception 2"):
        await plugin.safe_disconnect()
    assert rig.get(FC_COILS, 0) == [False]
    with pytest.raises(ModbusDeviceError, match="not connected"):
        await plugin.read_inputs()


async def test_no_answer_is_a_timeout_that_names_the_request(rig: Rig) -> None:
    plugin = await connected(rig_config(rig.port) | {"tcp": tcp(rig.port, timeout=0.2)})
    rig.delay_s = 2.0
    with pytest.raises(ModbusDeviceError) as err:
        await plugin.read_inputs()
    assert str(err.value) == (
        f"reading coils 0 of slave {SLAVE} at 127.0.0.1:{rig.port}: no response within 0.2 s"
    )
    await plugin.disconnect()


async def test_connection_failures_say_why() -> None:
    port = free_port()
    with pytest.raises(ModbusDeviceError) as err:
        await connected(rig_config(port))
    assert str(err.value).startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert "refused" in str(err.value).lower() or "failed" in str(err.value).lower()
    serial = {"port": "/dev/no-such-tty", "timeout": 0.2}
    with pytest.raises(
        ModbusDeviceError, match=r"cannot connect to /dev/no-such-tty: .*no-such-tty"
    ):
        await connected({"serial": serial, "slave_id": SLAVE, "channels": RIG_CHANNELS})


async def test_a_lost_connection_is_reported() -> None:
    with tcp_rig() as rig:
        plugin = await connected(rig_config(rig.port))
        await plugin.read_inputs()
        rig.stop()  # the server closes its connections
        failure = None
        for _ in range(50):  # until the client has seen the socket close
            try:
                await plugin.read_inputs()
            except ModbusDeviceError as exc:
                failure = str(exc)
                break
            await asyncio.sleep(0.05)
        assert failure == (
            f"reading coils 0 of slave {SLAVE} at 127.0.0.1:{rig.port}: the connection was lost"
        )
        await plugin.disconnect()


# -- RTU over a serial line: a socat pty pair ------------------------------------------------


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    socat = shutil.which("socat")
    if socat is None:
        pytest.skip("socat is not installed (.ci/run installs it)")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    process = subprocess.Popen(
        [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: a.exists() and b.exists(), 10, "socat's pty pair")
        yield str(a), str(b)
    finally:
        process.terminate()
        process.wait(10)


async def test_rtu_over_a_serial_line(pty_pair: tuple[str, str]) -> None:
    device_end, plugin_end = pty_pair
    with rig_thread() as rig:

        async def start() -> None:
            rig.server = ModbusSerialServer(
                [rig_device(rig.action)],
                framer=FramerType.RTU,
                port=device_end,
                baudrate=19200,  # a pty takes no parity: the plugin's default, N
            )
            await rig.server.serve_forever(background=True)

        rig.call(start)
        rig.set(FC_INPUT, 0, convert_to(-5, DATATYPE.INT16))
        serial = {"port": plugin_end, "baud": 19200}
        plugin = await connected({"serial": serial, "slave_id": SLAVE, "channels": RIG_CHANNELS})
        try:
            assert (await plugin.read_inputs())["temp"] == -0.5
            assert await plugin.write("speed", 42) == (42, False)
            assert rig.get(FC_HOLDING, 1) == [42]
        finally:
            await plugin.safe_disconnect()


# -- in a real plugin host -------------------------------------------------------------------


@pytest.fixture(scope="module")
def modbus_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the host finds the ``modbus`` entry point: from revlink's own distribution once
    pyproject.toml registers it, until then from a distribution installed here, the same way
    (see test_the_plugin_is_registered_like_the_other_bundled_plugins)."""
    site = tmp_path_factory.mktemp("modbus-site")
    if "modbus" not in discover():
        info = site / "revlink_modbus_entry_point-0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: revlink-modbus-entry-point\nVersion: 0\n"
        )
        (info / "entry_points.txt").write_text(
            "[revlink.plugins]\nmodbus = bridges.plugin_host.bundled.modbus:ModbusPlugin\n"
        )
    return site


def host_call(host: PluginHostProcess, method: str, request: object) -> Any:
    with grpc.insecure_channel(host.target) as channel:
        return getattr(host.stub(channel), method)(request, timeout=10)


def host_readings(host: PluginHostProcess, name: str) -> dict[str, object]:
    reply = host_call(host, "ReadChannels", pb.ReadChannelsRequest(instance=name))
    return {r.channel_id: getattr(r.value, r.value.WhichOneof("kind")) for r in reply.readings}


def test_in_the_host_an_unanswering_device_is_an_error_and_is_reconnected(
    modbus_site: Path, rig: Rig, tmp_path: Path
) -> None:
    rig.set(FC_INPUT, 0, convert_to(215, DATATYPE.INT16))
    config = rig_config(rig.port) | {"tcp": tcp(rig.port, timeout=0.2)}
    with start_plugin_host(modbus_site, tmp_path / "data", tmp_path / "logs") as host:
        listed = host_call(host, "ListPlugins", pb.ListPluginsRequest())
        modbus = next(p for p in listed.plugins if p.id == "modbus")
        assert modbus.load_error == ""
        assert {"tcp", "serial"} <= set(json.loads(modbus.config_schema_json)["properties"])
        created = host_call(
            host,
            "CreateInstance",
            pb.CreateInstanceRequest(
                name="rig",
                plugin_id="modbus",
                config_json=json.dumps(config),
                start=True,
                poll_interval=Duration(nanos=100_000_000),
            ),
        )
        units = {c.id: c.unit for c in created.instance.channels}
        assert (units["temp"], units["flow"]) == ("degC", "l/min")
        wait_for(lambda: host_readings(host, "rig").get("temp") == 21.5, 10, "the first poll")
        written = host_call(
            host,
            "WriteChannel",
            pb.WriteChannelRequest(
                instance="rig", channel_id="setpoint", value=pb.ChannelValue(double_value=99)
            ),
        )
        assert (written.written.double_value, written.clamped) == (80, True)
        assert rig.get(FC_HOLDING, 0) == [1200]

        rig.delay_s = 2.0  # the device stops answering in time
        wait_for(lambda: host.status("rig").state == pb.INSTANCE_STATE_ERROR, 10, "error")
        # Whichever request of the poll was the first to go unanswered.
        error = host.status("rig").last_error
        assert error.startswith("ModbusDeviceError: reading "), error
        assert error.endswith(f"of slave {SLAVE} at 127.0.0.1:{rig.port}: no response within 0.2 s")
        rig.delay_s = 0.0
        rig.set(FC_INPUT, 0, convert_to(-10, DATATYPE.INT16))
        wait_for(lambda: host_readings(host, "rig").get("temp") == -1.0, 15, "reconnected")
        status = host.status("rig")
        assert status.state == pb.INSTANCE_STATE_RUNNING
        assert status.restart_count >= 1

        stopped = host_call(host, "StopInstance", pb.StopInstanceRequest(name="rig"))
        assert stopped.instance.state == pb.INSTANCE_STATE_STOPPED
    # Stopping put the outputs to their safe values.
    assert rig.get(FC_HOLDING, 0) == [600]
    assert rig.get(FC_COILS, 0) == [False]


def test_in_the_host_an_unreachable_device_keeps_being_retried(
    modbus_site: Path, tmp_path: Path
) -> None:
    port = free_port()
    with start_plugin_host(modbus_site, tmp_path / "data", tmp_path / "logs") as host:
        host_call(
            host,
            "CreateInstance",
            pb.CreateInstanceRequest(
                name="later",
                plugin_id="modbus",
                config_json=json.dumps(rig_config(port)),
                start=True,
            ),
        )
        wait_for(lambda: host.status("later").restart_count >= 1, 15, "a retry")
        status = host.status("later")
        assert status.state in (pb.INSTANCE_STATE_ERROR, pb.INSTANCE_STATE_CONNECTING)
        assert status.last_error.startswith(
            f"ModbusDeviceError: cannot connect to 127.0.0.1:{port}"
        )
        # The device appears: the next attempt connects.
        with tcp_rig(port) as rig:
            rig.set(FC_INPUT, 1, convert_to(3.5, DATATYPE.FLOAT32))
            wait_for(lambda: host_readings(host, "later").get("flow") == 3.5, 30, "connected")
            assert host.status("later").state == pb.INSTANCE_STATE_RUNNING
            host_call(host, "StopInstance", pb.StopInstanceRequest(name="later"))
