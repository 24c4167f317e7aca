"""Supervising one instance: connect, poll at its interval, restart with backoff on failure.

Every plugin call runs under a timeout. A plugin that raises, hangs or returns garbage is
given up on: its state becomes ``error`` with the reason, its outputs are put to their safe
values (best effort, also under a timeout), and after a backoff a *fresh* plugin object
is connected, so whatever a hung call still holds (a lock, a thread) is left behind.
Nothing a plugin does escapes this module as an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from bridges.plugin_host.sdk import Channel, DevicePlugin, Direction, PluginError, Value

__all__ = [
    "InstanceRunner",
    "InstanceState",
    "PluginFaultError",
    "Reading",
    "RestartBackoff",
    "RunnerTiming",
    "check_readings",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")


class InstanceState(enum.StrEnum):
    CONFIGURED = "configured"
    CONNECTING = "connecting"
    RUNNING = "running"
    ERROR = "error"
    STOPPED = "stopped"


class PluginFaultError(PluginError):
    """The plugin misbehaved (raised, timed out, returned something unusable)."""


@dataclass(frozen=True, slots=True)
class Reading:
    channel_id: str
    value: Value
    time_ns: int


@dataclass(frozen=True, slots=True)
class RunnerTiming:
    call_timeout_s: float = 5.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    # A run this long without a failure counts as healthy: the next failure backs off
    # from the start again instead of from where the last crash loop left off.
    healthy_after_s: float = 60.0


@dataclass
class RestartBackoff:
    """Exponential with "equal jitter": at least half the step, so a crash loop slows down."""

    min_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        step = min(self.max_s, self.min_s * 2.0**self.attempt)
        self.attempt += 1
        return step / 2 + self.rng.uniform(0, step / 2)

    def reset(self) -> None:
        self.attempt = 0


def check_readings(
    channels: Mapping[str, Channel], raw: object, time_ns: int
) -> tuple[list[Reading], list[str]]:
    """Keep the readings of declared, readable channels with usable values; say what was not."""
    if not isinstance(raw, Mapping):
        raise PluginFaultError(f"read_inputs returned {type(raw).__name__}, not a dict")
    readings: list[Reading] = []
    problems: list[str] = []
    for channel_id, value in raw.items():
        channel = channels.get(channel_id) if isinstance(channel_id, str) else None
        if channel is None:
            problems.append(f"undeclared channel {channel_id!r}")
        elif channel.direction is Direction.OUTPUT:
            problems.append(f"channel {channel_id} is an output, not readable")
        elif not isinstance(value, bool | int | float | str):
            problems.append(f"channel {channel_id}: {type(value).__name__} is not a value")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"channel {channel_id}: {value} is not a finite number")
        else:
            readings.append(Reading(channel_id, value, time_ns))
    return readings, problems


ReadingsSink = Callable[[str, list[Reading]], None]


class InstanceRunner:
    """Runs one instance until cancelled; the host reads its state at any time."""

    def __init__(
        self,
        name: str,
        make_plugin: Callable[[], DevicePlugin],
        poll_interval_s: float,
        on_readings: ReadingsSink,
        timing: RunnerTiming,
        *,
        restart_count: int = 0,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.make_plugin = make_plugin
        self.poll_interval_s = poll_interval_s
        self.on_readings = on_readings
        self.timing = timing
        # Told of every change of state or last_error (on the loop, synchronously): status
        # reports follow the runner without polling it.
        self.on_change: Callable[[], None] | None = None
        self._state = InstanceState.CONFIGURED
        self._last_error = ""
        self.restart_count = restart_count
        self.last_poll_ns: int | None = None
        self.latest: dict[str, Reading] = {}
        self._backoff = RestartBackoff(
            timing.backoff_min_s, timing.backoff_max_s, rng or random.Random()
        )
        self._plugin: DevicePlugin | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> InstanceState:
        return self._state

    @state.setter
    def state(self, state: InstanceState) -> None:
        if state is not self._state:
            self._state = state
            self._changed()

    @property
    def last_error(self) -> str:
        return self._last_error

    @last_error.setter
    def last_error(self, error: str) -> None:
        if error != self._last_error:
            self._last_error = error
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.active:
            return
        self._backoff.reset()
        self.state = InstanceState.CONNECTING  # so the caller's reply says it is starting
        self._task = asyncio.create_task(self._supervise(), name=f"plugin-{self.name}")

    async def stop(self, state: InstanceState = InstanceState.STOPPED) -> None:
        """Cancel the loop; it puts outputs to their safe values and disconnects on the way."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.state = state

    async def write(self, channel_id: str, value: Value) -> tuple[Value, bool]:
        """Write an output of the connected plugin; SDK errors (input, unknown) pass through."""
        plugin = self._plugin
        if plugin is None or self.state is not InstanceState.RUNNING:
            raise PluginFaultError(f"instance {self.name} is {self.state}, not running")
        try:
            return await self._call("write", plugin.write(channel_id, value))
        except (PluginError, ValueError):  # the SDK's own refusals, already clear
            raise
        except Exception as exc:  # a driver failure is the plugin's, not the caller's
            raise PluginFaultError(f"write {channel_id} failed: {_describe(exc)}") from exc

    async def _call(self, step: str, call: Awaitable[T]) -> T:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
        # arrives as the call completes, and a stop would then never end the poll loop.
        try:
            async with asyncio.timeout(self.timing.call_timeout_s):
                return await call
        except TimeoutError:
            raise PluginFaultError(
                f"{step} timed out after {self.timing.call_timeout_s:g} s"
            ) from None

    async def _supervise(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any plugin failure: record it, back off, restart
                reason = str(exc) if isinstance(exc, PluginFaultError) else _describe(exc)
                self.last_error = reason  # before the state: "error" never shows an old reason
                self.state = InstanceState.ERROR
                if time.monotonic() - started >= self.timing.healthy_after_s:
                    self._backoff.reset()
                delay = self._backoff.next_delay()
                log.warning("plugin.failed", instance=self.name, error=reason, retry_in_s=delay)
                await asyncio.sleep(delay)
                self.restart_count += 1

    async def _run_once(self) -> None:
        self.state = InstanceState.CONNECTING
        plugin = self.make_plugin()
        channels = {channel.id: channel for channel in plugin.channels()}
        try:
            await self._call("connect", plugin.connect())
            self._plugin = plugin
            self.state = InstanceState.RUNNING
            log.info("plugin.running", instance=self.name)
            await self._poll_forever(plugin, channels)
        finally:
            self._plugin = None
            await self._release(plugin)

    async def _poll_forever(self, plugin: DevicePlugin, channels: Mapping[str, Channel]) -> None:
        next_poll = time.monotonic()
        while True:
            raw = await self._call("read_inputs", plugin.read_inputs())
            now_ns = time.time_ns()
            readings, problems = check_readings(channels, raw, now_ns)
            if problems:
                log.warning("plugin.bad_readings", instance=self.name, problems=problems)
            self.latest.update((reading.channel_id, reading) for reading in readings)
            self.last_poll_ns = now_ns
            self.on_readings(self.name, readings)
            # Fixed rate without catch-up: a slow poll delays the next, it never bunches up.
            next_poll = max(next_poll + self.poll_interval_s, time.monotonic())
            await asyncio.sleep(next_poll - time.monotonic())

    async def _release(self, plugin: DevicePlugin) -> None:
        """Safe values and disconnect, without letting a second failure out (or hang us)."""
        try:
            await self._call("safe_disconnect", plugin.safe_disconnect())
        except Exception as exc:  # already failing or stopping: log it, never raise it
            log.warning("plugin.disconnect_failed", instance=self.name, error=_describe(exc))


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
