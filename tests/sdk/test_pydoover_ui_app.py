"""The pydoover-0.x-style tank monitor of tests/sdk/pydoover_ui_app.py, with its UI, on a
real device agent: its UI in ``ui_state`` in pydoover's shape, a person's input (a write to
``ui_cmds``, as the cloud's arrives) running its callback once, ``coerce_command``
publishing to ``ui_cmds``, and ``is_being_observed`` following ``ui_observers``. The same
app runs written async (awaiting the plain names) and sync (plain ``def`` hooks); the last
test goes through a real cloud.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
from apps.sdk.platform import PlatformInterface
from tests.rig.agent import AgentProcess, agent_status, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer
from tests.rig.platform import wait_for
from tests.rig.postgres import PostgresDatabase
from tests.sdk.pydoover_ui_app import AsyncTankMonitor, SyncTankMonitor

Json = dict[str, Any]
APPS = [pytest.param(AsyncTankMonitor, id="async"), pytest.param(SyncTankMonitor, id="sync")]


async def eventually(check: Callable[[], Any], what: str, timeout: float = 5) -> Any:
    """``check()``'s first truthy answer (it may be a coroutine function's)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if asyncio.iscoroutine(answer):
            answer = await answer
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running(cls: type[Application], agent: AgentProcess) -> AsyncIterator[Any]:
    """The app in test mode against the agent; its platform bridge is never called."""
    app = cls(
        None,
        "tank",
        device_agent=DeviceAgentInterface("tank", agent.target),
        platform_iface=PlatformInterface("tank", f"127.0.0.1:{free_port()}"),
        healthcheck_port=free_port(),
        test_mode=True,
    )
    run = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.wait_until_ready(), 30)
        yield app
    finally:
        app.stop()
        assert await asyncio.wait_for(run, 30) == 0


@pytest.fixture
async def cloud_side(agent: AgentProcess) -> AsyncIterator[DeviceAgentInterface]:
    """A second client of the agent: writes arrive from it as the cloud's would."""
    client = DeviceAgentInterface("cloud", agent.target)
    yield client
    await client.close_async()


async def tank_ui(client: DeviceAgentInterface) -> Json:
    aggregate = await client.get_channel_aggregate_async("ui_state")
    assert set(aggregate) == {"state"}
    assert set(aggregate["state"]) == {"children"}
    ui: Json = aggregate["state"]["children"]["tank"]
    return ui


@pytest.mark.parametrize("cls", APPS)
async def test_the_apps_ui_is_in_ui_state_in_pydoovers_shape(
    cls: type[Application], agent: AgentProcess, cloud_side: DeviceAgentInterface
) -> None:
    async with running(cls, agent) as app:
        aggregate = await cloud_side.get_channel_aggregate_async("ui_state")
        expected = app.ui_manager._base_container.to_dict()
        assert aggregate == {"state": {"children": {"tank": expected}}}  # pydoover's wrapping
        ui = aggregate["state"]["children"]["tank"]
        assert {k: ui[k] for k in ("name", "type", "displayString", "statusIcon")} == {
            "name": "tank",
            "type": "uiApplication",
            "displayString": "Tank Monitor",
            "statusIcon": "idle",
        }
        children = ui["children"]
        assert list(children) == [
            "level",
            "volume",
            "tank_low_level",
            "last_event",
            "pump",
            "tank_refill",
            "tank_mode",
            "tank_setpoint",
            "tank_note",
        ]
        assert children["level"] == {
            "name": "level",
            "type": "uiVariable",
            "displayString": "Tank level (%)",
            "showActivity": True,
            "form": "radialGauge",
            "position": 101,
            "hidden": False,
            "varType": "float",
            "currentValue": 50.0,
            "decPrecision": 1,
            "ranges": [
                {"min": 0, "max": 20, "colour": "red", "show_on_graph": True, "label": "Low"},
                {"min": 20, "max": 80, "colour": "green", "show_on_graph": True, "label": "Normal"},
                {"min": 80, "max": 100, "colour": "yellow", "show_on_graph": True, "label": "High"},
            ],
        }
        assert children["tank_low_level"] == {
            "name": "tank_low_level",
            "type": "uiWarningIndicator",
            "displayString": "Tank level low",
            "position": 103,
            "hidden": True,
            "can_cancel": True,
        }
        pump = children["pump"]
        assert (pump["type"], pump["statusString"], pump["defaultOpen"]) == (
            "uiSubmodule",
            "stopped",
            True,
        )
        assert pump["children"]["speed"] == {
            "name": "tank_speed",
            "type": "uiSlider",
            "displayString": "Pump speed (%)",
            "position": 102,
            "hidden": False,
            "min": 0,
            "max": 100,
            "stepSize": 5,
            "dualSlider": True,
            "isInverted": False,
        }
        assert children["tank_refill"] == {
            "name": "tank_refill",
            "type": "uiAction",
            "displayString": "Refill",
            "position": 106,
            "hidden": False,
            "colour": "green",
            "requiresConfirm": False,
            "disabled": False,
        }
        mode_options = children["tank_mode"]["userOptions"]
        assert mode_options["manual"] == {
            "name": "manual",
            "displayString": "Manual",
            "type": "uiElement",
        }
        assert children["tank_setpoint"]["type"] == "uiFloatParam"
        assert (children["tank_setpoint"]["min"], children["tank_setpoint"]["max"]) == (0, 100)
        assert children["tank_note"]["type"] == "uiTextParam"
        assert children["tank_note"]["isTextArea"] is True
        assert await cloud_side.get_channel_aggregate_async("ui_cmds") == {}  # nothing set yet


