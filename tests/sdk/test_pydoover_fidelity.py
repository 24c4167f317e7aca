"""Where pydoover 0.x's behaviour is easy to get subtly wrong: which calling style a plain
name takes, cached agent status, what writes answer, the shutdown hook's datetime, and
``run_app``'s arguments. Real agent, platform bridge and cloud throughout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
from apps.sdk.modbus import ModbusInterface
from apps.sdk.platform import PlatformInterface
from apps.sdk.runner import build, parse_options, run_app
from tests.rig.agent import AgentProcess, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer
from tests.rig.platform import Plant, PlatformBridge, wait_for


def wire(app_key: str, agent_target: str, platform: PlatformBridge) -> dict[str, Any]:
    return {
        "device_agent": DeviceAgentInterface(app_key, agent_target),
        "platform_iface": PlatformInterface(app_key, platform.target),
        "healthcheck_port": free_port(),
        "test_mode": True,
    }


class SyncWithAsyncHooks(Application):
    """A sync app whose shutdown hooks are ``async def``, as pydoover's docs write them."""

    def setup(self):
        self.announced = []

    def main_loop(self):
        self.set_do(0, True)

    async def on_shutdown_at(self, dt):
        self.announced.append(dt)
        self.set_tag("shutdown_seen", True)  # a plain call in a sync app: it blocks and sets

    async def check_can_shutdown(self):
        return self.get_do(0) is False


