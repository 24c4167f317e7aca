"""A conformance suite for device plugins, run with plain pytest (no asyncio plugin needed).

Subclass :class:`PluginConformance` in a test module, name the subclass ``Test...``, and every
check below becomes a test of your plugin::

    from bridges.plugin_host.conformance import PluginConformance
    from my_package import MyPlugin

    class TestMyPlugin(PluginConformance):
        plugin_class = MyPlugin
        config = {"port": 502}                       # a valid config
        invalid_configs = [({"port": "x"}, "port")]  # bad configs, each with the field to name

The suite connects, reads, writes (including values beyond each output's min and max) and
disconnects, so point ``config`` at a simulator or a test rig rather than at live machinery.
Every plugin call, the constructor included, must return within ``call_timeout`` seconds; a
call that hangs fails its test with a message instead of hanging the test run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import jsonschema

from bridges.plugin_host.sdk import (
    Channel,
    ChannelNotWritableError,
    DevicePlugin,
    Direction,
    InvalidConfigError,
    PluginMeta,
    UnknownChannelError,
    Value,
)

__all__ = ["PluginConformance"]

T = TypeVar("T")
_PLUGIN_ID = re.compile(r"^[a-z0-9_-]+$")


class _Loop:
    """An event loop in a daemon thread, so that even a plugin that blocks the loop itself
    (a blocking call in an ``async def``) can be given up on from the test's thread."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.hung = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="plugin-conformance", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # The thread closes its own loop: after a hang it may outlive the test by far.
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def call(self, what: str, function: Callable[[], Awaitable[T]]) -> T:
        if self.hung:
            raise AssertionError(f"{what} not tried: {self.hung}")

        async def run() -> T:
            return await function()

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            self.hung = f"{what} did not return within {self.timeout} s"
            raise AssertionError(self.hung) from None

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout)


def _expect(condition: object, message: str) -> None:
    # Not ``assert``: this module is no test module, so pytest does not rewrite it, and
    # ``python -O`` would silently drop every check.
    if not condition:
        raise AssertionError(message)


def _readable(channel: Channel) -> bool:
    return channel.direction in (Direction.INPUT, Direction.BIDIRECTIONAL)


