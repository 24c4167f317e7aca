"""The plugin host's domain core: instances, their lifecycle, readings and watchers.

It knows nothing of gRPC: the servicer translates, and whatever forwards readings (the
device agent link) registers as a :class:`HostObserver`; whatever reports instance states
adds a :data:`StateListener`. Every operator change is written to the :class:`InstanceStore`
before the call returns, so it survives a restart.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from bridges.plugin_host.discovery import DiscoveredPlugin
from bridges.plugin_host.errors import (
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidInstanceError,
    PluginUnavailableError,
)
from bridges.plugin_host.runner import (
    InstanceRunner,
    InstanceState,
    Reading,
    ReadingsSink,
    RunnerTiming,
)
from bridges.plugin_host.sdk import (
    Channel,
    DevicePlugin,
    InvalidConfigError,
    PluginError,
    UnknownChannelError,
    Value,
)
from bridges.plugin_host.store import INSTANCE_NAME, InstanceSpec, InstanceStore

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_POLL_INTERVAL_S",
    "MIN_POLL_INTERVAL_S",
    "WATCH_QUEUE_SIZE",
    "HostObserver",
    "InstanceView",
    "PluginHost",
    "RunnerFactory",
    "StateListener",
    "WatcherTooSlowError",
    "check_name",
    "check_poll_interval",
    "parse_config",
]

log = structlog.get_logger(__name__)

MIN_POLL_INTERVAL_S = 0.05
MAX_POLL_INTERVAL_S = 86_400.0
MAX_CONFIG_BYTES = 64 * 1024
WATCH_QUEUE_SIZE = 256


# Builds an instance's runner: InstanceRunner itself, or one that also reports its polls.
RunnerFactory = Callable[
    [str, Callable[[], DevicePlugin], float, ReadingsSink, RunnerTiming], InstanceRunner
]
# Called with an instance's name when its state or last error changes, on the host's loop.
StateListener = Callable[[str], None]


class WatcherTooSlowError(Exception):
    """A watcher fell more than WATCH_QUEUE_SIZE polls behind and was dropped."""


class HostObserver(Protocol):
    def instance_added(self, name: str) -> None: ...
    def instance_removed(self, name: str) -> None: ...
    def readings(self, name: str, readings: list[Reading]) -> None: ...


@dataclass(frozen=True, slots=True)
class InstanceView:
    spec: InstanceSpec
    state: InstanceState
    last_error: str
    restart_count: int
    last_poll_ns: int | None
    channels: tuple[Channel, ...]


@dataclass(slots=True)
class _Instance:
    spec: InstanceSpec
    runner: InstanceRunner
    channels: tuple[Channel, ...]


class _Watch:
    def __init__(self, instance: str, channel_ids: Collection[str]) -> None:
        self.instance = instance
        self.channel_ids = frozenset(channel_ids)
        self.pending: deque[tuple[str, list[Reading]]] = deque()
        self.ready = asyncio.Event()
        self.overflowed = False
        self.ended = False

    def offer(self, name: str, readings: list[Reading]) -> None:
        if self.overflowed or (self.instance and self.instance != name):
            return
        if self.channel_ids:
            readings = [r for r in readings if r.channel_id in self.channel_ids]
        if not readings:
            return
        if len(self.pending) >= WATCH_QUEUE_SIZE:
            self.overflowed = True  # the stream ends with an error instead of silent gaps
            self.pending.clear()
        else:
            self.pending.append((name, readings))
        self.ready.set()

    def end(self) -> None:
        self.ended = True
        self.ready.set()

    async def next(self) -> tuple[str, list[Reading]] | None:
        """The next poll's readings; None once the host ends the watch (it is stopping)."""
        while not self.pending:
            if self.ended:
                return None
            if self.overflowed:
                raise WatcherTooSlowError(
                    f"watcher fell more than {WATCH_QUEUE_SIZE} polls behind; reconnect"
                )
            self.ready.clear()
            await self.ready.wait()
        return self.pending.popleft()


