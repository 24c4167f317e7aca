"""The simulated energy meter: the pure model, its Modbus server read by the ``modbus``
plugin, the pump it follows in a real process image, and ``revlink sim-modbus`` as a process."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridges.platform import SAMPLE_CONFIGRSC
from bridges.platform.errors import UnknownIOError
from bridges.platform.image import create_image_file, open_process_image
from bridges.platform.iotable import IOKind, IOTable
from bridges.plugin_host.bundled.modbus import ModbusPlugin
from revlink.simulators.energy_meter import EnergyMeter, MeterParameters, MeterReadings
from revlink.simulators.meter_server import MeterServer, ProcessImagePump, plugin_config
from tests.rig.bridges import REPO_ROOT, free_port


def run(meter: EnergyMeter, seconds: float, pump_on: bool | None, dt: float = 0.1) -> list[Any]:
    return [meter.step(dt, pump_on) for _ in range(round(seconds / dt))]


# -- the model ---------------------------------------------------------------------------------


def test_a_seed_replays_the_same_meter() -> None:
    def series(seed: int) -> list[MeterReadings]:
        meter = EnergyMeter(seed=seed)
        return run(meter, 10, True) + run(meter, 10, False) + run(meter, 10, None)

    assert series(4) == series(4)
    assert series(4) != series(5)


def test_the_current_follows_the_pump_and_the_relay() -> None:
    p = MeterParameters()
    meter = EnergyMeter(p, seed=1)
    idle = run(meter, 10, False)[-1]
    assert idle.current == pytest.approx(p.idle_current, abs=5 * p.current_noise)
    pumping = run(meter, 10, True)
    assert pumping[0].current < pumping[-1].current  # a lag, not a jump
    assert pumping[-1].current == pytest.approx(p.pump_current, abs=5 * p.current_noise)
    meter.relay = True
    relayed = run(meter, 10, True)[-1]
    expected = p.pump_current + p.relay_current
    assert relayed.current == pytest.approx(expected, abs=5 * p.current_noise)
    assert relayed.relay


def test_without_a_pump_the_current_swings_slowly() -> None:
    p = MeterParameters()
    currents = [r.current for r in run(EnergyMeter(p, seed=2), p.swing_period_s, None)]
    assert min(currents) < p.idle_current + 0.1
    assert max(currents) > p.pump_current - 0.1
    half = len(currents) // 2
    assert currents.index(max(currents)) == pytest.approx(half, abs=len(currents) * 0.05)


def test_voltage_power_and_energy_are_consistent() -> None:
    p = MeterParameters()
    meter = EnergyMeter(p, seed=3)
    readings = run(meter, 600, True)
    bound = p.voltage_swing + 6 * p.voltage_noise
    assert all(abs(r.voltage - p.nominal_voltage) <= bound for r in readings)
    assert all(r.power == r.voltage * r.current for r in readings)
    assert all(abs(r.frequency - p.frequency) <= 6 * p.frequency_noise for r in readings)
    used_wh = sum(r.power * 0.1 for r in readings) / 3600
    assert readings[-1].energy_wh == pytest.approx(p.initial_energy_kwh * 1000 + used_wh)
    assert used_wh == pytest.approx(230 * p.pump_current * 600 / 3600, rel=0.05)
    # The meter warms with the power it carries.
    assert readings[-1].temperature > readings[0].temperature > p.ambient_temperature - 0.01


def test_the_power_limit_sets_the_alarm() -> None:
    meter = EnergyMeter(seed=4)
    assert not run(meter, 10, True)[-1].over_limit  # ~970 W under the default 1000 W
    meter.power_limit_w = 500
    assert run(meter, 0.1, True)[-1].over_limit
    assert not run(meter, 10, False)[-1].over_limit


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"current_lag_s": 0}, "current_lag_s must be > 0"),
        ({"voltage_noise": -1}, "voltage_noise must be >= 0"),
        ({"nominal_voltage": math.nan}, "nominal_voltage must be a finite number"),
        ({"power_limit_w": 70000}, "power_limit_w must be 0-65535"),
    ],
)
def test_bad_parameters_are_named(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MeterParameters(**parameters)


def test_time_only_goes_forward() -> None:
    with pytest.raises(ValueError, match="dt_s must be >= 0"):
        EnergyMeter().step(-1)


# -- served over Modbus TCP, read by the modbus plugin -----------------------------------------


@pytest.fixture
async def served() -> AsyncIterator[MeterServer]:
    server = MeterServer(EnergyMeter(seed=7), "127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def plugin(served: MeterServer) -> AsyncIterator[ModbusPlugin]:
    meter = ModbusPlugin(plugin_config("127.0.0.1", served.port))
    await meter.connect()
    try:
        yield meter
    finally:
        await meter.safe_disconnect()


def expected(readings: MeterReadings) -> dict[str, Any]:
    """What the plugin should read: float32 values, whole Wh in kWh, 0.1 degC."""
    return {
        "voltage": pytest.approx(readings.voltage, rel=1e-6),
        "current": pytest.approx(readings.current, rel=1e-6),
        "power": pytest.approx(readings.power, rel=1e-6),
        "frequency": pytest.approx(readings.frequency, rel=1e-6),
        "energy": round(readings.energy_wh) / 1000,
        "temperature": round(readings.temperature * 10) / 10,
        "power_limit": readings.power_limit_w,
        "relay": readings.relay,
        "over_limit": readings.over_limit,
    }


async def test_the_plugin_reads_what_the_meter_serves(
    served: MeterServer, plugin: ModbusPlugin
) -> None:
    assert served.readings is not None
    assert await plugin.read_inputs() == expected(served.readings)  # served from the start
    readings = await served.step(3600.0)  # an hour passes: energy and temperature move
    assert await plugin.read_inputs() == expected(readings)
    assert readings.energy_wh > 1520_000


async def test_writes_reach_the_model(served: MeterServer, plugin: ModbusPlugin) -> None:
    before = await served.step(10.0)
    assert await plugin.write("relay", True) == (True, False)
    assert await plugin.write("power_limit", 9999) == (5000, True)
    after = await served.step(10.0)
    assert (served.meter.relay, served.meter.power_limit_w) == (True, 5000)
    assert after.current > before.current + 1.5  # the relay's load
    assert await plugin.write("power_limit", 10) == (10, False)
    await served.step(0.1)
    reading = await plugin.read_inputs()
    assert (reading["over_limit"], reading["relay"], reading["power_limit"]) == (True, True, 10)


async def test_other_addresses_answer_with_an_exception(served: MeterServer) -> None:
    config = plugin_config("127.0.0.1", served.port)
    config["channels"] = [{"id": "x", "register": "holding", "address": 0}]
    meter = ModbusPlugin(config)
    await meter.connect()
    try:
        with pytest.raises(Exception, match=r"slave exception 2 \(illegal data address\)"):
            await meter.read_inputs()
    finally:
        await meter.disconnect()


async def test_the_server_runs_in_real_time_until_stopped(served: MeterServer) -> None:
    stop = asyncio.Event()
    served.period_s = 0.01
    task = asyncio.create_task(served.run(stop))
    await asyncio.sleep(0.1)
    stop.set()
    cycles = await task
    assert cycles >= 1
    assert served.meter.elapsed_s > 0


# -- following the pump in the process image ------------------------------------------------


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return create_image_file(tmp_path / "procimg.bin")


@pytest.fixture
def pump_output(image: Path) -> Iterator[Callable[[bool], None]]:
    """Drive the pump's DO from the device side, as the platform bridge does."""
    rpi = open_process_image(image, SAMPLE_CONFIGRSC)
    name = IOTable.from_modio(rpi).by_pin(IOKind.DO, 0).name

    def drive(on: bool) -> None:
        rpi.io[name].value = on
        rpi.writeprocimg()

    yield drive
    rpi.cleanup()


