"""``revlink sim`` on a real process-image file, watched from the device side with revpimodio2.

The command runs as a subprocess exactly as an operator starts it; an independent revpimodio2
instance opened like the bridge opens it (non-simulator) sets the pump output and reads what
the plant does. Everything is polled with a timeout, never slept for a fixed time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridges.platform import SAMPLE_CONFIGRSC
from bridges.platform.image import create_image_file, open_process_image
from bridges.platform.iotable import IOKind, IOTable
from bridges.platform.sim.plant import PlantParameters
from bridges.platform.sim.runner import PinError, Simulator, SimulatorConfig

StartSim = Callable[..., "subprocess.Popen[bytes]"]


def wait_for(device: Any, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Re-read the image every 10 ms until ``predicate`` holds; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        device.readprocimg()
        if predicate():
            return True
        time.sleep(0.01)
    return False


def distinct_values(io: Any, count: int, seen: set[Any]) -> Callable[[], bool]:
    """A predicate for ``wait_for``: true once ``io`` has shown ``count`` different values."""

    def check() -> bool:
        seen.add(io.value)
        return len(seen) >= count

    return check


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return create_image_file(tmp_path / "procimg.bin")


@pytest.fixture
def device(image: Path) -> Iterator[Any]:
    rpi = open_process_image(image, SAMPLE_CONFIGRSC)
    yield rpi
    rpi.cleanup()


@pytest.fixture
def table(device: Any) -> IOTable:
    return IOTable.from_modio(device)


def _command(image: Path, *args: str) -> list[str]:
    base = ["--procimg", str(image), "--configrsc", str(SAMPLE_CONFIGRSC)]
    return [sys.executable, "-m", "revlink", "sim", *base, *args]


@pytest.fixture
def start_sim(image: Path, device: Any, tmp_path: Path) -> Iterator[StartSim]:
    """Start ``revlink sim`` on the test image and wait until it reports piControl running."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"sim{len(started)}.log").open("wb") as log:
            proc = subprocess.Popen(_command(image, *args), stderr=log)
        started.append(proc)
        assert wait_for(device, lambda: bool(device.core.picontrolrunning), timeout=15.0), (
            "revlink sim did not start"
        )
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_level_follows_the_pump_and_trips_the_float_switch(
    start_sim: StartSim, device: Any, table: IOTable
) -> None:
    pump = device.io[table.by_pin(IOKind.DO, 0).name]
    level = device.io[table.by_pin(IOKind.AI, 0).name]
    float_switch = device.io[table.by_pin(IOKind.DI, 0).name]
    start_sim("--fill-rate", "100", "--drain-rate", "100", "--initial-level", "50")

    # The pump starts off: the tank drains to empty.
    assert wait_for(device, lambda: level.value == 0)
    assert not float_switch.value

    pump.value = True
    device.writeprocimg()
    assert wait_for(device, lambda: 0 < level.value < 10000)  # on its way up
    assert wait_for(device, lambda: bool(float_switch.value))  # 90 %
    assert wait_for(device, lambda: level.value == 10000)

    pump.value = False
    device.writeprocimg()
    assert wait_for(device, lambda: 0 < level.value < 10000)  # on its way down
    assert wait_for(device, lambda: not float_switch.value)  # 85 %
    assert wait_for(device, lambda: level.value == 0)


def test_counter_counts_pulses_and_keeps_counting_after_a_reset(
    start_sim: StartSim, device: Any, table: IOTable
) -> None:
    counter = device.io[table.by_pin(IOKind.COUNTER, 1).name]
    pulse = device.io[table.by_pin(IOKind.DI, 1).name]
    start_sim("--pulse-hz", "8")

    assert wait_for(device, lambda: counter.value >= 5)
    assert wait_for(device, distinct_values(pulse, 2, set()))  # the pulse train on its DI

    # The simulator adds to the counter value it reads each cycle; a reset landing between its
    # read and its write is overwritten (the price of a file instead of piControl's ioctl), so
    # try again in that rare case.
    for _ in range(5):
        before: int = counter.value

        def dropped(before: int = before) -> bool:
            return bool(counter.value < before)

        counter.reset()
        if wait_for(device, dropped, timeout=1.0):
            break
    else:
        pytest.fail("the counter never showed the reset")
    after_reset = counter.value
    assert wait_for(device, lambda: counter.value > after_reset)


def test_temperature_changes_over_time(start_sim: StartSim, device: Any, table: IOTable) -> None:
    spec = table.by_pin(IOKind.AI, 4)
    temperature = device.io[spec.name]
    start_sim()

    seen: set[int] = set()
    assert wait_for(device, distinct_values(temperature, 3, seen))
    assert all(150 <= value <= 280 for value in seen), seen  # 21.5 degC +- 3 degC + noise