class PluginHost:
    def __init__(
        self,
        plugins: Mapping[str, DiscoveredPlugin],
        store: InstanceStore,
        timing: RunnerTiming | None = None,
        runner_factory: RunnerFactory = InstanceRunner,
    ) -> None:
        self.plugins = dict(plugins)
        self.store = store
        self.timing = timing or RunnerTiming()
        self.runner_factory = runner_factory
        self.observers: list[HostObserver] = []
        self.state_listeners: list[StateListener] = []
        self._instances: dict[str, _Instance] = {}
        self._watches: set[_Watch] = set()
        self._watches_ended = False
        self._lock = asyncio.Lock()  # one operator change at a time: the file stays coherent

    # -- lifecycle of the host --------------------------------------------------------------

    async def open(self) -> None:
        """Load the saved instances and start those that were running."""
        for spec in self.store.load():
            instance = self._instance(spec)
            self._instances[spec.name] = instance
            self._announce_added(spec.name)
            if spec.enabled and instance.runner.state is not InstanceState.ERROR:
                instance.runner.start()

    async def close(self) -> None:
        """Stop every instance (outputs to safe values) but keep them enabled on disk."""
        await asyncio.gather(*(i.runner.stop() for i in self._instances.values()))

    # -- plugins and instances --------------------------------------------------------------

    def list_plugins(self) -> list[DiscoveredPlugin]:
        return list(self.plugins.values())

    def list_instances(self) -> list[InstanceView]:
        return [self._view(self._instances[name]) for name in sorted(self._instances)]

    def status(self, name: str) -> InstanceView:
        return self._view(self._get(name))

    def instance_states(self) -> list[tuple[str, InstanceState, int]]:
        """(name, state, restarts) of every instance; safe to call from another thread."""
        instances = list(self._instances.values())  # copied in one step: no concurrent change
        return [(i.spec.name, i.runner.state, i.runner.restart_count) for i in instances]

    async def create(
        self,
        name: str,
        plugin_id: str,
        config_json: str,
        poll_interval_s: float | None = None,
        *,
        start: bool = False,
        managed: bool = False,
        public_id: str = "",
    ) -> InstanceView:
        check_name(name)
        interval = check_poll_interval(1.0 if poll_interval_s is None else poll_interval_s)
        async with self._lock:
            if name in self._instances:
                raise InstanceExistsError(f"instance {name} exists already")
            config = parse_config(config_json)
            plugin_class = self._plugin_class(plugin_id)
            channels = _declared_channels(plugin_class, config)
            spec = InstanceSpec(name, plugin_id, config, interval, start, managed, public_id)
            self.store.save([*self._specs(), spec])
            instance = _Instance(spec, self._runner(spec), channels)
            self._instances[name] = instance
            self._announce_added(name)
            if start:
                instance.runner.start()
        log.info("plugin.instance_created", instance=name, plugin=plugin_id, started=start)
        return self._view(instance)

    async def start(self, name: str) -> InstanceView:
        async with self._lock:
            instance = self._get(name)
            self._plugin_class(instance.spec.plugin_id)  # refuse early when it is gone
            self._set_enabled(instance, True)
            instance.runner.start()
        return self._view(instance)

    async def stop(self, name: str) -> InstanceView:
        async with self._lock:
            instance = self._get(name)
            self._set_enabled(instance, False)
            await instance.runner.stop()
        return self._view(instance)

    async def remove(self, name: str) -> None:
        async with self._lock:
            instance = self._get(name)
            await instance.runner.stop()
            self.store.save([s for s in self._specs() if s.name != name])
            del self._instances[name]
        for observer in self.observers:
            observer.instance_removed(name)
        log.info("plugin.instance_removed", instance=name)

    # -- channels ---------------------------------------------------------------------------

    def read(self, name: str, channel_ids: Collection[str] = ()) -> list[Reading]:
        instance = self._get(name)
        latest = instance.runner.latest
        known = {channel.id for channel in instance.channels}
        for channel_id in channel_ids:
            if channel_id not in known:
                raise UnknownChannelError(f"instance {name} has no channel {channel_id!r}")
        wanted = channel_ids or sorted(latest)
        return [latest[c] for c in wanted if c in latest]

    async def write(self, name: str, channel_id: str, value: Value) -> tuple[Value, bool]:
        written, clamped = await self._get(name).runner.write(channel_id, value)
        log.info("plugin.write", instance=name, channel=channel_id, value=written, clamped=clamped)
        return written, clamped

    @asynccontextmanager
    async def watch(
        self, instance: str = "", channel_ids: Collection[str] = ()
    ) -> AsyncIterator[AsyncIterator[tuple[str, list[Reading]]]]:
        """Readings as instances poll them; raises WatcherTooSlowError when left behind."""
        if instance:
            self._get(instance)
        watch = _Watch(instance, channel_ids)
        if self._watches_ended:  # accepted just before the stop began
            watch.end()
        self._watches.add(watch)

        async def stream() -> AsyncIterator[tuple[str, list[Reading]]]:
            while (item := await watch.next()) is not None:
                yield item

        try:
            yield stream()
        finally:
            self._watches.discard(watch)

    def end_watches(self) -> None:
        """End every watch stream normally (the host is stopping; clients reconnect)."""
        self._watches_ended = True
        for watch in self._watches:
            watch.end()

    # -- internals --------------------------------------------------------------------------

    def _on_readings(self, name: str, readings: list[Reading]) -> None:
        for watch in list(self._watches):
            watch.offer(name, readings)
        for observer in self.observers:
            observer.readings(name, readings)

    def _announce_added(self, name: str) -> None:
        for observer in self.observers:
            observer.instance_added(name)

    def _get(self, name: str) -> _Instance:
        try:
            return self._instances[name]
        except KeyError:
            raise InstanceNotFoundError(f"no instance named {name!r}") from None

    def _plugin_class(self, plugin_id: str) -> type[DevicePlugin]:
        found = self.plugins.get(plugin_id)
        if found is None:
            raise PluginUnavailableError(f"plugin {plugin_id!r} is not installed")
        if found.plugin_class is None:
            raise PluginUnavailableError(f"plugin {plugin_id!r} failed to load: {found.load_error}")
        return found.plugin_class

    def _runner(self, spec: InstanceSpec) -> InstanceRunner:
        def make_plugin() -> DevicePlugin:
            return self._plugin_class(spec.plugin_id)(spec.config)

        runner = self.runner_factory(
            spec.name, make_plugin, spec.poll_interval_s, self._on_readings, self.timing
        )

        def changed() -> None:
            current = self._instances.get(spec.name)
            if current is not None and current.runner is runner:  # not one since removed
                for listener in self.state_listeners:
                    listener(spec.name)

        runner.on_change = changed
        return runner

    def _instance(self, spec: InstanceSpec) -> _Instance:
        """An instance loaded from disk; a plugin that vanished or changed shows as an error."""
        runner = self._runner(spec)
        try:
            channels = _declared_channels(self._plugin_class(spec.plugin_id), spec.config)
        except PluginError as exc:
            runner.state = InstanceState.ERROR
            runner.last_error = f"cannot load instance: {exc}"
            return _Instance(spec, runner, ())
        return _Instance(spec, runner, channels)

    def _set_enabled(self, instance: _Instance, enabled: bool) -> None:
        if instance.spec.enabled != enabled:
            spec = replace(instance.spec, enabled=enabled)
            self.store.save([spec if s.name == spec.name else s for s in self._specs()])
            instance.spec = spec

    def _specs(self) -> list[InstanceSpec]:
        return [instance.spec for instance in self._instances.values()]

    def _view(self, instance: _Instance) -> InstanceView:
        runner = instance.runner
        return InstanceView(
            instance.spec,
            runner.state,
            runner.last_error,
            runner.restart_count,
            runner.last_poll_ns,
            instance.channels,
        )


