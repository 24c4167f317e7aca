"""The plugin host's Prometheus metrics: instances by state, polls, restarts, the outbox.

Polls are recorded as they end, by the runner :meth:`PluginHostMetrics.runner` builds; the
rest is read from the host (and its agent link) when Prometheus scrapes. The RPC metrics
every bridge has come from :mod:`bridges.kit.metrics`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridges.kit import bridge_registry
from bridges.plugin_host.host import PluginHost
from bridges.plugin_host.runner import InstanceRunner, InstanceState, Reading, RunnerTiming
from bridges.plugin_host.sdk import DevicePlugin
from bridges.plugin_host.telemetry import AgentLink

__all__ = ["POLL_BUCKETS", "MeteredRunner", "PluginHostMetrics"]

T = TypeVar("T")

# A poll is one read_inputs call: microseconds for a computed value, milliseconds for a
# bus read, up to the call timeout (5 s default, at most 300 s) for a device that hangs.
POLL_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

# The runner's name for a poll among the plugin calls it makes under a timeout.
POLL_STEP = "read_inputs"


class MeteredRunner(InstanceRunner):
    """An instance runner that reports each poll: its duration, and whether it failed.

    A poll fails when ``read_inputs`` raises, times out or returns something other than a
    dict (the runner then restarts the instance). A poll cut short by a stop is not counted.
    """

    def __init__(self, *args: Any, metrics: PluginHostMetrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics

    async def _call(self, step: str, call: Awaitable[T]) -> T:
        if step != POLL_STEP:
            return await super()._call(step, call)
        started = time.perf_counter()
        try:
            result = await super()._call(step, call)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._metrics.poll_done(self.name, time.perf_counter() - started, ok=False)
            raise
        ok = isinstance(result, Mapping)
        self._metrics.poll_done(self.name, time.perf_counter() - started, ok=ok)
        return result


class _HostCollector(Collector):
    def __init__(self, host: PluginHost, link: AgentLink | None) -> None:
        self.host = host
        self.link = link

    def collect(self) -> Iterator[Metric]:
        instances = self.host.instance_states()
        counts = collections.Counter(state for _, state, _ in instances)
        by_state = GaugeMetricFamily(
            "revlink_plugins_instances", "Plugin instances by state", labels=["state"]
        )
        for state in InstanceState:
            by_state.add_metric([state.value], counts[state])
        yield by_state
        state_set = GaugeMetricFamily(
            "revlink_plugins_instance_state",
            "1 for the state each instance is in, 0 for the others",
            labels=["instance", "state"],
        )
        restarts = CounterMetricFamily(
            "revlink_plugins_instance_restarts",
            "Times an instance was restarted after a failure",
            labels=["instance"],
        )
        for name, current, restart_count in instances:
            for state in InstanceState:
                state_set.add_metric([name, state.value], 1.0 if state is current else 0.0)
            restarts.add_metric([name], restart_count)
        yield state_set
        yield restarts
        if self.link is not None:
            yield CounterMetricFamily(
                "revlink_plugins_outbox_dropped_records",
                "Records dropped from the device agent outbox because it was full (oldest)",
                value=self.link.dropped,
            )
            yield GaugeMetricFamily(
                "revlink_plugins_outbox_records",
                "Records waiting in the outbox for the device agent",
                value=len(self.link.outbox),
            )


class PluginHostMetrics:
    """The plugin host's registry, the poll figures, and the host observer that tidies them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else bridge_registry()
        self.polls = Counter(
            "revlink_plugins_polls",
            "Polls (read_inputs calls) of an instance, failed ones included",
            ["instance"],
            registry=self.registry,
        )
        self.poll_errors = Counter(
            "revlink_plugins_poll_errors",
            "Polls that raised, timed out or returned no dict (the instance restarts)",
            ["instance"],
            registry=self.registry,
        )
        self.poll_seconds = Histogram(
            "revlink_plugins_poll_duration_seconds",
            "Time a poll (read_inputs) took",
            ["instance"],
            buckets=POLL_BUCKETS,
            registry=self.registry,
        )

    def runner(
        self,
        name: str,
        make_plugin: Callable[[], DevicePlugin],
        poll_interval_s: float,
        on_readings: Callable[[str, list[Reading]], None],
        timing: RunnerTiming,
    ) -> InstanceRunner:
        """A :data:`~bridges.plugin_host.host.RunnerFactory` whose runners report polls."""
        return MeteredRunner(name, make_plugin, poll_interval_s, on_readings, timing, metrics=self)

    def watch(self, host: PluginHost, link: AgentLink | None = None) -> None:
        """Read ``host`` (and ``link``'s outbox) at scrape time; hear of instances coming and
        going. Call before :meth:`PluginHost.open`, so the saved instances are announced."""
        host.observers.append(self)
        self.registry.register(_HostCollector(host, link))

    def poll_done(self, instance: str, seconds: float, ok: bool) -> None:
        self.polls.labels(instance).inc()
        if not ok:
            self.poll_errors.labels(instance).inc()
        self.poll_seconds.labels(instance).observe(seconds)

    # -- HostObserver ----------------------------------------------------------------------

    def instance_added(self, name: str) -> None:
        # Present from the start at 0, so rate() and alerts see the first failure.
        self.polls.labels(name)
        self.poll_errors.labels(name)

    def instance_removed(self, name: str) -> None:
        for metric in (self.polls, self.poll_errors, self.poll_seconds):
            with contextlib.suppress(KeyError):  # never polled
                metric.remove(name)

    def readings(self, name: str, readings: list[Reading]) -> None:
        pass
