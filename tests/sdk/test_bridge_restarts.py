"""Apps keep running, and keep control, while the bridges under them restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from apps.pulse_meter import PulseMeter
from apps.sdk import DeviceAgentInterface, PlatformInterface
from apps.sdk.app import Application
from apps.tank_level import TankLevel
from tests.rig.agent import start_agent
from tests.rig.bridges import free_port, start_bridge
from tests.rig.platform import Plant, platform_argv, wait_for


class FastTank(TankLevel):
    loop_target_period = 0.1


class FastMeter(PulseMeter):
    loop_target_period = 0.1


def build(cls: type[Application], key: str, agent: str, platform: str, config: Path) -> Application:
    return cls(
        app_key=key,
        device_agent=DeviceAgentInterface(key, agent, retry_for=30),
        platform_iface=PlatformInterface(key, platform, retry_for=30),
        healthcheck_port=None,
        config_fp=config,
    )


def pulse(plant: Plant, times: int) -> None:
    for _ in range(times):
        plant.set_inputs(I_2=True)
        time.sleep(0.08)  # several 20 ms IO cycles per level, so each edge is seen
        plant.set_inputs(I_2=False)
        time.sleep(0.08)


def counting_and_watching(metrics: str) -> bool:
    """True once the bridge runs a pulse counter and has a WatchInputs stream open."""
    try:
        text = httpx.get(f"http://{metrics}/metrics", timeout=2).text
    except httpx.HTTPError:
        return False
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return (
        values.get("revlink_platform_running_pulse_counters", 0) >= 1
        and values.get("revlink_platform_open_watch_streams", 0) >= 1
    )


async def test_apps_keep_control_while_their_bridges_restart(
    procimg: Path, plant: Plant, tmp_path: Path
) -> None:
    platform, agent = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({}))
    argv = platform_argv(procimg, platform)
    tank = build(FastTank, "tank", agent, platform, config)
    meter = build(FastMeter, "meter", agent, platform, config)
    assert isinstance(meter, FastMeter)

    def step(what: str, predicate: Callable[[], bool]) -> Awaitable[None]:
        return asyncio.to_thread(wait_for, predicate, 15, what)

    with start_agent(tmp_path / "agent", tmp_path / "logs", target=agent) as first_agent:
        with start_bridge(argv, platform, tmp_path / "one"):
            plant.set_inputs(InputValue_1=1000)  # 10 %: below the start level
            runs = [asyncio.create_task(app.run()) for app in (tank, meter)]
            await step("the pump on", lambda: plant.get("O_1") is True)
            await step("the meter running", lambda: meter.loop_count > 0)
            await asyncio.to_thread(pulse, plant, 3)
            await step("3 pulses", lambda: meter.last.get("pulses") == 3)
        # The bridge stopped: the app's lease ended and the pump went to its safe value.
        assert plant.get("O_1") is False
        metrics = f"127.0.0.1:{free_port()}"
        env = {"REVLINK_PLATFORM_METRICS_LISTEN": metrics}
        with start_bridge(argv, platform, tmp_path / "two", env=env):
            await step("the pump on again, under a new lease", lambda: plant.get("O_1") is True)
            # Pulses while the meter's input stream is still reconnecting would be missed (as
            # documented): wait until the new bridge counts and streams for it.
            await step("the meter back on the bridge", lambda: counting_and_watching(metrics))
            await asyncio.to_thread(pulse, plant, 2)
            await step("the count carried on", lambda: meter.last.get("pulses") == 5)
            first_agent.process.stop()  # now the agent: publishing waits for its return
            with start_agent(tmp_path / "agent", tmp_path / "logs", target=agent):
                loops = tank.loop_count
                await step("loops go on", lambda: tank.loop_count >= loops + 5)
                assert not any(run.done() for run in runs)
                assert (tank.consecutive_failures, meter.consecutive_failures) == (0, 0)
                tank.stop()
                meter.stop()
                assert await asyncio.gather(*runs) == [0, 0]
    assert plant.get("O_1") is False  # released with its safe value at the end
