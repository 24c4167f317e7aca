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


def tank_app(agent: AgentProcess, bridge: PlatformBridge, **kwargs: object) -> TankLevel:
    return TankLevel(
        app_key="tank",
        device_agent=DeviceAgentInterface("tank", agent.target),
        platform_iface=PlatformInterface("tank", bridge.target),
        healthcheck_port=free_port(),
        test_mode=True,
        **kwargs,  # type: ignore[arg-type]
    )


def cloud_setpoints(cloud: CloudServer, device_id: object) -> object:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/channels/tank_level/aggregate")
    if reply.status_code == 404:  # nothing arrived yet
        return None
    assert reply.status_code == 200, reply.text
    return reply.json()["payload"].get("setpoints")


async def test_setpoints_survive_a_restart_and_the_cloud_shows_what_runs(
    platform_bridge: PlatformBridge,
    online_agent: tuple[AgentProcess, object],
    cloud: CloudServer,
    tmp_path: Path,
) -> None:
    agent, device_id = online_agent
    first = tank_app(agent, platform_bridge)
    run = asyncio.create_task(first.run())
    await first.wait_until_ready()
    default = {"start_below": 30.0, "stop_above": 80.0}
    await asyncio.to_thread(
        wait_for, lambda: cloud_setpoints(cloud, device_id) == default, 15, "published at start"
    )
    _, operator = cloud.user("operator")
    with cloud.http(operator) as client:
        sent = client.post(
            f"/api/v1/devices/{device_id}/commands",
            json={
                "channel": "tank_level.commands",
                "payload": {"start_below": 50, "stop_above": 60},
            },
        )
        assert sent.status_code == 202, sent.text
    await asyncio.to_thread(wait_for, lambda: first.setpoints.start_below == 50, 10, "command")
    first.stop()
    assert await run == 0

    # A restart runs with the commanded setpoints, not the defaults, and says so.
    second = tank_app(agent, platform_bridge)
    run = asyncio.create_task(second.run())
    await second.wait_until_ready()
    assert second.setpoints.as_dict() == {"start_below": 50.0, "stop_above": 60.0}
    second.stop()
    assert await run == 0
    commanded = {"start_below": 50.0, "stop_above": 60.0}
    await asyncio.to_thread(
        wait_for, lambda: cloud_setpoints(cloud, device_id) == commanded, 15, "cloud agrees"
    )

    # A config changed while the app was down wins over the older command, visibly.
    config_fp = tmp_path / "tank.json"
    config_fp.write_text('{"start_below": 20, "stop_above": 70}')
    third = tank_app(agent, platform_bridge, config_fp=config_fp)
    run = asyncio.create_task(third.run())
    await third.wait_until_ready()
    assert third.setpoints.as_dict() == {"start_below": 20.0, "stop_above": 70.0}
    third.stop()
    assert await run == 0
    configured = {"start_below": 20.0, "stop_above": 70.0}
    await asyncio.to_thread(
        wait_for, lambda: cloud_setpoints(cloud, device_id) == configured, 15, "cloud agrees"
    )


async def ui_cmds_write(agent: AgentProcess, cmds: dict[str, object]) -> None:
    """A person's input as the cloud's channel write reaches the device: a ui_cmds merge."""
    person = DeviceAgentInterface("cloud", agent.target)
    try:
        await person.publish_async("ui_cmds", aggregate={"cmds": cmds}, datapoints=False)
    finally:
        await person.close_async()


async def test_its_ui_shows_the_tank_and_takes_setpoints(
    platform_bridge: PlatformBridge, plant: Plant, agent: AgentProcess
) -> None:
    app = tank_app(agent, platform_bridge)
    run = asyncio.create_task(app.run())
    await app.wait_until_ready()
    await asyncio.to_thread(plant.set_inputs, InputValue_1=4200)
    await app.next()
    ui_state = await app.device_agent.get_channel_aggregate_async("ui_state")
    tank = ui_state["state"]["children"]["tank"]["children"]
    assert tank["level"]["currentValue"] == 42.0
    assert tank["pump"]["currentValue"] == "stopped"
    bands = [(r["min"], r["max"]) for r in tank["level"]["ranges"]]
    assert bands == [(0, 30.0), (30.0, 80.0), (80.0, 100)]
    cmds = (await app.device_agent.get_channel_aggregate_async("ui_cmds"))["cmds"]
    assert (cmds["tank_start_below"], cmds["tank_stop_above"]) == (30.0, 80.0)

    await ui_cmds_write(agent, {"tank_start_below": 45})
    await asyncio.to_thread(wait_for, lambda: app.setpoints.start_below == 45, 10, "ui setpoint")
    await app.next()
    assert plant.get("O_1") is True  # 42 % is now below the start level
    ui_state = await app.device_agent.get_channel_aggregate_async("ui_state")
    level = ui_state["state"]["children"]["tank"]["children"]["level"]
    assert (level["ranges"][0]["min"], level["ranges"][0]["max"]) == (0, 45.0)

    # A pair that makes no sense is refused, and the parameter shows what runs again.
    await ui_cmds_write(agent, {"tank_stop_above": 20})

    async def shown_stop() -> object:
        await app.next()
        return (await app.device_agent.get_channel_aggregate_async("ui_cmds"))["cmds"].get(
            "tank_stop_above"
        )

    for _ in range(20):
        if await shown_stop() == 80.0:
            break
    assert await shown_stop() == 80.0
    assert app.setpoints.as_dict() == {"start_below": 45.0, "stop_above": 80.0}
    app.stop()
    assert await run == 0
