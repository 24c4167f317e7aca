"""The host's pure parts and its limits, in process: readings, backoff, store, watchers."""

from __future__ import annotations

import asyncio
import json
import math
import random
from pathlib import Path

import pytest

from apps.sdk.agent import DeviceAgentInterface
from bridges.plugin_host.discovery import DiscoveredPlugin
from bridges.plugin_host.host import WATCH_QUEUE_SIZE, PluginHost, WatcherTooSlowError
from bridges.plugin_host.runner import (
    InstanceRunner,
    PluginFaultError,
    Reading,
    RestartBackoff,
    RunnerTiming,
    check_readings,
)
from bridges.plugin_host.sdk import Channel, DevicePlugin, Direction, PluginMeta, Value
from bridges.plugin_host.store import (
    CommandCursors,
    InstanceSpec,
    InstanceStore,
    InstanceStoreError,
)
from bridges.plugin_host.telemetry import MAX_WRITES_PER_COMMAND, AgentLink

CHANNELS = {
    "t": Channel("t", "T"),
    "sp": Channel("sp", "Setpoint", Direction.BIDIRECTIONAL),
    "valve": Channel("valve", "Valve", Direction.OUTPUT),
}


def test_readings_keep_what_is_declared_and_usable() -> None:
    raw = {"t": 1.5, "sp": True, "valve": 1, "ghost": 2, "bad": None}
    readings, problems = check_readings(CHANNELS, raw | {"t2": math.nan}, 7)
    assert readings == [Reading("t", 1.5, 7), Reading("sp", True, 7)]
    assert problems == [
        "channel valve is an output, not readable",
        "undeclared channel 'ghost'",
        "undeclared channel 'bad'",
        "undeclared channel 't2'",
    ]
    _, problems = check_readings(CHANNELS, {"t": math.inf, "sp": [1]}, 7)
    assert problems == ["channel t: inf is not a finite number", "channel sp: list is not a value"]
    with pytest.raises(PluginFaultError, match="returned list, not a dict"):
        check_readings(CHANNELS, [1], 7)