@pytest.mark.parametrize("cls", APPS)
async def test_a_persons_input_runs_its_callback_once_and_the_state_shows_it(
    cls: type[Application], agent: AgentProcess, cloud_side: DeviceAgentInterface
) -> None:
    async with running(cls, agent) as app:
        # The pump drains the tank: a person sets the speed, the loops show it.
        await cloud_side.publish_to_channel_async("ui_cmds", {"cmds": {"tank_speed": 100}}, False)
        await eventually(lambda: app.speeds == [100], "the slider's callback")
        for _ in range(4):
            await app.next()
        ui = await tank_ui(cloud_side)
        assert ui["children"]["level"]["currentValue"] == 10.0
        assert ui["children"]["volume"]["currentValue"] == 100.0
        assert ui["children"]["tank_low_level"]["hidden"] is False  # below 20 %: warned
        assert ui["statusIcon"] == "warning"
        pump = ui["children"]["pump"]
        assert (pump["statusString"], pump["children"]["pump_state"]["currentValue"]) == (
            "100 %",
            "running",
        )
        assert pump["children"]["speed"]["currentValue"] == 100
        tags = await cloud_side.get_channel_aggregate_async("tag_values")
        assert tags["tank"] == {"level": 10.0, "speed": 100.0}

        # "Refill" pressed: its callback runs once, and its push shows the result at once.
        await cloud_side.publish_to_channel_async("ui_cmds", {"cmds": {"tank_refill": True}}, False)

        async def refilled() -> bool:
            ui = await tank_ui(cloud_side)
            return bool(ui["children"]["last_event"].get("currentValue") == "refill 1")

        await eventually(refilled, "the refill in ui_state")
        ui = await tank_ui(cloud_side)
        assert ui["children"]["level"]["currentValue"] == 50.0
        # coerce_command published to ui_cmds (speed 0, and the button reset: null removes
        # it); the echo ran the slider's callback, and not the button's.
        commands = await cloud_side.get_channel_aggregate_async("ui_cmds")
        assert commands == {"cmds": {"tank_speed": 0}}
        await eventually(lambda: app.speeds == [100, 0], "the coerced speed's callback")
        await app.next()
        await app.next()
        await asyncio.sleep(0.3)
        assert app.refills == 1
        assert app.speeds == [100, 0]
        ui = await tank_ui(cloud_side)
        assert ui["children"]["level"]["currentValue"] == 50.0  # speed 0: no longer draining
        assert ui["children"]["pump"]["children"]["speed"]["currentValue"] == 0
        assert (await cloud_side.get_channel_aggregate_async("tag_values"))["tank"]["refills"] == 1
        assert "currentValue" not in ui["children"]["tank_refill"]  # reset with the command

        # A second press is a change again: one more refill.
        await cloud_side.publish_to_channel_async("ui_cmds", {"cmds": {"tank_refill": True}}, False)
        await eventually(lambda: app.refills == 2, "the second refill")
        await asyncio.sleep(0.3)
        assert app.refills == 2

        # A state command and a parameter (the latter answered by a @ui.callback pattern).
        await cloud_side.publish_to_channel_async(
            "ui_cmds", {"cmds": {"tank_mode": "manual", "tank_setpoint": 30}}, False
        )
        await eventually(lambda: app.modes == ["manual"], "the state command's callback")
        await eventually(lambda: app.alarm_levels == [("tank_setpoint", 30)], "the pattern")
        await app.next()
        ui = await tank_ui(cloud_side)
        assert ui["children"]["tank_mode"]["currentValue"] == "manual"
        assert ui["children"]["tank_setpoint"]["currentValue"] == 30
        assert app.refills == 2


