"""``/api/v1/devices/{id}/apps``: apps announce themselves, and their config comes from the
cloud, checked against the schema they published, to a running app through a real agent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
from apps.sdk.config import Boolean, Enum, Integer, Number, Schema
from apps.sdk.platform import PlatformInterface
from tests.rig.agent import AgentProcess, agent_status, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer
from tests.rig.platform import PlatformBridge, wait_for

Json = dict[str, Any]


class PumpConfig(Schema):
    def __init__(self) -> None:
        self.speed = Integer("Speed", default=40, minimum=0, maximum=100)
        self.gain = Number("Gain", description="controller gain")
        self.mode = Enum("Mode", choices=["auto", "manual"], default="auto")
        self.enabled = Boolean("Enabled", default=True)


class Pump(Application):
    config_cls = PumpConfig
    loop_target_period = 0.2

    def setup(self) -> None:
        self.seen: list[tuple[int, float]] = []

    def main_loop(self) -> None:
        pass

    def on_config_update(self, config: Schema) -> None:
        assert isinstance(config, PumpConfig)
        self.seen.append((config.speed.value, config.gain.value))


@asynccontextmanager
async def running_pump(agent: AgentProcess, bridge: PlatformBridge) -> AsyncIterator[Pump]:
    app = Pump(
        app_key="pump_1",
        device_agent=DeviceAgentInterface("pump_1", agent.target),
        platform_iface=PlatformInterface("pump_1", bridge.target),
        healthcheck_port=free_port(),
    )
    app.dda_startup_timeout = 10
    run = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app._ready.wait(), 20)
        yield app
    finally:
        app.stop()
        await asyncio.wait_for(run, 20)


def apps_of(cloud: CloudServer, device_id: uuid.UUID) -> list[Json]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/apps")
    assert reply.status_code == 200, reply.text
    found: list[Json] = reply.json()
    return found


def put_config(
    cloud: CloudServer, device_id: uuid.UUID, config: Any, token: str | None = None
) -> Any:
    with cloud.http(token or cloud.admin_token()) as client:
        return client.put(f"/api/v1/devices/{device_id}/apps/pump_1/config", json=config)


async def test_a_config_set_in_the_cloud_reaches_the_running_app_and_its_next_start(
    tmp_path: Path, cloud: CloudServer, platform_bridge: PlatformBridge
) -> None:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        # A deployment names the app before a person configures it.
        await asyncio.to_thread(
            wait_for, lambda: agent_status(agent.target).cloud_connected, 10, "connected"
        )
        deployment = DeviceAgentInterface("deployer", agent.target)
        await deployment.publish_async(
            "deployment_config",
            aggregate={"applications": {"pump_1": {"APP_DISPLAY_NAME": "Pump 1", "gain": 1.5}}},
            datapoints=False,
        )
        async with running_pump(agent, platform_bridge) as app:
            assert app.config is not None
            await asyncio.to_thread(
                wait_for,
                lambda: any(a["config_schema"] for a in apps_of(cloud, device_id)),
                15,
                "the app's manifest in the cloud",
            )
            (listed,) = apps_of(cloud, device_id)
            assert listed["app_key"] == "pump_1"
            assert listed["display_name"] == "Pump 1"
            assert listed["config"] == {"gain": 1.5}  # the deployment's names are not config
            properties = listed["config_schema"]["properties"]
            assert set(properties) == {"speed", "gain", "mode", "enabled"}

            invalid = put_config(cloud, device_id, {"speed": 140, "mode": "auto"})
            assert invalid.status_code == 422, invalid.text
            problems = {tuple(d["loc"]): d["msg"] for d in invalid.json()["detail"]}
            assert set(problems) == {("body", "speed"), ("body", "gain")}
            assert "140 is greater than the maximum of 100" in problems[("body", "speed")]
            assert problems[("body", "gain")] == "is required"
            wrong_type = put_config(cloud, device_id, {"gain": "fast"})
            assert [d["loc"] for d in wrong_type.json()["detail"]] == [["body", "gain"]]
            reserved = put_config(cloud, device_id, {"gain": 1, "AGENT_ID": "x"})
            assert reserved.json()["detail"][0]["loc"] == ["body", "AGENT_ID"]
            _, viewer = cloud.user("viewer")
            assert put_config(cloud, device_id, {"gain": 2.0}, viewer).status_code == 403

            accepted = put_config(cloud, device_id, {"speed": 70, "gain": 2.5})
            assert accepted.status_code == 202, accepted.text
            write = accepted.json()
            assert write["channel"] == "deployment_config"
            assert write["patch"] == {"applications": {"pump_1": {"speed": 70, "gain": 2.5}}}
            await asyncio.to_thread(wait_for, lambda: app.seen == [(70, 2.5)], 15, "live update")
            # A key a person leaves out is removed, not kept from before.
            put_config(cloud, device_id, {"gain": 3.0})
            await asyncio.to_thread(
                wait_for, lambda: app.seen[-1:] == [(40, 3.0)], 15, "speed back to its default"
            )
            await asyncio.to_thread(
                wait_for,
                lambda: not apps_of(cloud, device_id)[0]["pending_writes"],
                15,
                "nothing pending",
            )
            (after,) = apps_of(cloud, device_id)
            assert after["config"] == {"gain": 3.0}
        async with running_pump(agent, platform_bridge) as restarted:
            assert restarted.config is not None
            assert (restarted.config.speed.value, restarted.config.gain.value) == (40, 3.0)
            assert restarted.app_display_name == "Pump 1"  # kept through every config change


def test_an_unknown_app_or_one_without_a_schema_takes_no_config(cloud: CloudServer) -> None:
    device_id, _ = cloud.device()
    missing = put_config(cloud, device_id, {"gain": 1})
    assert missing.status_code == 404
    assert "no app 'pump_1'" in missing.json()["detail"]
    assert apps_of(cloud, device_id) == []
    with cloud.http(cloud.admin_token()) as client:
        assert client.get(f"/api/v1/devices/{device_id}/apps/pump_1").status_code == 404