async def test_the_current_follows_the_pump_in_the_image(
    image: Path, pump_output: Callable[[bool], None]
) -> None:
    pump = ProcessImagePump(image, SAMPLE_CONFIGRSC, pump_do=0)
    try:
        assert pump.io_name == "O_1"
        assert pump() is False
        pump_output(True)
        assert pump() is True
        server = MeterServer(EnergyMeter(seed=1), "127.0.0.1", 0, pump=pump)
        await server.start()
        try:
            for _ in range(50):
                readings = await server.step(0.2)
            assert readings.current > 4.0
            pump_output(False)
            for _ in range(50):
                readings = await server.step(0.2)
            assert readings.current < 0.5
        finally:
            await server.close()
    finally:
        pump.close()
    with pytest.raises(UnknownIOError, match="no DO pin 99"):
        ProcessImagePump(image, SAMPLE_CONFIGRSC, pump_do=99)


# -- revlink sim-modbus ------------------------------------------------------------------------


def sim_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "revlink", "sim-modbus", *args]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_the_command_serves_the_meter_following_the_pump(
    image: Path, pump_output: Callable[[bool], None], tmp_path: Path
) -> None:
    port = free_port()
    argv = sim_argv("--listen", f"127.0.0.1:{port}", "--seed", "3", "--period-ms", "20")
    argv += ["--procimg", str(image), "--configrsc", str(SAMPLE_CONFIGRSC)]
    log = tmp_path / "sim-modbus.log"
    env = {**os.environ, "REVLINK_LOG_FORMAT": "json"}
    with log.open("wb") as out:
        sim = await asyncio.create_subprocess_exec(*argv, stderr=out, env=env, cwd=REPO_ROOT)
    try:
        meter = ModbusPlugin(plugin_config("127.0.0.1", port))

        async def serving() -> bool:
            try:
                await meter.connect()
            except Exception:
                return sim.returncode is not None  # stop waiting if it died
            return True

        await eventually(serving, 20, "revlink sim-modbus serving")
        assert sim.returncode is None, log.read_text()
        pump_output(True)

        async def pumping() -> bool:
            return float((await meter.read_inputs())["current"]) > 4.0

        await eventually(pumping, 20, "the current of the running pump")
        await meter.safe_disconnect()
        sim.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            assert await sim.wait() == 0
    finally:
        if sim.returncode is None:
            sim.kill()
            await sim.wait()
    text = log.read_text()
    assert '"event": "sim_modbus.running"' in text
    assert '"pump": "O_1"' in text
    assert '"event": "sim_modbus.stopped"' in text
    assert '"level": "error"' not in text


def one_line_failure(*args: str) -> str:
    done = subprocess.run(sim_argv(*args), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_the_command_says_in_one_line_what_is_wrong(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = one_line_failure("--listen", f"127.0.0.1:{port}")
    assert line == f"revlink sim-modbus: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert one_line_failure("--listen", "unix:/tmp/x").endswith(
        "needs HOST:PORT, not a unix socket"
    )
    assert "port is not a number" in one_line_failure("--listen", "127.0.0.1:x")
    assert one_line_failure("--period-ms", "0").endswith("--period-ms must be > 0, not 0.0")
    missing = tmp_path / "nope.bin"
    line = one_line_failure("--procimg", str(missing), "--configrsc", str(SAMPLE_CONFIGRSC))
    assert f"process image {missing}: not found" in line
    image = create_image_file(tmp_path / "procimg.bin")
    config = tmp_path / "none.rsc"
    line = one_line_failure("--procimg", str(image), "--configrsc", str(config))
    assert line == f"revlink sim-modbus: config {config}: file not found"
    line = one_line_failure(
        "--procimg", str(image), "--configrsc", str(SAMPLE_CONFIGRSC), "--pump-do", "99"
    )
    assert line.startswith("revlink sim-modbus: --pump-do 99: no DO pin 99")