def test_restart_backoff_grows_to_its_cap_and_starts_over() -> None:
    backoff = RestartBackoff(0.5, 8.0, random.Random(3))
    delays = [backoff.next_delay() for _ in range(8)]
    steps = [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert all(step / 2 <= delay <= step for delay, step in zip(delays, steps, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_the_store_round_trips_and_names_a_broken_file(tmp_path: Path) -> None:
    store = InstanceStore(tmp_path / "dir" / "instances.json")
    assert store.load() == []
    specs = [InstanceSpec("b", "simulated", {"seed": 1}, 0.5, True), InstanceSpec("a", "system")]
    store.save(specs)
    assert store.load() == sorted(specs, key=lambda s: s.name)
    assert not list((tmp_path / "dir").glob("*.tmp"))
    store.path.write_text('{"version": 1, "instances": [{"name": "x"}]}')
    with pytest.raises(InstanceStoreError, match=r"instances\.json: unreadable"):
        store.load()
    store.path.write_text("{")
    with pytest.raises(InstanceStoreError, match="unreadable"):
        store.load()


def test_command_cursors_persist_and_a_broken_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "command_cursors.json"
    cursors = CommandCursors(path)
    assert cursors.get("a") == 0
    cursors.advance("a", 17)
    cursors.advance("b", 5)
    cursors.advance("b", 0)  # no resume point yet: nothing to keep
    cursors.forget("b")
    assert CommandCursors(path).get("a") == 17
    assert CommandCursors(path).get("b") == 0
    path.write_text("{")
    assert CommandCursors(path).get("a") == 0  # only the replay of missed commands is lost
    blocked = CommandCursors(tmp_path / "a-file" / "cursors.json")
    (tmp_path / "a-file").write_text("not a directory")
    blocked.advance("a", 3)  # cannot be written: kept in memory, logged, no exception
    assert blocked.get("a") == 3


class Ticker(DevicePlugin):
    meta = PluginMeta("ticker", "Ticker", "1")

    def channels(self) -> list[Channel]:
        return [Channel("n", "N"), Channel("sp", "SP", Direction.OUTPUT, min_value=0, max_value=5)]

    async def read_inputs(self) -> dict[str, Value]:
        return {"n": 1}

    async def write_output(self, channel_id: str, value: Value) -> None:
        return None


def make_host(tmp_path: Path) -> PluginHost:
    plugins = {"ticker": DiscoveredPlugin("ticker", "t:T", "t", Ticker)}
    return PluginHost(plugins, InstanceStore(tmp_path / "i.json"), RunnerTiming(0.5))


async def test_a_watcher_left_behind_is_told_so(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    await host.create("t", "ticker", "{}", 1.0)
    async with host.watch("t") as stream:
        for _ in range(WATCH_QUEUE_SIZE):
            host._on_readings("t", [Reading("n", 1, 0)])
        first = await anext(stream)
        assert first == ("t", [Reading("n", 1, 0)])
        host._on_readings("t", [Reading("n", 2, 0)])  # exactly full again: still fine
        host._on_readings("t", [Reading("n", 3, 0)])  # one more than it holds
        with pytest.raises(WatcherTooSlowError, match=f"more than {WATCH_QUEUE_SIZE} polls"):
            await anext(stream)


async def test_a_watch_opened_after_the_stop_began_ends_at_once(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    await host.create("t", "ticker", "{}", 1.0)
    async with host.watch("t") as before:
        host.end_watches()
        async with host.watch("t") as after:  # its call was accepted just before the stop
            assert [item async for item in after] == []
        assert [item async for item in before] == []


async def test_the_outbox_drops_the_oldest_beyond_its_size(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    link = AgentLink(host, DeviceAgentInterface("t", "127.0.0.1:1"), outbox_size=3)
    for n in range(4):
        link.readings("t", [Reading("n", n, 1_000_000_000)])
    assert [record.message["n"] for record in link.outbox] == [1, 2, 3]
    assert link.dropped == 1


async def test_commands_are_bounded_and_checked(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    link = AgentLink(host, DeviceAgentInterface("t", "127.0.0.1:1"))
    await host.create("t", "ticker", "{}", 0.05, start=True)
    for _ in range(500):
        if host.status("t").state == "running":
            break
        await asyncio.sleep(0.01)
    limit = {f"c{i}": 1 for i in range(MAX_WRITES_PER_COMMAND)}
    await link.apply_command("t", {"write": limit | {"sp": 9}})
    refused = link.outbox.pop().aggregate["command_error"]["error"]
    assert refused == f"at most {MAX_WRITES_PER_COMMAND} writes per command, got 65"
    await link.apply_command("t", {"write": limit})  # exactly the limit is carried out
    assert len(link.outbox.pop().aggregate["writes"]) == MAX_WRITES_PER_COMMAND
    await link.apply_command("t", {"write": {"sp": 9, "n": 1, "x": 1}})
    writes = link.outbox.pop().aggregate["writes"]
    assert {k: (v.get("written"), v["clamped"]) for k, v in writes.items()} == {
        "sp": (5, True),
        "n": (None, False),
        "x": (None, False),
    }
    assert "is an input" in writes["n"]["error"]
    assert "no channel 'x'" in writes["x"]["error"]
    await host.close()
    assert json.loads((tmp_path / "i.json").read_text())["instances"][0]["enabled"] is True


class Recorder:
    """A host observer that counts polls per instance."""

    def __init__(self) -> None:
        self.polls: dict[str, int] = {}

    def instance_added(self, name: str) -> None:
        self.polls.setdefault(name, 0)

    def instance_removed(self, name: str) -> None:
        return None

    def readings(self, name: str, readings: list[Reading]) -> None:
        self.polls[name] += 1


async def test_each_instance_polls_at_its_own_interval(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    recorder = Recorder()
    host.observers.append(recorder)
    await host.create("fast", "ticker", "{}", 0.05, start=True)
    await host.create("slow", "ticker", "{}", 0.5, start=True)
    await asyncio.sleep(1.2)
    await host.close()
    # Fixed rate from the first poll: slow polls at 0, 0.5 and 1.0 s; fast about 24 times.
    assert recorder.polls["slow"] in (2, 3)  # 2 only if the loop was badly held up
    assert recorder.polls["fast"] >= 4 * recorder.polls["slow"]


async def test_a_stop_always_ends_the_poll_loop() -> None:
    # Stops land at random points of a busy poll loop, including the instant a plugin call
    # completes, where a cancellation used to be lost (asyncio.wait_for on Python 3.11).
    rng = random.Random(1)
    for _ in range(200):
        runner = InstanceRunner("t", Ticker, 0.0005, lambda name, readings: None, RunnerTiming())
        runner.start()
        await asyncio.sleep(rng.uniform(0, 0.005))
        async with asyncio.timeout(5):
            await runner.stop()
        assert not runner.active
