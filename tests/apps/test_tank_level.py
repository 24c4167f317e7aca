"""The tank level app: hysteresis, and the whole path plant → app → agent → cloud → app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from apps.sdk import DeviceAgentInterface, PlatformInterface
from apps.tank_level import Setpoints, TankLevel, next_pump_state
from tests.rig.agent import AgentProcess, agent_status, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer
from tests.rig.platform import Plant, PlatformBridge, wait_for
from tests.rig.postgres import PostgresDatabase


@pytest.mark.parametrize(
    ("level", "pump_on", "expected"),
    [
        (29.9, False, True),
        (30.0, False, False),
        (50, True, True),
        (80.0, True, True),
        (80.1, True, False),
        (50, False, False),
    ],
)
def test_hysteresis(level: float, pump_on: bool, expected: bool) -> None:
    assert next_pump_state(level, pump_on, Setpoints(30, 80)) is expected


@pytest.mark.parametrize(("start", "stop"), [(80, 30), (50, 50), (-1, 50), (10, 101)])
def test_setpoints_must_make_sense(start: float, stop: float) -> None:
    with pytest.raises(ValueError, match="start_below < stop_above"):
        Setpoints(start, stop)


@pytest.fixture
def online_agent(tmp_path: Path, cloud: CloudServer) -> Iterator[tuple[AgentProcess, object]]:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "agent", tmp_path / "logs", cloud.base_url, token) as agent:
        wait_for(lambda: agent_status(agent.target).cloud_connected, 15, "agent online")
        yield agent, device_id


async def test_controls_the_pump_and_takes_setpoints_from_the_cloud(
    platform_bridge: PlatformBridge,
    plant: Plant,
    online_agent: tuple[AgentProcess, object],
    cloud: CloudServer,
    postgres_database: PostgresDatabase,
) -> None:
    agent, device_id = online_agent
    app = TankLevel(
        app_key="tank",
        device_agent=DeviceAgentInterface("tank", agent.target),
        platform_iface=PlatformInterface("tank", platform_bridge.target),
        healthcheck_port=free_port(),
        test_mode=True,
    )
    run = asyncio.create_task(app.run())

    async def step(level_mv: int) -> bool:
        await asyncio.to_thread(plant.set_inputs, InputValue_1=level_mv)
        await app.next()
        return bool(plant.get("O_1"))

    assert [await step(mv) for mv in (2000, 5000, 9000, 5000)] == [True, True, False, False]
    _, operator = cloud.user("operator")
    with cloud.http(operator) as client:
        for command in (
            {"start_below": 95, "stop_above": 90},
            {"start_below": 60, "stop_above": 90},
        ):
            sent = client.post(
                f"/api/v1/devices/{device_id}/commands",
                json={"channel": "tank_level.commands", "payload": command},
            )
            assert sent.status_code == 202, sent.text
    await asyncio.to_thread(
        wait_for, lambda: app.setpoints.start_below == 60, 10, "setpoints from the cloud"
    )
    assert app.setpoints.stop_above == 90  # the first, invalid command changed nothing
    assert await step(5000) is True  # 50 % is now below the start level
    app.stop()
    assert await run == 0

    await asyncio.to_thread(
        wait_for, lambda: agent_status(agent.target).queue_depth == 0, 15, "uplink drained"
    )
    connection = await asyncpg.connect(postgres_database.dsn)
    try:
        levels = await connection.fetch(
            "SELECT d.value FROM datapoints d JOIN sensors s ON s.id = d.sensor_id"
            " WHERE s.device_id = $1 AND s.key = 'tank_level.level_percent' ORDER BY d.ts",
            device_id,
        )
        setpoints = await connection.fetchval(
            "SELECT payload->'setpoints'->>'start_below' FROM channel_aggregates"
            " WHERE device_id = $1 AND channel = 'tank_level'",
            device_id,
        )
    finally:
        await connection.close()
    assert [r["value"] for r in levels] == [20.0, 50.0, 90.0, 50.0, 50.0]
    assert float(setpoints) == 60.0