async def test_a_sync_apps_async_hooks_call_plain_names_as_pydoover_does(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    app = SyncWithAsyncHooks(None, "sync-1", **wire("sync-1", agent.target, platform_bridge))
    power = DeviceAgentInterface("power-manager", agent.target)
    run = asyncio.create_task(app.run())
    try:
        await app.wait_until_ready()
        await app.next()
        at = int(time.time()) + 3600
        await power.publish_to_channel_async(
            "tag_values", {"shutdown_at": at, "shutdown_requested": True}, False
        )
        await asyncio.to_thread(wait_for, lambda: app.announced, 5, "on_shutdown_at")
        dt = app.announced[0]
        assert dt.tzinfo is None
        assert dt > datetime.now()
        assert dt == datetime.fromtimestamp(at)
        await app.next()
        tags = await power.get_channel_aggregate_async("tag_values")
        assert tags["sync-1"]["shutdown_seen"] is True
        assert tags["sync-1"]["shutdown_check_ok"] is False  # DO 0 is on
    finally:
        app.stop()
        assert await run == 0
        await power.close_async()


class AsyncEchoes(Application):
    async def setup(self):
        self.loop_target_period = 0.05
        self.seen = {}

    async def main_loop(self):
        self.seen["set_do"] = await self.set_do(0, True)
        self.seen["set_do_many"] = await self.platform_iface.set_do([1, 2], False)
        self.seen["set_ao"] = await self.set_ao(0, 3300.4)
        self.seen["schedule_do"] = await self.schedule_do(3, True, 60)
        self.seen["run_sync"] = self.get_di(0, run_sync=True)  # a value, not an awaitable
        self.seen["available"] = self.get_is_dda_available()
        started = time.monotonic()
        await self.wait_for_interval(0.2)
        await self.wait_for_interval(0.2)
        self.seen["paced"] = time.monotonic() - started


async def test_writes_answer_what_they_wrote_and_status_getters_are_plain(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    app = AsyncEchoes(None, "echo-1", **wire("echo-1", agent.target, platform_bridge))
    app._error_wait_period = 0.5  # pydoover's attribute name
    assert app.error_wait_period == 0.5
    run = asyncio.create_task(app.run())
    try:
        plant.set_inputs(I_1=True)
        await app.wait_until_ready()
        await app.next()
        assert app.seen["set_do"] is True
        assert app.seen["set_do_many"] == [False, False]
        assert app.seen["set_ao"] == 3300.0  # what the output holds: whole mV
        assert app.seen["schedule_do"] is True
        assert app.seen["run_sync"] is True
        assert app.seen["available"] is True
        assert app.seen["paced"] >= 0.19  # half a period, then the rest of the period
        assert plant.get("OutputValue_1") == 3300
    finally:
        app.stop()
        assert await run == 0


class StatusWatcher(Application):
    async def main_loop(self):
        self.online = self.get_is_dda_online()


@pytest.fixture
def agent_target() -> str:
    return f"127.0.0.1:{free_port()}"


async def test_the_app_waits_for_a_late_agent_and_caches_its_cloud_status(
    platform_bridge: PlatformBridge, cloud: CloudServer, tmp_path: Path, agent_target: str
) -> None:
    app = StatusWatcher(None, "watch-1", **wire("watch-1", agent_target, platform_bridge))
    run = asyncio.create_task(app.run())
    _, token = cloud.device()
    try:
        await asyncio.sleep(1.0)  # no agent yet: the app waits for one, as pydoover's does
        assert not app.is_ready
        assert not run.done()
        assert app.get_is_dda_available() is False
        with start_agent(
            tmp_path / "agent", tmp_path / "logs", cloud.base_url, token, target=agent_target
        ):
            await app.wait_until_ready(30)
            await asyncio.to_thread(wait_for, app.get_is_dda_online, 15, "the agent online")
            await app.next()
            assert app.online is True
            assert app.get_has_dda_been_online() is True
            assert app.device_agent.last_channel_message_ts  # the subscriptions' snapshots
        await asyncio.to_thread(
            wait_for, lambda: not app.get_is_dda_available(), 10, "the agent gone"
        )
        assert app.get_is_dda_online() is False
        assert app.get_has_dda_been_online() is True
    finally:
        app.stop()
        await run


async def test_interfaces_take_pydoovers_positional_arguments(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    default = DeviceAgentInterface("app-1", "", None)  # as pydoover's Application builds it
    assert default.target == "localhost:50051"
    dda = DeviceAgentInterface("app-1", agent.target, None, 3)
    assert dda.timeout == 3
    blocking = PlatformInterface("app-1", platform_bridge.target, False)
    try:
        plant.set_inputs(I_1=True)
        assert blocking.get_di(0) is True  # is_async=False blocks, even in async code
        assert await dda.await_dda_available(5) is True
        assert dda.get_is_dda_available() is True
    finally:
        await dda.close_async()
        await blocking.close_async()
        await default.close_async()


async def test_async_with_closes_the_interfaces(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    app = AsyncEchoes(None, "ctx-1", **wire("ctx-1", agent.target, platform_bridge))
    async with app as entered:
        assert entered is app
        assert await app.platform_iface.test_comms("hi") == "hi"
    assert app.platform_iface._channel is None
    assert app.device_agent._channel is None


def test_run_app_takes_pydoovers_flags_and_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOTE_DEV", "10.0.0.7")
    monkeypatch.setenv("MODBUS_URI", "localhost:50154")
    options = parse_options([])
    assert (options.dda_uri, options.plt_uri) == ("10.0.0.7:50051", "10.0.0.7:50053")
    assert options.modbus_uri == "10.0.0.7:50154"
    options = parse_options(["--remote-dev", "rig", "--modbus-uri", "localhost:1"])
    assert (options.remote_dev, options.modbus_uri, options.plugins_uri) == (
        "rig",
        "rig:1",
        "rig:50055",
    )


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_run_app_sets_up_logging_as_asked(root_logging: logging.Logger) -> None:
    untouched = root_logging.handlers[:]
    runner = run_app(AsyncEchoes, start=False, setup_logging=False, argv=[])
    runner.close()
    assert root_logging.handlers == untouched

    formatter, only_errors = logging.Formatter("%(message)s"), logging.Filter("nothing")
    runner = run_app(AsyncEchoes, False, True, formatter, only_errors, argv=["--app-key", "fmt-1"])
    runner.close()
    (handler,) = root_logging.handlers
    assert handler.formatter is formatter
    assert only_errors in handler.filters


def test_apps_log_in_the_format_every_revlink_process_reads(
    root_logging: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REVLINK_LOG_FORMAT", "json")
    monkeypatch.setenv("REVLINK_LOG_LEVEL", "warning")
    run_app(AsyncEchoes, start=False, argv=[]).close()
    logging.getLogger("probe").info("hidden")
    logging.getLogger("probe").warning("shown")
    lines = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["shown"]


def test_the_modbus_interface_goes_where_modbus_uri_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODBUS_URI", "127.0.0.1:50154")
    app = build(AsyncEchoes, parse_options(["--app-key", "mb-1"]))
    assert isinstance(app.modbus_iface, ModbusInterface)
    assert (app.modbus_iface.target, app.modbus_iface.app_key) == ("127.0.0.1:50154", "mb-1")
    assert app.modbus_iface._is_async is True  # answers as the app does
