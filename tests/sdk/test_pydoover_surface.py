"""pydoover 0.x's tags and application surface, against a real agent and platform bridge."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import grpc
import structlog.testing

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
from apps.sdk.config import Integer, Schema
from apps.sdk.platform import PlatformInterface
from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from tests.rig.agent import AgentProcess, agent_status
from tests.rig.bridges import free_port
from tests.rig.platform import Plant, PlatformBridge, wait_for


class PumpConfig(Schema):
    pump = Integer("Pump", default=0)


class Tagger(Application):
    loop_target_period = 0.05
    error_wait_period = 0.05

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changes: list[tuple[str, Any]] = []
        self.scheduled: list[datetime] = []
        self.can_shutdown = False
        self.per_loop: list[dict[str, Any]] = []

    async def setup(self) -> None:
        self.subscribe_to_tag("limit", self.on_limit)

    async def main_loop(self) -> None:
        for tags in self.per_loop[:1]:
            await self.set_tags(tags)
        self.per_loop[:1] = []

    async def on_limit(self, key: str, value: Any) -> None:
        self.changes.append((key, value))

    async def on_shutdown_at(self, dt: datetime) -> None:
        self.scheduled.append(dt)

    async def check_can_shutdown(self) -> bool:
        return self.can_shutdown


def tag_values(agent: AgentProcess) -> tuple[dict[str, Any], int]:
    """The tag_values aggregate and how many messages the channel keeps."""
    with grpc.insecure_channel(agent.target) as channel:
        stub = pb_grpc.DeviceAgentServiceStub(channel)
        reply = stub.GetAggregate(pb.GetAggregateRequest(channel="tag_values"), timeout=5)
        channels = stub.ListChannels(pb.ListChannelsRequest(), timeout=5).channels
    counts = {c.name: c.message_count for c in channels}
    return json.loads(reply.aggregate_json or "{}"), counts.get("tag_values", 0)


def build(cls: type[Application], bridge: PlatformBridge, agent: AgentProcess, **kw: Any) -> Any:
    return cls(
        app_key="tagger",
        device_agent=DeviceAgentInterface("tagger", agent.target),
        platform_iface=PlatformInterface("tagger", bridge.target),
        healthcheck_port=free_port(),
        **kw,
    )


async def test_tags_are_committed_once_per_loop_and_seen_by_everyone(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    app = build(Tagger, platform_bridge, agent, test_mode=True)
    run = asyncio.create_task(app.run())
    await app.wait_until_ready()
    peer = DeviceAgentInterface("peer", agent.target)
    try:
        assert app.get_tag("mode", default="auto") == "auto"
        before = agent_status(agent.target).last_enqueued_seq
        app.per_loop = [{"mode": "manual", "speed": 3}]
        await app.set_tag("speed", 1)
        await app.set_tag("speed", 2)  # three sets in one loop...
        await app.next()
        assert agent_status(agent.target).last_enqueued_seq == before + 1  # ...one record
        assert app.get_tag("speed") == 3
        values, messages = tag_values(agent)
        assert values["tagger"] == {"mode": "manual", "speed": 3}
        assert messages == 1  # kept as a message too, as pydoover keeps every tag publish

        # Unchanged values are not sent again; log=False (revlink's) merges without a message.
        await app.set_tag("speed", 3)
        await app.next()
        assert agent_status(agent.target).last_enqueued_seq == before + 1
        await app.set_tag("speed", 4, log=False)
        await app.set_global_tag("site", "north", log=False)
        await app.next()
        values, messages = tag_values(agent)
        assert (values["tagger"]["speed"], values["site"], messages) == (4, "north", 1)
        assert app.get_global_tag("site") == "north"

        # Another app writes this app's tag the way pydoover does; the watcher hears it.
        await peer.publish_to_channel_async("tag_values", {"tagger": {"limit": 9}}, False)
        await asyncio.to_thread(wait_for, lambda: app.changes == [("limit", 9)], 5, "tag cb")
        assert app.get_tag("limit") == 9
        assert app.get_tag("limit", app_key="tagger") == 9
        await peer.publish_to_channel_async("tag_values", {"other": {"x": 1}}, False)
        await asyncio.to_thread(wait_for, lambda: app.get_tag("x", "other") == 1, 5, "peer tag")
        assert app.changes == [("limit", 9)]  # only a change of the watched tag calls back
    finally:
        app.stop()
        assert await run == 0
        await peer.close_async()


async def test_shutdown_hooks_follow_the_power_managers_tags(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    app = build(Tagger, platform_bridge, agent, test_mode=True)
    run = asyncio.create_task(app.run())
    await app.wait_until_ready()
    power = DeviceAgentInterface("power-manager", agent.target)
    try:
        await app.request_shutdown()
        await app.next()
        assert tag_values(agent)[0]["tagger"]["shutdown_requested"] is True

        at = int(time.time()) + 3600
        await power.publish_to_channel_async("tag_values", {"shutdown_at": at}, False)
        await asyncio.to_thread(wait_for, lambda: len(app.scheduled) == 1, 5, "on_shutdown_at")
        assert app.scheduled[0].timestamp() == at
        await power.publish_to_channel_async("tag_values", {"shutdown_at": at}, False)
        await asyncio.sleep(0.3)
        assert len(app.scheduled) == 1  # announced once

        await power.publish_to_channel_async("tag_values", {"shutdown_requested": True}, False)
        await asyncio.to_thread(wait_for, lambda: app.get_global_tag("shutdown_requested"), 5, "")
        await app.next()
        assert tag_values(agent)[0]["tagger"]["shutdown_check_ok"] is False
        app.can_shutdown = True
        await app.next()
        assert tag_values(agent)[0]["tagger"]["shutdown_check_ok"] is True
    finally:
        app.stop()
        await run
        await power.close_async()


class Named(Application):
    config: PumpConfig


async def test_positional_config_display_name_and_missing_parts(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    config = PumpConfig()
    deployment = DeviceAgentInterface("ops", agent.target)
    await deployment.publish_to_channel_async(
        "deployment_config",
        {"applications": {"tagger": {"pump": 3, "APP_DISPLAY_NAME": "Pump Station 3"}}},
        record_log=False,
    )
    app = Named(config, "tagger", device_agent=DeviceAgentInterface("tagger", agent.target))
    app.attach_bridges(
        "tagger",
        app.device_agent,
        PlatformInterface("tagger", platform_bridge.target),
        app.plugins_iface,
        healthcheck_port=free_port(),
    )
    assert app.config is config  # pydoover 0.x's Application(config), not an app key
    assert app.app_key == "tagger"
    assert app.app_display_name == ""  # pydoover's, until the deployment names it
    app.test_mode = True
    run = asyncio.create_task(app.run())
    try:
        await app.wait_until_ready()
        assert config.pump.value == 3
        assert app.app_display_name == "Pump Station 3"
        # The manager follows the key attach_bridges gave (tests/sdk/test_ui_manager.py).
        assert app.ui_manager.app_key == "tagger"
        assert app.ui_manager.client is app.device_agent
    finally:
        app.stop()
        await run
        await deployment.close_async()


class BrokenSetup(Application):
    error_wait_period = 0.3

    async def setup(self) -> None:
        raise RuntimeError("no sensor on the bus")


async def test_a_failing_setup_is_logged_waits_and_exits_non_zero(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    app = build(BrokenSetup, platform_bridge, agent)
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        code = await app.run()
    assert code == 1
    assert time.monotonic() - started >= 0.3
    failed = [e for e in logs if e["event"] == "app.setup_failed"]
    assert failed
    assert failed[0]["log_level"] == "error"


class SlowLoop(Application):
    async def setup(self) -> None:
        self.loop_target_period = 8  # chosen in setup, as real apps do
        await self.platform_iface.set_do_async(1, True)

    async def main_loop(self) -> None:
        await self.platform_iface.set_do_async(1, True)


async def test_the_watchdog_lease_is_sized_for_the_period_setup_chose(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    app = build(SlowLoop, platform_bridge, agent)
    run = asyncio.create_task(app.run())
    try:
        await asyncio.to_thread(wait_for, lambda: plant.get("O_2") is True, 10, "DO 1 on")
        await asyncio.sleep(0.3)  # the first loop (half a period in) writes under the lease
        # Longer than the 5 s a lease sized before setup would have had.
        for _ in range(14):
            await asyncio.sleep(0.5)
            assert plant.get("O_2") is True, "the output went to its safe value"
    finally:
        app.stop()
        assert await run == 0