class PluginConformance:
    """Checks every plugin must pass; subclass it with ``plugin_class`` and ``config`` set."""

    plugin_class: ClassVar[type[DevicePlugin]]
    config: ClassVar[Mapping[str, Any]] = {}
    invalid_configs: ClassVar[Sequence[tuple[Mapping[str, Any], str]]] = ()
    call_timeout: ClassVar[float] = 5.0

    # The base is no test by itself, whatever python_classes a project configures; every
    # subclass is, unless it says otherwise.
    __test__: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

    # -- helpers -----------------------------------------------------------------------------

    @property
    def _name(self) -> str:
        plugin_class: type[DevicePlugin] | None = getattr(self, "plugin_class", None)
        if plugin_class is None:
            raise AssertionError(f"{type(self).__name__} sets no plugin_class")
        return plugin_class.__name__

    @contextlib.contextmanager
    def _loop(self) -> Iterator[_Loop]:
        loop = _Loop(self.call_timeout)
        try:
            yield loop
        finally:
            loop.close()

    def _make(self, loop: _Loop, config: Mapping[str, Any] | None = None) -> DevicePlugin:
        chosen = dict(self.config if config is None else config)
        name = self._name  # first, for its message when plugin_class is missing
        plugin_class = self.plugin_class

        async def make() -> DevicePlugin:
            return plugin_class(chosen)

        return loop.call(f"{name}({chosen!r})", make)

    @contextlib.contextmanager
    def _connected(self, loop: _Loop) -> Iterator[DevicePlugin]:
        """A connected plugin; disconnected afterwards, with care if the test failed."""
        plugin = self._make(loop)
        loop.call(f"{self._name}.connect()", plugin.connect)
        try:
            yield plugin
        except BaseException:
            if not loop.hung:  # a hung loop would only add a second timeout to wait for
                with contextlib.suppress(Exception):
                    loop.call(f"{self._name}.disconnect()", plugin.disconnect)
            raise
        loop.call(f"{self._name}.safe_disconnect()", plugin.safe_disconnect)

    def _read(self, loop: _Loop, plugin: DevicePlugin) -> dict[str, Value]:
        values = loop.call(f"{self._name}.read_inputs()", plugin.read_inputs)
        _expect(isinstance(values, dict), f"read_inputs() returned a {type(values).__name__}")
        readable = {channel.id for channel in plugin.channels() if _readable(channel)}
        undeclared = ", ".join(sorted(map(repr, set(values) - readable)))
        _expect(
            not undeclared, f"read_inputs() returned channels not declared readable: {undeclared}"
        )
        for key, value in values.items():
            _expect(
                isinstance(value, bool | int | float | str),
                f"read_inputs()[{key!r}] is a {type(value).__name__}, not bool/int/float/str",
            )
            _expect(
                not isinstance(value, float) or math.isfinite(value),
                f"read_inputs()[{key!r}] is {value}, not a finite number",
            )
        return values

    def _write(
        self, loop: _Loop, plugin: DevicePlugin, channel_id: str, value: Value
    ) -> tuple[Value, bool]:
        def write() -> Awaitable[tuple[Value, bool]]:
            return plugin.write(channel_id, value)

        return loop.call(f"{self._name}.write({channel_id!r}, {value!r})", write)

    # -- metadata and config -----------------------------------------------------------------

    def test_meta(self) -> None:
        meta = getattr(self.plugin_class, "meta", None)
        if not isinstance(meta, PluginMeta):
            raise AssertionError(f"{self._name}.meta is not a PluginMeta: {meta!r}")
        for field in ("id", "name", "version"):
            value = getattr(meta, field)
            _expect(isinstance(value, str), f"meta.{field} is not a str: {value!r}")
            _expect(value.strip(), f"meta.{field} is empty")
        _expect(_PLUGIN_ID.match(meta.id), f"meta.id {meta.id!r} is not made of [a-z0-9_-]")

    def test_config_schema(self) -> None:
        schema = self.plugin_class.config_schema
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise AssertionError(
                f"config_schema is no valid 2020-12 schema: {exc.message}"
            ) from exc
        problems = [
            f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in jsonschema.Draft202012Validator(schema).iter_errors(dict(self.config))
        ]
        _expect(not problems, f"config does not fit config_schema: {problems}")
        with self._loop() as loop:
            self._make(loop)

    def test_invalid_configs_name_the_field(self) -> None:
        with self._loop() as loop:
            for config, field in self.invalid_configs:
                try:
                    self._make(loop, config)
                except InvalidConfigError as exc:
                    named = exc.field
                else:
                    raise AssertionError(f"{config!r} was accepted; expected InvalidConfigError")
                _expect(named == field, f"{config!r} was refused naming {named!r}, not {field!r}")

    # -- channels ----------------------------------------------------------------------------

    def test_channels_are_well_formed(self) -> None:
        with self._loop() as loop:
            plugin = self._make(loop)
        channels = plugin.channels()
        _expect(channels, "channels() declares no channel")
        ids = [channel.id for channel in channels]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        _expect(not duplicates, f"channel ids declared more than once: {duplicates}")
        for channel in channels:
            if not isinstance(channel, Channel):
                raise AssertionError(f"{channel!r} is not a Channel")
            _expect(isinstance(channel.id, str), f"{channel!r}: the id is not a str")
            _expect(channel.id, f"{channel!r} has an empty id")
            _expect(isinstance(channel.direction, Direction), f"{channel.id}: bad direction")
            low, high, safe = channel.min_value, channel.max_value, channel.safe_value
            if low is not None and high is not None:
                _expect(low <= high, f"{channel.id}: min_value {low} is above max_value {high}")
            if safe is None:
                continue
            _expect(channel.writable, f"{channel.id} is an input but declares safe_value {safe}")
            if isinstance(safe, int | float) and not isinstance(safe, bool):
                _expect(low is None or safe >= low, f"{channel.id}: safe_value {safe} < min {low}")
                _expect(
                    high is None or safe <= high, f"{channel.id}: safe_value {safe} > max {high}"
                )

    # -- reading -----------------------------------------------------------------------------

    def test_reads_declared_channels(self) -> None:
        with self._loop() as loop, self._connected(loop) as plugin:
            self._read(loop, plugin)

    def test_reads_twice(self) -> None:
        with self._loop() as loop, self._connected(loop) as plugin:
            self._read(loop, plugin)
            self._read(loop, plugin)

    # -- writing -----------------------------------------------------------------------------

    def test_inputs_refuse_writes(self) -> None:
        with self._loop() as loop, self._connected(loop) as plugin:
            for channel in plugin.channels():
                if channel.direction is not Direction.INPUT:
                    continue
                value = channel.min_value if channel.min_value is not None else 0
                try:
                    self._write(loop, plugin, channel.id, value)
                except ChannelNotWritableError:
                    continue
                raise AssertionError(f"writing input {channel.id!r} did not raise")

    def test_writes_are_clamped(self) -> None:
        with self._loop() as loop, self._connected(loop) as plugin:
            for channel in plugin.channels():
                if not channel.writable:
                    continue
                beyond = [(channel.max_value, 1), (channel.min_value, -1)]
                for bound, past in beyond:
                    if bound is None:
                        continue
                    result = self._write(loop, plugin, channel.id, bound + past)
                    _expect(
                        result == (bound, True),
                        f"write({channel.id!r}, {bound + past}) returned {result!r},"
                        f" expected ({bound}, True)",
                    )

    def test_unknown_channel_write(self) -> None:
        with self._loop() as loop, self._connected(loop) as plugin:
            unknown = "no_such_channel"
            while unknown in {channel.id for channel in plugin.channels()}:
                unknown += "_"
            try:
                self._write(loop, plugin, unknown, 0)
            except UnknownChannelError:
                return
            raise AssertionError(f"writing unknown channel {unknown!r} did not raise")

    # -- disconnecting -----------------------------------------------------------------------

    def test_safe_disconnect_drives_safe_values(self) -> None:
        written: list[tuple[str, Value]] = []
        disconnected: list[bool] = []
        with self._loop() as loop:
            plugin = self._make(loop)
            loop.call(f"{self._name}.connect()", plugin.connect)
            write_output, disconnect = plugin.write_output, plugin.disconnect

            async def spy_write(channel_id: str, value: Value) -> None:
                written.append((channel_id, value))
                await write_output(channel_id, value)

            async def spy_disconnect() -> None:
                disconnected.append(True)
                await disconnect()

            # On the instance, so that the plugin's own safe_disconnect finds the spies.
            plugin.write_output = spy_write  # type: ignore[method-assign]
            plugin.disconnect = spy_disconnect  # type: ignore[method-assign]
            loop.call(f"{self._name}.safe_disconnect()", plugin.safe_disconnect)
        for channel in plugin.channels():
            if channel.writable and channel.safe_value is not None:
                _expect(
                    (channel.id, channel.safe_value) in written,
                    f"safe_disconnect() did not drive {channel.id} to {channel.safe_value};"
                    f" it wrote {written}",
                )
        _expect(disconnected, "safe_disconnect() did not call disconnect()")

    def test_restartable(self) -> None:
        with self._loop() as loop:
            plugin = self._make(loop)
            for attempt in ("first", "second"):
                loop.call(f"{self._name}.connect() ({attempt})", plugin.connect)
                self._read(loop, plugin)
                loop.call(f"{self._name}.safe_disconnect() ({attempt})", plugin.safe_disconnect)
