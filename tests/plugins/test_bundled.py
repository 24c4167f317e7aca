"""The bundled plugins: the simulated device's signals and outputs, the host's own metrics."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
import pytest

from bridges.plugin_host.bundled.simulated import SimulatedPlugin
from bridges.plugin_host.bundled.simulated.config import (
    CONFIG_SCHEMA,
    DEFAULT_CHANNELS,
    DEFAULT_OUTPUTS,
)
from bridges.plugin_host.bundled.system import SystemPlugin, busy_percent, read_temperature
from bridges.plugin_host.discovery import discover
from bridges.plugin_host.sdk import Direction, InvalidConfigError, Value, validate_config


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0  # not zero: elapsed time must be measured from connect()

    def __call__(self) -> float:
        return self.now


async def connected(config: dict[str, Any], clock: FakeClock) -> SimulatedPlugin:
    plugin = SimulatedPlugin(config, clock=clock)
    await plugin.connect()
    return plugin


async def series(config: dict[str, Any], reads: int) -> list[dict[str, Value]]:
    clock = FakeClock()
    plugin = await connected(config, clock)
    values = []
    for _ in range(reads):
        clock.now += 0.5
        values.append(await plugin.read_inputs())
    return values


WALK = {"id": "p", "signal": "random_walk", "start": 5, "step": 1.5, "min": 0, "max": 10}


async def test_sine_peaks_a_quarter_period_in() -> None:
    clock = FakeClock()
    sine = {"id": "t", "signal": "sine", "amplitude": 3, "period_s": 4, "offset": 20}
    plugin = await connected({"channels": [sine]}, clock)
    clock.now += 1
    assert (await plugin.read_inputs())["t"] == pytest.approx(23)
    clock.now += 1
    assert (await plugin.read_inputs())["t"] == pytest.approx(20)
    clock.now += 1
    assert (await plugin.read_inputs())["t"] == pytest.approx(17)


async def test_noise_stays_within_its_bound() -> None:
    sine = {"id": "t", "signal": "sine", "amplitude": 1, "period_s": 4, "noise": 0.5}
    for reading in await series({"seed": 3, "channels": [sine]}, 200):
        assert -1.5 <= float(reading["t"]) <= 1.5


async def test_random_walk_is_bounded_and_reproducible() -> None:
    same = await series({"seed": 42, "channels": [WALK]}, 1000)
    assert all(0 <= float(reading["p"]) <= 10 for reading in same)
    steps = [abs(float(a["p"]) - float(b["p"])) for a, b in pairwise(same)]
    assert max(steps) <= 1.5
    assert {float(r["p"]) for r in same} & {0.0, 10.0}, "1000 steps of 1.5 should hit a bound"
    assert await series({"seed": 42, "channels": [WALK]}, 1000) == same
    assert await series({"seed": 43, "channels": [WALK]}, 1000) != same


async def test_restarting_replays_a_seeded_simulation() -> None:
    clock = FakeClock()
    plugin = await connected({"seed": 1, "channels": [WALK]}, clock)
    first = [await plugin.read_inputs() for _ in range(5)]
    await plugin.safe_disconnect()
    await plugin.connect()
    assert [await plugin.read_inputs() for _ in range(5)] == first


async def test_step_holds_each_value_then_cycles() -> None:
    clock = FakeClock()
    step = {"id": "v", "signal": "step", "values": [1, 2, 3], "period_s": 10}
    plugin = await connected({"channels": [step]}, clock)
    seen = []
    for t in (0, 9.9, 10, 19.9, 20, 29.9, 30, 45):
        clock.now = 1000.0 + t
        seen.append((await plugin.read_inputs())["v"])
    assert seen == [1, 1, 2, 2, 3, 3, 1, 2]


async def test_outputs_are_clamped_and_read_back() -> None:
    plugin = await connected(
        {"outputs": [{"id": "sp", "min": 0, "max": 100, "safe_value": 5, "initial": 50}]},
        FakeClock(),
    )
    assert plugin.channel("sp").direction is Direction.BIDIRECTIONAL
    assert await plugin.read_inputs() == {"sp": 50}
    assert await plugin.write("sp", 250) == (100, True)
    assert await plugin.read_inputs() == {"sp": 100}
    assert await plugin.write("sp", 12.5) == (12.5, False)
    assert await plugin.read_inputs() == {"sp": 12.5}
    with pytest.raises(ValueError, match="takes a number"):
        await plugin.write("sp", "high")
    await plugin.safe_disconnect()
    assert await plugin.read_inputs() == {"sp": 5}


async def test_the_default_device() -> None:
    assert validate_config(
        CONFIG_SCHEMA, {"channels": DEFAULT_CHANNELS, "outputs": DEFAULT_OUTPUTS}
    )
    plugin = SimulatedPlugin({})
    ids = [channel.id for channel in plugin.channels()]
    assert ids == ["tank_temp", "line_pressure", "valve_state", "setpoint"]
    await plugin.connect()
    reading = await plugin.read_inputs()
    assert set(reading) == set(ids)
    assert reading["setpoint"] == 0
    assert plugin.channel("setpoint").safe_value == 0
    assert SimulatedPlugin({"seed": 9}).channels() == plugin.channels()
    assert SimulatedPlugin({"outputs": []}).channels() == []


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"channels": [WALK], "outputs": [{"id": "p"}]}, "outputs.0.id"),
        ({"channels": [WALK, {**WALK, "name": "again"}]}, "channels.1.id"),
        ({"channels": [{"id": "t", "signal": "cosine", "amplitude": 1}]}, "channels.0.signal"),
        (
            {"channels": [{"id": "t", "signal": "sine", "amplitude": "1", "period_s": 1}]},
            "channels.0.amplitude",
        ),
        ({"channels": [{"id": "t", "signal": "sine", "amplitude": 1}]}, "channels.0"),
        (
            {"channels": [{"id": "t", "signal": "step", "values": [], "period_s": 1}]},
            "channels.0.values",
        ),
        ({"channels": [{**WALK, "min": 11}]}, "channels.0.max"),
        ({"channels": [{**WALK, "start": -1}]}, "channels.0.start"),
        ({"outputs": [{"id": "o", "min": 0, "max": 1, "safe_value": 2}]}, "outputs.0.safe_value"),
        ({"outputs": [{"id": "o", "colour": "red"}]}, "outputs.0"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_simulated_config_errors_name_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidConfigError) as err:
        SimulatedPlugin(config)
    assert err.value.field == field


def test_a_parameter_of_another_signal_is_refused() -> None:
    with pytest.raises(InvalidConfigError, match="'values' is not one of"):
        SimulatedPlugin({"channels": [{**WALK, "values": [1]}]})


async def test_system_metrics() -> None:
    plugin = SystemPlugin()
    await plugin.connect()
    reading = await plugin.read_inputs()
    for key in ("cpu_percent", "memory_percent", "disk_percent"):
        value = reading[key]
        assert isinstance(value, float)
        assert 0 <= value <= 100, key
    assert float(reading["uptime_s"]) > 0
    assert float(reading["load_1m"]) >= 0
    assert set(reading) <= {channel.id for channel in plugin.channels()}
    await plugin.safe_disconnect()


def test_cpu_usage_is_measured_between_an_instances_own_samples() -> None:
    fields = type(psutil.cpu_times())._fields

    def sample(**seconds: float) -> Any:
        return type(psutil.cpu_times())(*(seconds.get(name, 0.0) for name in fields))

    before = sample(user=100, system=50, idle=800, iowait=50)
    # 40 s busy (user + system), 60 s idle or waiting for I/O: 40 %.
    after = sample(user=130, system=60, idle=850, iowait=60)
    assert busy_percent(before, after) == 40.0
    assert busy_percent(before, before) == 0.0  # no time passed: no division by zero
    if "guest" in fields:  # Linux counts guest time inside user time: not twice
        with_guest = sample(user=130, system=60, idle=850, iowait=60, guest=20)
        assert busy_percent(before, with_guest) == 40.0


def test_system_config_is_checked() -> None:
    with pytest.raises(InvalidConfigError) as err:
        SystemPlugin({"disk_path": 5})
    assert err.value.field == "disk_path"
    with pytest.raises(InvalidConfigError):
        SystemPlugin({"disk": "/"})


async def test_a_missing_disk_path_fails_the_read(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    plugin = SystemPlugin({"disk_path": str(missing)})
    await plugin.connect()
    with pytest.raises(OSError, match=f"disk_path '{missing}' cannot be read"):
        await plugin.read_inputs()


def test_temperature_from_the_thermal_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("psutil.sensors_temperatures", dict, raising=False)
    zone = tmp_path / "temp"
    assert read_temperature(zone) is None
    zone.write_text("48312\n")
    assert read_temperature(zone) == pytest.approx(48.312)


def test_the_bundled_plugins_are_discovered() -> None:
    found = discover()
    for plugin_id, plugin_class in (("simulated", SimulatedPlugin), ("system", SystemPlugin)):
        assert found[plugin_id].load_error == ""
        assert found[plugin_id].plugin_class is plugin_class
        assert found[plugin_id].distribution == "revlink"