@pytest.mark.parametrize("cls", APPS)
async def test_is_being_observed_follows_ui_observers(
    cls: type[Application], agent: AgentProcess, cloud_side: DeviceAgentInterface
) -> None:
    async with running(cls, agent) as app:
        assert app.ui_manager.is_being_observed() is False
        watching = {"connections": {"browser-9f2": True}}
        await cloud_side.publish_to_channel_async("ui_observers", watching, False)
        await eventually(app.ui_manager.is_being_observed, "the observer")
        await cloud_side.publish_to_channel_async("ui_observers", {"connections": None}, False)
        await eventually(lambda: not app.ui_manager.is_being_observed(), "no observer")


async def test_a_restarted_app_replaces_its_ui_and_keeps_its_commands(
    agent: AgentProcess, cloud_side: DeviceAgentInterface
) -> None:
    """pydoover clears the app's UI at start and publishes it afresh; the commands stay,
    and the app gets their values (its callbacks run with them) as it starts."""
    async with running(AsyncTankMonitor, agent) as app:
        await cloud_side.publish_to_channel_async("ui_cmds", {"cmds": {"tank_speed": 40}}, False)
        await eventually(lambda: app.speeds == [40], "the first run's callback")
        stale = {"state": {"children": {"tank": {"children": {"gone": {"name": "gone"}}}}}}
        await cloud_side.publish_to_channel_async("ui_state", stale, False)
    async with running(SyncTankMonitor, agent) as again:
        await eventually(lambda: again.speeds == [40], "the kept speed")
        ui = await tank_ui(cloud_side)
        assert "gone" not in ui["children"]
        assert ui == again.ui_manager._base_container.to_dict()


async def test_through_a_real_cloud_input_arrives_and_the_ui_makes_no_sensors(
    tmp_path: Path, cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    """A person's input through the cloud's REST API reaches the app; the cloud's view of
    the app shows its UI; UI values are not readings, so no sensor is made of them."""
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        await asyncio.to_thread(
            wait_for, lambda: agent_status(agent.target).cloud_connected, 10, "connected"
        )
        async with running(AsyncTankMonitor, agent) as app:
            with cloud.http(cloud.admin_token()) as client:
                reply = client.patch(
                    f"/api/v1/devices/{device_id}/channels/ui_cmds/aggregate",
                    json={"cmds": {"tank_refill": True}},
                )
            assert reply.status_code == 202, reply.text
            await eventually(lambda: app.refills == 1, "the refill from the cloud", 15)
            await app.next()

            def shown() -> Json | None:
                with cloud.http(cloud.admin_token()) as client:
                    listed = client.get(f"/api/v1/devices/{device_id}/apps/tank")
                if listed.status_code != 200:
                    return None
                body: Json = listed.json()
                event = (body.get("ui") or {}).get("children", {}).get("last_event", {})
                return body if event.get("currentValue") == "refill 1" else None

            body = await eventually(lambda: asyncio.to_thread(shown), "the app in the cloud", 15)
            assert body["ui"]["children"]["tank_refill"]["type"] == "uiAction"
            assert "tank_refill" not in body["ui_cmds"]  # the app reset its button
            assert body["ui_cmds"]["tank_speed"] == 0
            await asyncio.to_thread(
                wait_for,
                lambda: agent_status(agent.target).queue_depth == 0,
                15,
                "everything sent",
            )
    connection = await asyncpg.connect(postgres_database.dsn)
    try:
        rows = await connection.fetch("SELECT key FROM sensors WHERE device_id=$1", device_id)
    finally:
        await connection.close()
    keys = {row["key"] for row in rows}
    assert "tag_values.tank.level" in keys  # the app's tags are readings
    assert not {k for k in keys if k.startswith(("ui_state.", "ui_cmds.", "ui_observers."))}
