"""The conformance suite: the bundled plugins pass it, and each check catches what it is for."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from bridges.plugin_host.bundled.simulated import SimulatedPlugin
from bridges.plugin_host.bundled.system import SystemPlugin
from bridges.plugin_host.conformance import PluginConformance
from bridges.plugin_host.sdk import (
    Channel,
    DevicePlugin,
    Direction,
    PluginMeta,
    SyncDevicePlugin,
    Value,
)


class TestSimulatedConformance(PluginConformance):
    plugin_class = SimulatedPlugin
    config: ClassVar[Mapping[str, Any]] = {}
    invalid_configs = (
        ({"channels": [{"id": "t", "signal": "cosine"}]}, "channels.0.signal"),
        ({"outputs": [{"id": "o"}, {"id": "o"}]}, "outputs.1.id"),
        ({"seed": "x"}, "seed"),
    )


class TestSimulatedWithSeedConformance(PluginConformance):
    plugin_class = SimulatedPlugin
    config: ClassVar[Mapping[str, Any]] = {
        "seed": 5,
        "channels": [{"id": "s", "signal": "step", "values": [1.5, 2], "period_s": 0.01}],
        "outputs": [{"id": "a", "min": -5, "max": 5, "safe_value": 1}, {"id": "b"}],
    }


class TestSystemConformance(PluginConformance):
    plugin_class = SystemPlugin
    config: ClassVar[Mapping[str, Any]] = {"disk_path": "/"}
    invalid_configs = (({"disk_path": 5}, "disk_path"), ({"disk": "/"}, "(root)"))


# -- a plugin that passes, and variants that each break one rule ---------------------------


class Good(DevicePlugin):
    meta = PluginMeta("good", "Good", "1.0")
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"port": {"type": "integer"}},
        "additionalProperties": False,
    }

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.out: Value = 0

    def channels(self) -> list[Channel]:
        return [
            Channel("x", "X"),
            Channel("out", "Out", Direction.OUTPUT, "", 0, 10, safe_value=0),
        ]

    async def read_inputs(self) -> dict[str, Value]:
        return {"x": 1.5}

    async def write_output(self, channel_id: str, value: Value) -> None:
        self.out = value


class BadMeta(Good):
    meta = PluginMeta("Bad Id", "Bad", "1.0")


class BadSchema(Good):
    config_schema: ClassVar[dict[str, Any]] = {"type": "nonsense"}


class DuplicateIds(Good):
    def channels(self) -> list[Channel]:
        return [Channel("x", "X"), Channel("x", "X again")]


class SafeInput(Good):
    def channels(self) -> list[Channel]:
        return [Channel("x", "X", safe_value=0)]


class UnsafeSafeValue(Good):
    def channels(self) -> list[Channel]:
        return [Channel("out", "Out", Direction.OUTPUT, "", 0, 10, safe_value=11)]


class Undeclared(Good):
    async def read_inputs(self) -> dict[str, Value]:
        return {"x": 1.5, "ghost": 2}


class ReadsOutputOnly(Good):
    async def read_inputs(self) -> dict[str, Value]:
        return {"out": 2}


class NotFinite(Good):
    async def read_inputs(self) -> dict[str, Value]:
        return {"x": float("nan")}


class WrongType(Good):
    async def read_inputs(self) -> dict[str, Value]:
        return {"x": [1, 2]}  # type: ignore[dict-item]


class ReadsOnce(Good):
    async def connect(self) -> None:
        self.reads = 0

    async def read_inputs(self) -> dict[str, Value]:
        self.reads += 1
        if self.reads > 1:
            raise RuntimeError("second read")
        return {"x": 1.5}


class Unchecked(Good):
    """Skips the SDK's checks: writes inputs, does not clamp, invents channels."""

    async def write(self, channel_id: str, value: Value) -> tuple[Value, bool]:
        await self.write_output(channel_id, value)
        return value, False


class UnsafeDisconnect(Good):
    async def safe_disconnect(self) -> None:
        await self.disconnect()


class ForgetsDisconnect(Good):
    async def safe_disconnect(self) -> None:
        await self.write_output("out", 0)


class OneShot(Good):
    async def connect(self) -> None:
        if getattr(self, "used", False):
            raise RuntimeError("cannot connect twice")
        self.used = True


