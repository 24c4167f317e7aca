"""Application against real bridges: stepping, failures, health, shutdown, config."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import structlog.testing

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
from apps.sdk.config import Integer, Number, Schema
from apps.sdk.platform import PlatformInterface
from tests.rig.agent import AgentProcess
from tests.rig.bridges import free_port
from tests.rig.platform import Plant, PlatformBridge, wait_for


class TankConfig(Schema):
    high = Number("High", default=80.0, maximum=100)
    low = Number("Low", default=20.0)
    pump_pin = Integer("Pump Pin", default=0)


class Tank(Application):
    config_cls = TankConfig
    loop_target_period = 0.05
    error_wait_period = 0.01

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.levels: list[int] = []
        self.shutdown_called = False
        self.config_updates = 0
        self.fail_next = 0

    async def setup(self) -> None:
        await self.platform_iface.set_do_async(0, False)

    async def main_loop(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("sensor glitch")
        level = await self.platform_iface.get_ai_async(0)
        self.levels.append(level)
        assert self.config is not None
        if level > 8000:
            await self.platform_iface.set_do_async(0, True)
        await self.device_agent.publish_to_channel_async("tank", {"level": level})

    def on_shutdown(self) -> None:  # a plain hook: runs in a worker thread
        self.shutdown_called = True

    def on_config_update(self, config: Schema) -> None:
        self.config_updates += 1


def make(
    cls: type[Application], bridge: PlatformBridge, agent: AgentProcess, **kwargs: Any
) -> Application:
    return cls(
        app_key="tank-1",
        device_agent=DeviceAgentInterface("tank-1", agent.target),
        platform_iface=PlatformInterface("tank-1", bridge.target),
        healthcheck_port=free_port(),
        **kwargs,
    )


async def test_step_one_loop_at_a_time(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    app = make(Tank, platform_bridge, agent, test_mode=True)
    assert isinstance(app, Tank)
    run = asyncio.create_task(app.run())
    plant.set_inputs(InputValue_1=5000)
    await app.next()
    assert app.levels == [5000]
    plant.set_inputs(InputValue_1=9000)
    await app.next()
    assert app.levels == [5000, 9000]
    assert plant.get("O_1") is True
    aggregate = await app.device_agent.get_channel_aggregate_async("tank")
    assert aggregate == {"level": 9000}  # each message is merged into it, as in pydoover
    app.stop()
    assert await run == 0
    assert app.shutdown_called


async def test_failures_are_survived_then_fatal(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    app = make(Tank, platform_bridge, agent, test_mode=True)
    assert isinstance(app, Tank)
    run = asyncio.create_task(app.run())
    app.fail_next = 2
    await app.next()
    await app.next()
    assert app.consecutive_failures == 2
    await app.next()
    assert (app.consecutive_failures, len(app.levels)) == (0, 1)
    app.fail_next = app.max_consecutive_failures
    for _ in range(app.max_consecutive_failures):
        await app.next()
    assert await asyncio.wait_for(run, 10) == 1  # the last failure ended the run


async def test_health_is_200_only_after_a_good_loop(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    app = make(Tank, platform_bridge, agent, test_mode=True)
    assert app.healthcheck is not None
    run = asyncio.create_task(app.run())
    await app.wait_until_ready()
    url = f"http://127.0.0.1:{app.healthcheck.port}/"
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 503
        await app.next()
        assert (await client.get(url)).status_code == 200
    app.stop()
    await run


async def test_free_running_app_stops_and_its_outputs_go_safe(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    app = make(Tank, platform_bridge, agent)
    assert isinstance(app, Tank)
    plant.set_inputs(InputValue_1=9500)
    run = asyncio.create_task(app.run())
    await asyncio.to_thread(wait_for, lambda: plant.get("O_1") is True, 10, "pump on")
    await asyncio.to_thread(wait_for, lambda: len(app.levels) >= 5, 10, "five loops")
    app.stop()
    assert await run == 0
    assert plant.get("O_1") is False  # the app's lease was released with its safe values


async def test_config_from_file_and_live_updates(
    platform_bridge: PlatformBridge, agent: AgentProcess, tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"high": 70, "low": 10}))
    app = make(Tank, platform_bridge, agent, test_mode=True, config_fp=path)
    run = asyncio.create_task(app.run())
    await app.wait_until_ready()
    assert app.config is not None
    assert app.config.values() == {"high": 70.0, "low": 10.0, "pump_pin": 0}
    app.stop()
    await run

    deployment = DeviceAgentInterface("ops", agent.target)
    await deployment.publish_to_channel_async(
        "deployment_config",
        {"applications": {"tank-1": {"high": 60, "low": 5}}},
        record_log=False,
    )
    live = make(Tank, platform_bridge, agent, test_mode=True)
    assert isinstance(live, Tank)
    run = asyncio.create_task(live.run())
    await live.wait_until_ready()
    assert live.config is not None
    assert live.config.values()["high"] == 60.0
    await deployment.publish_to_channel_async(
        "deployment_config", {"applications": {"tank-1": {"high": 65}}}, record_log=False
    )
    await asyncio.to_thread(wait_for, lambda: live.config_updates == 1, 10, "config update")
    assert live.config.values()["high"] == 65.0
    await deployment.publish_to_channel_async(
        "deployment_config", {"applications": {"tank-1": {"high": 500}}}, record_log=False
    )
    await asyncio.sleep(0.5)
    assert live.config.values()["high"] == 65.0  # an invalid update is refused, nothing changes
    live.stop()
    await run
    await deployment.close_async()


class Slow(Tank):
    """The first loop takes 0.3 s of a 0.05 s period; the others take no time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.starts: list[float] = []

    async def main_loop(self) -> None:
        self.starts.append(time.monotonic())
        if len(self.starts) == 1:
            await asyncio.sleep(0.3)


async def test_an_overrun_warns_and_is_not_caught_up(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    app = make(Slow, platform_bridge, agent)
    assert isinstance(app, Slow)
    with structlog.testing.capture_logs() as logs:
        run = asyncio.create_task(app.run())
        await asyncio.to_thread(wait_for, lambda: len(app.starts) >= 6, 10, "six loops")
        app.stop()
        assert await run == 0
    overruns = [entry for entry in logs if entry["event"] == "app.loop_overrun"]
    assert len(overruns) == 1
    assert overruns[0]["period_s"] == 0.05
    assert overruns[0]["took_s"] >= 0.3
    # Catching up would run the missed loops back to back (in about no time); at a fixed rate
    # the four loops after the slow one take four periods (0.2 s, less scheduling jitter).
    assert app.starts[5] - app.starts[1] >= 0.15, app.starts
