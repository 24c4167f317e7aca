"""The pulse meter app: pulses on a DI become flow and total, published each loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from apps.pulse_meter import PulseMeter, flow_figures
from apps.sdk import DeviceAgentInterface, PlatformInterface
from tests.rig.agent import AgentProcess
from tests.rig.bridges import free_port
from tests.rig.platform import Plant, PlatformBridge


def test_flow_figures() -> None:
    assert flow_figures(10, 30.0, 0.5) == {"pulses": 10, "flow_l_per_min": 15.0, "total_l": 5.0}


async def test_counts_pulses_into_flow_and_total(
    platform_bridge: PlatformBridge, plant: Plant, agent: AgentProcess, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"pulse_di": 4, "litres_per_pulse": 2.5, "rate_window": 60}')
    app = PulseMeter(
        app_key="meter",
        device_agent=DeviceAgentInterface("meter", agent.target),
        platform_iface=PlatformInterface("meter", platform_bridge.target),
        healthcheck_port=free_port(),
        test_mode=True,
        config_fp=config,
    )
    run = asyncio.create_task(app.run())
    await app.next()
    assert app.last == {"pulses": 0, "flow_l_per_min": 0.0, "total_l": 0.0}
    for _ in range(6):  # six pulses on I_5 (DI pin 4), each longer than the IO cycle
        for level in (True, False):
            await asyncio.to_thread(plant.set_inputs, I_5=level)
            await asyncio.sleep(0.06)
    await app.next()
    assert app.last == {"pulses": 6, "flow_l_per_min": 15.0, "total_l": 15.0}
    aggregate = await app.device_agent.get_channel_aggregate_async("pulse_meter")
    declared = aggregate.pop("$fields")
    assert aggregate == app.last
    assert declared["flow_l_per_min"] == {"unit": "l/min", "name": "Flow"}  # for the cloud
    app.stop()
    assert await run == 0