class HangsInRead(Good):
    async def read_inputs(self) -> dict[str, Value]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class BlocksTheLoop(Good):
    async def read_inputs(self) -> dict[str, Value]:
        time.sleep(0.5)  # noqa: ASYNC251 - the mistake this plugin is here to make
        return {"x": 1.5}


release = threading.Event()


class HangsInDriver(SyncDevicePlugin):
    meta = PluginMeta("driver", "Driver", "1.0")

    def channels(self) -> list[Channel]:
        return [Channel("x", "X")]

    def read_inputs_sync(self) -> dict[str, Value]:
        release.wait(30)  # released by the test, so the worker thread does not outlive it
        return {"x": 1}


def suite(plugin_class: type[DevicePlugin], **attributes: Any) -> PluginConformance:
    attributes.setdefault("call_timeout", 0.2)
    subclass = type("Suite", (PluginConformance,), {"plugin_class": plugin_class, **attributes})
    instance: PluginConformance = subclass()
    return instance


@pytest.mark.parametrize(
    "method",
    [name for name in dir(PluginConformance) if name.startswith("test_")],
)
def test_the_good_plugin_passes(method: str) -> None:
    getattr(suite(Good, invalid_configs=[({"port": "x"}, "port")]), method)()


@pytest.mark.parametrize(
    ("plugin_class", "method", "words", "attributes"),
    [
        (BadMeta, "test_meta", "not made of", {}),
        (BadSchema, "test_config_schema", "no valid 2020-12 schema", {}),
        (Good, "test_config_schema", "does not fit", {"config": {"port": "x"}}),
        (
            Good,
            "test_invalid_configs_name_the_field",
            "was accepted",
            {"invalid_configs": [({}, "port")]},
        ),
        (
            Good,
            "test_invalid_configs_name_the_field",
            "not 'host'",
            {"invalid_configs": [({"port": "x"}, "host")]},
        ),
        (DuplicateIds, "test_channels_are_well_formed", "more than once: ['x']", {}),
        (SafeInput, "test_channels_are_well_formed", "is an input but declares", {}),
        (UnsafeSafeValue, "test_channels_are_well_formed", "safe_value 11 > max 10", {}),
        (Undeclared, "test_reads_declared_channels", "readable: 'ghost'", {}),
        (ReadsOutputOnly, "test_reads_declared_channels", "readable: 'out'", {}),
        (NotFinite, "test_reads_declared_channels", "not a finite number", {}),
        (WrongType, "test_reads_declared_channels", "is a list", {}),
        (Unchecked, "test_inputs_refuse_writes", "writing input 'x' did not raise", {}),
        (Unchecked, "test_writes_are_clamped", "expected (10, True)", {}),
        (Unchecked, "test_unknown_channel_write", "did not raise", {}),
        (UnsafeDisconnect, "test_safe_disconnect_drives_safe_values", "did not drive out to 0", {}),
        (
            ForgetsDisconnect,
            "test_safe_disconnect_drives_safe_values",
            "did not call disconnect",
            {},
        ),
        (OneShot, "test_restartable", None, {}),
        (HangsInRead, "test_reads_declared_channels", "did not return within 0.2 s", {}),
        (BlocksTheLoop, "test_reads_declared_channels", "did not return within 0.2 s", {}),
    ],
)
def test_a_broken_plugin_fails(
    plugin_class: type[DevicePlugin], method: str, words: str | None, attributes: dict[str, Any]
) -> None:
    broken = suite(plugin_class, **attributes)
    with pytest.raises(AssertionError if words else RuntimeError) as err:
        getattr(broken, method)()
    if words:
        assert words in str(err.value)


def test_a_plugin_that_reads_once_fails_the_second_read() -> None:
    suite(ReadsOnce).test_reads_declared_channels()
    with pytest.raises(RuntimeError, match="second read"):
        suite(ReadsOnce).test_reads_twice()


def test_a_hanging_driver_thread_is_given_up_on() -> None:
    try:
        started = time.monotonic()
        with pytest.raises(AssertionError, match=r"read_inputs\(\) did not return within"):
            suite(HangsInDriver).test_reads_declared_channels()
        assert time.monotonic() - started < 2
    finally:
        release.set()


def test_only_subclasses_are_collected() -> None:
    assert PluginConformance.__test__ is False
    assert TestSystemConformance.__test__ is True
    with pytest.raises(AssertionError, match="sets no plugin_class"):
        type("Suite", (PluginConformance,), {})().test_reads_twice()