def test_sigterm_stops_cleanly_and_clears_the_running_bit(
    start_sim: StartSim, device: Any, table: IOTable, tmp_path: Path
) -> None:
    proc = start_sim()

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=10) == 0
    device.readprocimg()
    assert not device.core.picontrolrunning
    log = (tmp_path / "sim0.log").read_text()
    assert "sim_running" in log
    assert table.by_pin(IOKind.DO, 0).name in log  # the start line names the IOs it uses
    assert table.by_pin(IOKind.COUNTER, 1).name in log
    assert "Traceback" not in log


def test_create_image_runs_without_an_existing_file(tmp_path: Path) -> None:
    image = tmp_path / "new" / "procimg.bin"
    proc = subprocess.Popen(_command(image, "--create-image"), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not (image.exists() and image.stat().st_size == 4096):
            assert time.monotonic() < deadline, "revlink sim did not create the image"
            time.sleep(0.01)
        device = open_process_image(image, SAMPLE_CONFIGRSC)
        try:
            assert wait_for(device, lambda: bool(device.core.picontrolrunning), timeout=15.0)
        finally:
            device.cleanup()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def _fails_with_one_line(args: list[str]) -> str:
    env = {**os.environ, "REVLINK_LOG_LEVEL": "debug"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("revlink sim: ")
    return lines[0]


def test_missing_image_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.bin"
    assert str(missing) in _fails_with_one_line(_command(missing))


def test_pin_missing_from_the_config_exits_2_naming_it(image: Path) -> None:
    line = _fails_with_one_line(_command(image, "--level-ai", "42"))
    assert "--level-ai 42" in line
    assert "AI pin 42" in line


def test_bad_plant_parameter_exits_2(image: Path) -> None:
    assert "fill rate" in _fails_with_one_line(_command(image, "--fill-rate", "-3"))


def _config(image: Path, seed: int) -> SimulatorConfig:
    plant = PlantParameters(fill_rate=7.0, temperature_noise=5.0, pulse_hz=3.0)
    return SimulatorConfig(procimg=image, configrsc=SAMPLE_CONFIGRSC, seed=seed, plant=plant)


def _readings(image: Path, seed: int) -> list[tuple[int, int, bool, int]]:
    """Step a simulator in-process and return what the device side reads after each step."""
    device = open_process_image(image, SAMPLE_CONFIGRSC)
    try:
        table = IOTable.from_modio(device)
        level, temp, switch, counter = (
            device.io[table.by_pin(kind, pin).name]
            for kind, pin in [(IOKind.AI, 0), (IOKind.AI, 4), (IOKind.DI, 0), (IOKind.COUNTER, 1)]
        )
        pump = device.io[table.by_pin(IOKind.DO, 0).name]
        result = []
        with Simulator(_config(image, seed)) as sim:
            for i in range(60):
                pump.value = i % 20 < 12
                device.writeprocimg()
                sim.step(0.05 * (1 + i % 3))
                device.readprocimg()
                result.append((level.value, temp.value, switch.value, counter.value))
        return result
    finally:
        device.cleanup()


def test_same_seed_gives_the_same_image_values(tmp_path: Path) -> None:
    first = _readings(create_image_file(tmp_path / "a.bin"), seed=11)
    second = _readings(create_image_file(tmp_path / "b.bin"), seed=11)
    other = _readings(create_image_file(tmp_path / "c.bin"), seed=12)

    assert first == second
    assert [row[1] for row in first] != [row[1] for row in other]  # the temperature noise
    assert len({row[0] for row in first}) > 10  # the level really moved with the pump


def test_step_adds_to_the_image_counter_wraps_and_spares_other_inputs(image: Path) -> None:
    poker = open_process_image(image, SAMPLE_CONFIGRSC, simulator=True)
    try:
        table = IOTable.from_modio(poker, simulator=True)
        counter = table.by_pin(IOKind.COUNTER, 1).name
        other_input = table.by_pin(IOKind.DI, 5).name
        with Simulator(_config(image, seed=0)) as sim:
            sim.step(0.0)
            poker.io[counter].value = 2**32 - 2
            poker.io[other_input].value = True
            poker.writeprocimg()

            sim.step(1.0)  # 3 pulses at 3 Hz

            poker.readprocimg()
            assert poker.io[counter].value == 1  # wrapped like the DIO's 32-bit counter
            assert poker.io[other_input].value is True
    finally:
        poker.cleanup()


def test_unknown_pin_names_the_setting(image: Path) -> None:
    config = SimulatorConfig(procimg=image, configrsc=SAMPLE_CONFIGRSC, pulse_counter=99)
    with pytest.raises(PinError, match=r"pulse_counter=99: no COUNTER pin 99"):
        Simulator(config)
