"""What a plugin author imports: ``from bridges.plugin_host.sdk import DevicePlugin, ...``.

A plugin declares its metadata, a JSON Schema for its config and its channels, and implements
four steps: connect, disconnect, read the inputs, write one output. The base classes do the
rest the same way for every plugin: the config is validated (an error names the field), a
write to an input is refused, a write outside a channel's min/max is clamped, and outputs go
to their safe values before a disconnect. ``SyncDevicePlugin`` runs blocking driver code in a
worker thread, one call at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import jsonschema

__all__ = [
    "Channel",
    "ChannelNotWritableError",
    "DevicePlugin",
    "Direction",
    "InvalidConfigError",
    "PluginError",
    "PluginMeta",
    "SyncDevicePlugin",
    "UnknownChannelError",
    "Value",
]

Value = float | int | bool | str


class PluginError(Exception):
    """Base of the errors the plugin machinery reports."""


class InvalidConfigError(PluginError, ValueError):
    """The instance config does not fit the plugin's schema; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"config {field}: {message}")
        self.field = field


class UnknownChannelError(PluginError, LookupError):
    """The plugin has no channel with that id."""


class ChannelNotWritableError(PluginError):
    """The channel is an input."""


class Direction(enum.StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    BIDIRECTIONAL = "bidirectional"


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    direction: Direction = Direction.INPUT
    unit: str = ""
    min_value: float | None = None
    max_value: float | None = None
    safe_value: Value | None = None

    @property
    def writable(self) -> bool:
        return self.direction is not Direction.INPUT

    def clamp(self, value: Value) -> tuple[Value, bool]:
        """The value to write and whether it was clamped into [min_value, max_value].

        A channel with a min or max is numeric: text and booleans are refused there, so
        no plugin has to check that itself.
        """
        if isinstance(value, bool) or not isinstance(value, int | float):
            if self.min_value is not None or self.max_value is not None:
                raise ValueError(
                    f"channel {self.id} takes a number, not {type(value).__name__} {value!r}"
                )
            return value, False
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"channel {self.id}: {value} is not a finite number")
        low = -math.inf if self.min_value is None else self.min_value
        high = math.inf if self.max_value is None else self.max_value
        if value < low:
            return type(value)(low), True
        if value > high:
            return type(value)(high), True
        return value, False


@dataclass(frozen=True, slots=True)
class PluginMeta:
    id: str
    name: str
    version: str
    description: str = ""


def validate_config(schema: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``config`` against the plugin's JSON Schema; the first problem names its field."""
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        field = ".".join(str(p) for p in error.absolute_path) or "(root)"
        raise InvalidConfigError(field, error.message)
    return dict(config)


class DevicePlugin(ABC):
    meta: ClassVar[PluginMeta]
    config_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = validate_config(self.config_schema, config or {})

    # -- what an author implements ---------------------------------------------------------

    @abstractmethod
    def channels(self) -> list[Channel]:
        """The channels this instance exposes (may depend on its config)."""

    async def connect(self) -> None:
        """Open the device (a connection, a bus, a file); by default there is nothing to open."""
        return None

    async def disconnect(self) -> None:
        """Close it again; by default there is nothing to close."""
        return None

    @abstractmethod
    async def read_inputs(self) -> dict[str, Value]:
        """Current values of the readable channels, by channel id."""

    async def write_output(self, channel_id: str, value: Value) -> None:
        """Drive one output; called only with a checked, clamped value."""
        raise ChannelNotWritableError(f"{self.meta.id} implements no outputs")

    # -- what the host calls ---------------------------------------------------------------

    def channel(self, channel_id: str) -> Channel:
        for channel in self.channels():
            if channel.id == channel_id:
                return channel
        raise UnknownChannelError(f"{self.meta.id} has no channel {channel_id!r}")

    async def write(self, channel_id: str, value: Value) -> tuple[Value, bool]:
        """Write an output after the common checks; returns (written value, clamped)."""
        channel = self.channel(channel_id)
        if not channel.writable:
            raise ChannelNotWritableError(f"channel {channel_id} is an input")
        written, clamped = channel.clamp(value)
        await self.write_output(channel_id, written)
        return written, clamped

    async def safe_disconnect(self) -> None:
        """Put every output that declares a safe value there, then disconnect."""
        try:
            for channel in self.channels():
                if channel.writable and channel.safe_value is not None:
                    await self.write_output(channel.id, channel.safe_value)
        finally:
            await self.disconnect()


async def run_in_daemon_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run blocking ``function`` in a fresh daemon thread and await its result.

    Not the loop's executor: a driver call that hangs for good would keep a pool worker
    busy forever and, since pool threads are joined at exit, stop the host from exiting.
    A daemon thread is simply abandoned when the host gives up on the call.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the caller gave up (timeout) meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (function(*args), None)
        except BaseException as exc:  # handed to the awaiting coroutine, not lost
            outcome = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed while the call hung
            loop.call_soon_threadsafe(settle, *outcome)

    name = f"plugin-{getattr(function, '__qualname__', 'call')}"
    threading.Thread(target=work, name=name, daemon=True).start()
    return await future


class SyncDevicePlugin(DevicePlugin):
    """For blocking driver code: implement the ``*_sync`` methods; each runs in a thread."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._lock = asyncio.Lock()

    def connect_sync(self) -> None:
        """Open the device."""

    def disconnect_sync(self) -> None:
        """Close it."""

    @abstractmethod
    def read_inputs_sync(self) -> dict[str, Value]:
        """Current values of the readable channels."""

    def write_output_sync(self, channel_id: str, value: Value) -> None:
        raise ChannelNotWritableError(f"{self.meta.id} implements no outputs")

    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        async with self._lock:  # drivers are rarely thread-safe: one call at a time
            return await run_in_daemon_thread(function, *args)

    async def connect(self) -> None:
        await self._in_thread(self.connect_sync)

    async def disconnect(self) -> None:
        await self._in_thread(self.disconnect_sync)

    async def read_inputs(self) -> dict[str, Value]:
        values: dict[str, Value] = await self._in_thread(self.read_inputs_sync)
        return values

    async def write_output(self, channel_id: str, value: Value) -> None:
        await self._in_thread(self.write_output_sync, channel_id, value)
