"""The plugin SDK's common rules: config, channels, clamping, safe values, sync plugins."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, ClassVar

import pytest

from bridges.plugin_host.sdk import (
    Channel,
    ChannelNotWritableError,
    DevicePlugin,
    Direction,
    InvalidConfigError,
    PluginMeta,
    SyncDevicePlugin,
    UnknownChannelError,
    Value,
)


class Valve(DevicePlugin):
    meta = PluginMeta("valve", "Valve", "1.0")
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"port": {"type": "integer", "minimum": 1}, "name": {"type": "string"}},
        "required": ["port"],
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.written: list[tuple[str, Value]] = []
        self.disconnected = False

    def channels(self) -> list[Channel]:
        return [
            Channel("flow", "Flow", Direction.INPUT, "l/min"),
            Channel("opening", "Opening", Direction.OUTPUT, "%", 0, 100, safe_value=0),
            Channel("mode", "Mode", Direction.BIDIRECTIONAL),
        ]

    async def read_inputs(self) -> dict[str, Value]:
        return {"flow": 12.5}

    async def write_output(self, channel_id: str, value: Value) -> None:
        self.written.append((channel_id, value))

    async def disconnect(self) -> None:
        self.disconnected = True


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({}, "(root)", "'port' is a required property"),
        ({"port": 0}, "port", "minimum"),
        ({"port": 1, "name": 5}, "name", "not of type 'string'"),
    ],
)
def test_config_errors_name_the_field(config: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidConfigError) as err:
        Valve(config)
    assert err.value.field == field
    assert words in str(err.value)


async def test_writes_are_checked_and_clamped() -> None:
    valve = Valve({"port": 502})
    assert await valve.write("opening", 150) == (100, True)
    assert await valve.write("opening", -3.5) == (0.0, True)
    assert await valve.write("opening", 42) == (42, False)
    assert await valve.write("mode", "auto") == ("auto", False)
    with pytest.raises(ChannelNotWritableError, match="input"):
        await valve.write("flow", 1)
    with pytest.raises(UnknownChannelError):
        await valve.write("nope", 1)
    with pytest.raises(ValueError, match="finite"):
        await valve.write("opening", float("nan"))
    for wrong in ("50", True):
        with pytest.raises(ValueError, match="takes a number"):
            await valve.write("opening", wrong)
    assert valve.written == [("opening", 100), ("opening", 0.0), ("opening", 42), ("mode", "auto")]


async def test_outputs_go_safe_before_disconnect() -> None:
    valve = Valve({"port": 502})
    await valve.write("opening", 80)
    await valve.safe_disconnect()
    assert valve.written[-1] == ("opening", 0)
    assert valve.disconnected


class Blocking(SyncDevicePlugin):
    meta = PluginMeta("blocking", "Blocking", "1.0")

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()
        self.active = 0
        self.overlap = False

    def channels(self) -> list[Channel]:
        return [Channel("x", "X")]

    def read_inputs_sync(self) -> dict[str, Value]:
        self.active += 1
        self.overlap |= self.active > 1
        self.threads.add(threading.get_ident())
        threading.Event().wait(0.02)  # a slow, blocking driver call
        self.active -= 1
        return {"x": 1}


async def test_sync_plugins_run_in_threads_one_call_at_a_time() -> None:
    plugin = Blocking()
    results = await asyncio.gather(*(plugin.read_inputs() for _ in range(5)))
    assert results == [{"x": 1}] * 5
    assert threading.get_ident() not in plugin.threads
    assert not plugin.overlap
