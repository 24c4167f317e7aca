"""The platform bridge's Prometheus metrics: the IO cycle, leases, pulse counters, watchers.

The cycle figures are recorded as each cycle ends (:meth:`PlatformMetrics.cycle_done`, handed
to :meth:`PlatformCore.run`); the rest is read from the core when Prometheus scrapes. The
RPC metrics every bridge has come from :mod:`bridges.kit.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridges.kit import bridge_registry
from bridges.platform.core import PlatformCore

__all__ = ["CYCLE_BUCKETS", "PlatformMetrics"]

# A cycle on piControl or an image file takes tens to hundreds of microseconds; the
# configured cycle is 5 ms to 2 s (default 20 ms), and anything near it is an overrun.
CYCLE_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class _CoreCollector(Collector):
    def __init__(self, core: PlatformCore) -> None:
        self.core = core

    def collect(self) -> Iterator[Metric]:
        core = self.core
        gauges = {
            "revlink_platform_active_leases": ("Output-watchdog leases alive", core.lease_count),
            "revlink_platform_leased_outputs": (
                "Outputs owned by a lease (they go safe when it expires)",
                core.leased_output_count,
            ),
            "revlink_platform_running_pulse_counters": (
                "Pulse counters running on digital inputs",
                core.pulse_counter_count,
            ),
            "revlink_platform_open_watch_streams": (
                "WatchInputs streams open",
                core.watch_count,
            ),
            "revlink_platform_io_cycle_interval_seconds": (
                "The configured IO cycle",
                core.cycle_s,
            ),
        }
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(name, text, value=float(value))


class PlatformMetrics:
    """The platform bridge's registry and the cycle figures recorded into it."""

    def __init__(self, core: PlatformCore, registry: CollectorRegistry | None = None) -> None:
        self.core = core
        self.registry = registry if registry is not None else bridge_registry()
        self.cycle_seconds = Histogram(
            "revlink_platform_io_cycle_seconds",
            "Time one IO cycle took: read inputs, report changes, due writes, lease expiry",
            buckets=CYCLE_BUCKETS,
            registry=self.registry,
        )
        self.overruns = Counter(
            "revlink_platform_io_cycle_overruns",
            "IO cycles that took longer than the configured cycle",
            registry=self.registry,
        )
        self.cycle_errors = Counter(
            "revlink_platform_io_cycle_errors",
            "IO cycles that failed with an error (logged as cycle.failed)",
            registry=self.registry,
        )
        self.lease_expiries = Counter(
            "revlink_platform_lease_expiries",
            "Leases that expired unrenewed; their outputs went to their safe values",
            registry=self.registry,
        )
        self.registry.register(_CoreCollector(core))

    def cycle_done(self, seconds: float, expired_leases: int, failed: bool) -> None:
        """Record one IO cycle (called by :meth:`PlatformCore.run` on the event loop)."""
        self.cycle_seconds.observe(seconds)
        if seconds > self.core.cycle_s:
            self.overruns.inc()
        if failed:
            self.cycle_errors.inc()
        if expired_leases:
            self.lease_expiries.inc(expired_leases)
