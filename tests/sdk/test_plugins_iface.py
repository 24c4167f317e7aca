"""PluginsInterface against a real plugin host process with the test plugins installed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from apps.sdk.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from apps.sdk.plugins import ChannelInfo, PluginsInterface, WriteResult
from revlink.plugin_values import ChannelScalar
from tests.rig.bridges import free_port
from tests.rig.platform import wait_for
from tests.rig.plugins import PluginHostProcess, start_plugin_host

COUNTER_CHANNELS = (
    ChannelInfo("count", "Reads so far", "input", "", None, None, None),
    ChannelInfo("level", "Level", "bidirectional", "%", 0.0, 10.0, 0),
)


@pytest.fixture(scope="module")
def host(module_plugin_host: PluginHostProcess) -> PluginHostProcess:
    return module_plugin_host


@pytest.fixture
def plugins(host: PluginHostProcess) -> Iterator[PluginsInterface]:
    client = PluginsInterface("test-app", host.target)
    yield client
    client.close()


def running_counter(plugins: PluginsInterface, name: str, start: int = 100) -> None:
    """Create a counter polling every 50 ms and wait until it has read once."""
    plugins.create_instance(name, "counter", {"start": start}, 0.05, start=True)
    wait_for(lambda: plugins.get_instance_status(name).state == "running", 10, f"{name} running")
    wait_for(lambda: plugins.read_channel(name, "count") is not None, 5, f"{name} read")


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def test_list_plugins_with_schemas_and_load_errors(plugins: PluginsInterface) -> None:
    found = {p.id: p for p in plugins.list_plugins()}
    assert {"counter", "stuck", "broken", "system", "simulated"} <= set(found)
    counter = found["counter"]
    assert (counter.name, counter.version, counter.description) == (
        "Counter",
        "1.0",
        "counts its reads",
    )
    assert (counter.distribution, counter.entry_point) == (
        "revlink-testplugins",
        "revlink_testplugins:Counter",
    )
    assert isinstance(counter.config_schema, dict)
    assert counter.config_schema["required"] == ["start"]
    assert counter.config_schema["properties"]["start"] == {"type": "integer"}
    assert counter.load_error == ""
    broken = found["broken"]
    assert "NoSuchClass" in broken.load_error
    assert (broken.name, broken.config_schema) == ("", {})
    assert found["system"].distribution == "revlink"


def test_create_list_and_status(plugins: PluginsInterface) -> None:
    created = plugins.create_instance("sdk-a", "counter", {"start": 100}, 0.05, start=True)
    assert (created.name, created.plugin_id) == ("sdk-a", "counter")
    assert created.config == {"start": 100}
    assert created.poll_interval == pytest.approx(0.05)
    assert created.channels == COUNTER_CHANNELS
    wait_for(lambda: plugins.get_instance_status("sdk-a").state == "running", 10, "running")
    wait_for(lambda: plugins.get_instance_status("sdk-a").last_poll_time is not None, 5, "a poll")

    status = plugins.get_instance_status("sdk-a")
    assert (status.state, status.last_error, status.restart_count) == ("running", "", 0)
    assert status.channels == COUNTER_CHANNELS
    assert isinstance(status.last_poll_time, datetime)
    assert status.last_poll_time.tzinfo is UTC
    listed = {i.name: i for i in plugins.list_instances()}
    assert listed["sdk-a"].state == "running"
    assert listed["sdk-a"].channels == COUNTER_CHANNELS

    # An instance created without start=True waits to be started.
    idle = plugins.create_instance("sdk-idle", "counter", {"start": 0})
    assert (idle.state, idle.poll_interval, idle.last_poll_time) == ("configured", 1.0, None)
    plugins.remove_instance("sdk-idle")


def test_read_and_write_channels(plugins: PluginsInterface) -> None:
    running_counter(plugins, "sdk-rw")
    values = plugins.read_channels("sdk-rw")
    assert set(values) == {"count", "level"}
    count = values["count"]
    assert isinstance(count, int)
    assert not isinstance(count, bool)
    assert count > 100
    assert values["level"] == 0
    assert set(plugins.read_channels("sdk-rw", ["count"])) == {"count"}
    later = plugins.read_channel("sdk-rw", "count")
    assert isinstance(later, int)
    assert later >= count

    assert plugins.write_channel("sdk-rw", "level", 99) == WriteResult(10, True)
    wait_for(lambda: plugins.read_channel("sdk-rw", "level") == 10, 5, "level read back")
    assert plugins.write_channel("sdk-rw", "level", 3) == WriteResult(3, False)
    wait_for(lambda: plugins.read_channel("sdk-rw", "level") == 3, 5, "level 3 read back")


def test_errors_are_typed(plugins: PluginsInterface) -> None:
    with pytest.raises(NotFoundError, match="no instance named 'ghost'"):
        plugins.get_instance_status("ghost")
    with pytest.raises(NotFoundError, match="no instance named 'ghost'"):
        plugins.read_channels("ghost")
    with pytest.raises(NotFoundError):
        plugins.start_instance("ghost")
    with pytest.raises(NotFoundError, match="not installed"):
        plugins.create_instance("sdk-x", "nope", {})

    with pytest.raises(InvalidArgumentError) as caught:
        plugins.create_instance("sdk-x", "counter", {"start": "zero"})
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details == "config start: 'zero' is not of type 'integer'"
    with pytest.raises(InvalidArgumentError, match=r"config \(root\): 'start' is a required"):
        plugins.create_instance("sdk-x", "counter", {})
    assert "sdk-x" not in {i.name for i in plugins.list_instances()}

    running_counter(plugins, "sdk-err")
    with pytest.raises(FailedPreconditionError, match="channel count is an input") as refused:
        plugins.write_channel("sdk-err", "count", 1)
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(NotFoundError, match="no channel 'nope'"):
        plugins.read_channel("sdk-err", "nope")


async def test_async_twins(plugins: PluginsInterface) -> None:
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[tuple[str, dict[str, ChannelScalar], bool]] = asyncio.Queue()

    async def on_readings(instance: str, values: dict[str, ChannelScalar]) -> None:
        await got.put((instance, values, asyncio.get_running_loop() is loop))

    created = await plugins.create_instance_async(
        "sdk-async", "counter", {"start": 7}, 0.05, start=True
    )
    assert created.name == "sdk-async"
    plugins.add_readings_callback(on_readings, "sdk-async", ["count"])

    async def is_running() -> bool:
        return (await plugins.get_instance_status_async("sdk-async")).state == "running"

    await until(is_running, 10, "sdk-async running")
    instance, values, on_my_loop = await asyncio.wait_for(got.get(), 5)
    assert (instance, set(values), on_my_loop) == ("sdk-async", {"count"}, True)
    assert isinstance(values["count"], int)
    assert values["count"] > 7

    assert "sdk-async" in {i.name for i in await plugins.list_instances_async()}
    assert (await plugins.read_channels_async("sdk-async"))["level"] == 0
    assert await plugins.write_channel_async("sdk-async", "level", -5) == WriteResult(0, True)
    count = await plugins.read_channel_async("sdk-async", "count")
    assert isinstance(count, int)
    assert count > 7
    assert (await plugins.stop_instance_async("sdk-async")).state == "stopped"
    assert (await plugins.start_instance_async("sdk-async")).name == "sdk-async"
    await until(is_running, 10, "sdk-async running again")
    await plugins.remove_instance_async("sdk-async")
    with pytest.raises(NotFoundError):
        await plugins.get_instance_status_async("sdk-async")
    assert (await plugins.list_plugins_async())[0].id


def test_readings_callback_resumes_after_a_host_restart(plugin_site: Path, tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    data, logs = tmp_path / "data", tmp_path / "logs"
    seen: list[tuple[str, dict[str, ChannelScalar]]] = []
    lock = threading.Lock()

    def on_readings(instance: str, values: dict[str, ChannelScalar]) -> None:
        with lock:
            seen.append((instance, values))

    def count_seen() -> int:
        with lock:
            return len(seen)

    # An open watch holds the host's graceful stop for its whole grace period (5 s default).
    quick = {"REVLINK_GRACE_PERIOD": "0.5"}
    client = PluginsInterface("test-app", target, retry_for=20)
    try:
        with start_plugin_host(plugin_site, data, logs, target=target, env=quick):
            client.create_instance("sdk-r", "counter", {"start": 0}, 0.05, start=True)
            client.add_readings_callback(on_readings, instance="sdk-r")
            wait_for(lambda: count_seen() >= 3, 10, "readings")
        time.sleep(0.3)  # let readings already handed to worker threads land
        before = count_seen()
        assert all(instance == "sdk-r" for instance, _ in seen)
        assert {"count", "level"} <= set(seen[-1][1])

        # Same port, same data dir: the instance persists and starts again by itself.
        with start_plugin_host(plugin_site, data, logs, target=target, env=quick):
            wait_for(lambda: count_seen() >= before + 3, 15, "readings after the restart")
            status = client.get_instance_status("sdk-r")
            assert status.state == "running"
            assert status.config == {"start": 0}
    finally:
        client.close()


def test_a_watch_the_host_refuses_for_good_is_not_reopened(plugins: PluginsInterface) -> None:
    plugins.add_readings_callback(lambda instance, values: None, instance="ghost")
    follower = plugins._followers[-1]
    # NOT_FOUND cannot be cured by reopening (unlike a restart): the follower gives up.
    wait_for(follower.done, 5, "the follower to stop")
    assert follower.exception() is None
