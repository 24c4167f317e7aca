"""The two pydoover-0.x-style apps of tests/support/pydoover_full_app.py on real bridges."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.platform import PlatformInterface
from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from tests.rig.agent import AgentProcess
from tests.rig.bridges import free_port, start_bridge
from tests.rig.platform import Plant, PlatformBridge, platform_argv, power_flags, wait_for
from tests.support.pydoover_full_app import AsyncStation, StationConfig, SyncStation


@pytest.fixture
def power_log(tmp_path: Path) -> Path:
    """Where the bridge's stand-in reboot, shutdown and RTC commands write what they did."""
    return tmp_path / "power.txt"


@pytest.fixture
def platform_bridge(procimg: Path, tmp_path: Path, power_log: Path) -> Iterator[PlatformBridge]:
    """A platform bridge whose operator allowed power control."""
    target = f"127.0.0.1:{free_port()}"
    argv = platform_argv(procimg, target, *power_flags(power_log))
    with start_bridge(argv, target, tmp_path / "logs") as proc:
        yield PlatformBridge(proc, target, procimg)


def power_actions(power_log: Path) -> list[str]:
    return power_log.read_text().split() if power_log.exists() else []


def aggregate(agent: AgentProcess, channel: str) -> dict[str, Any]:
    with grpc.insecure_channel(agent.target) as conn:
        reply = pb_grpc.DeviceAgentServiceStub(conn).GetAggregate(
            pb.GetAggregateRequest(channel=channel), timeout=5
        )
    return dict(json.loads(reply.aggregate_json or "{}"))


def interfaces(key: str, bridge: PlatformBridge, agent: AgentProcess) -> dict[str, Any]:
    return {
        "device_agent": DeviceAgentInterface(key, agent.target),
        "platform_iface": PlatformInterface(key, bridge.target),
        "healthcheck_port": free_port(),
        "test_mode": True,
    }


async def test_an_async_app_uses_state_machines_pulses_events_system_calls_and_tags(
    platform_bridge: PlatformBridge,
    agent: AgentProcess,
    plant: Plant,
    tmp_path: Path,
    power_log: Path,
) -> None:
    config_fp = tmp_path / "config.json"
    config_fp.write_text(json.dumps({"pulse_di": 1}))
    app = AsyncStation(
        StationConfig(),
        "station-1",
        config_fp=config_fp,
        **interfaces("station-1", platform_bridge, agent),
    )
    run = asyncio.create_task(app.run())
    peer = DeviceAgentInterface("power-manager", agent.target)
    try:
        await app.wait_until_ready()
        assert (app.comms, app.location, app.voltage) == ("ping", None, None)
        assert power_actions(power_log) == ["rtc"]
        assert 1 in app.io_table["DI"]
        assert plant.get("OutputValue_1") == 2500  # 2500.4 mV, rounded
        assert str(app.config.site.value) == "$device.site"  # resolved by the cloud
        assert app.config.start_at.value is None  # not required: its show_if is false
        await asyncio.to_thread(wait_for, lambda: app.counter.receiving_pulses, 5, "counter")
        await app.next()
        assert app.state == "counting"
        for _ in range(3):
            for level in (True, False):
                plant.set_inputs(I_2=level)
                await asyncio.sleep(0.06)
        await asyncio.to_thread(wait_for, lambda: app.pulses_seen == [1, 2, 3], 5, "pulses")
        await app.next()
        assert app.state == "done"
        assert aggregate(agent, "tag_values")["station-1"] == {"state": "done", "edges": 3}
        assert app.shutdown_due is not None
        assert 590 < app.shutdown_due <= 600  # not postponed: the immunity ends sooner

        await peer.publish_to_channel_async("tag_values", {"station-1": {"target": 5}}, False)
        await asyncio.to_thread(wait_for, lambda: app.watched == [5], 5, "the tag watcher")
        at = int(time.time()) + 600
        await peer.publish_to_channel_async(
            "tag_values", {"shutdown_at": at, "shutdown_requested": True}, False
        )
        await asyncio.to_thread(wait_for, lambda: len(app.scheduled) == 1, 5, "on_shutdown_at")
        await app.next()
        assert aggregate(agent, "tag_values")["station-1"]["shutdown_check_ok"] is True
        assert await app.platform_iface.get_immunity_seconds() > 50
        assert power_actions(power_log) == ["rtc"]  # the shutdown is not due yet
    finally:
        app.stop()
        assert await run == 0
        await peer.close_async()


async def test_a_sync_app_uses_its_state_machine_text_payloads_tags_and_events(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant, power_log: Path
) -> None:
    peer = DeviceAgentInterface("operator", agent.target)
    deployment = {"applications": {"station-2": {"APP_DISPLAY_NAME": "Valve Station"}}}
    await peer.publish_to_channel_async("deployment_config", deployment, False)
    app = SyncStation(None, "station-2", **interfaces("station-2", platform_bridge, agent))
    assert app.app_display_name == ""  # pydoover's, until the deployment names the app
    run = asyncio.create_task(app.run())
    try:
        plant.set_inputs(I_1=True, I_2=False)
        await app.wait_until_ready()
        await app.next()
        assert (app.state, plant.get("O_1")) == ("open", True)
        await app.next()
        assert (app.state, plant.get("O_1")) == ("closed", False)
        assert app.inputs == [[True, False], [True, False]]
        assert aggregate(agent, "station_log") == {"message": "Valve Station: valve closed"}
        tags = aggregate(agent, "tag_values")
        assert (tags["station-2"]["valve"], tags["last_station"]) == ("closed", "station-2")
        assert any(event.event == "DI_R" and event.pin == 0 for event in app.events)
        assert power_actions(power_log) == []
        reboot_now = {"station-2": {"reboot_now": True}}
        await peer.publish_to_channel_async("tag_values", reboot_now, False)
        await asyncio.to_thread(wait_for, lambda: app.get_tag("reboot_now"), 5, "the tag")
        await app.next()
        assert power_actions(power_log) == ["reboot"]
        await app.next()
        assert power_actions(power_log) == ["reboot"]  # the app cleared its tag
    finally:
        app.stop()
        assert await run == 0
        await peer.close_async()