def _declared_channels(
    plugin_class: type[DevicePlugin], config: dict[str, Any]
) -> tuple[Channel, ...]:
    """The channels for this config; InvalidConfigError (naming the field) passes through."""
    try:
        return tuple(plugin_class(config).channels())
    except InvalidConfigError:
        raise
    except Exception as exc:  # third-party code: any failure means "not with this config"
        raise InvalidInstanceError(
            f"plugin {plugin_class.meta.id} refused the config: {type(exc).__name__}: {exc}"
        ) from exc


def check_name(name: str) -> None:
    if not INSTANCE_NAME.match(name):
        raise InvalidInstanceError(
            f"instance name {name!r} must be 1-64 characters from [A-Za-z0-9_-]"
        )


def check_poll_interval(interval: float) -> float:
    if not (MIN_POLL_INTERVAL_S <= interval <= MAX_POLL_INTERVAL_S) or math.isnan(interval):
        raise InvalidInstanceError(
            f"poll interval {interval:g} s is outside "
            f"{MIN_POLL_INTERVAL_S:g}-{MAX_POLL_INTERVAL_S:g} s"
        )
    return interval


def parse_config(config_json: str) -> dict[str, Any]:
    if len(config_json.encode()) > MAX_CONFIG_BYTES:
        raise InvalidInstanceError(f"config is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        config = json.loads(config_json or "{}")
    except ValueError as exc:
        raise InvalidInstanceError(f"config is not JSON ({exc})") from None
    if not isinstance(config, dict):
        raise InvalidInstanceError(f"config must be a JSON object, not {type(config).__name__}")
    return config
