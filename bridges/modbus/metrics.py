"""The Modbus bridge's Prometheus metrics, read from the core when Prometheus scrapes.

Per bus (label ``bus``): requests, errors, timeouts and reconnects (counters), open and
connected (0/1); and the open subscriptions, pending scheduled writes and running servers.
The RPC metrics every bridge has come from :mod:`bridges.kit.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridges.kit import bridge_registry
from bridges.modbus.core import ModbusCore

__all__ = ["ModbusMetrics"]


class _CoreCollector(Collector):
    def __init__(self, core: ModbusCore) -> None:
        self.core = core

    def collect(self) -> Iterator[Metric]:
        buses = self.core.buses()
        counters = {
            "requests": "Modbus requests sent on the bus (retries included)",
            "errors": "Modbus requests that failed (timeouts, lost connections, exceptions)",
            "timeouts": "Modbus requests that got no answer in time",
            "reconnects": "Times the bus's transport was reopened after it was lost",
        }
        for field, text in counters.items():
            family = CounterMetricFamily(f"revlink_modbus_bus_{field}", text, labels=["bus"])
            for bus in buses:
                family.add_metric([bus.bus_id], float(getattr(bus, field)))
            yield family
        gauges = {
            "open": "1 when the bus's transport is open",
            "connected": "1 when the bus's last request was answered",
        }
        for field, text in gauges.items():
            gauge = GaugeMetricFamily(f"revlink_modbus_bus_{field}", text, labels=["bus"])
            for bus in buses:
                gauge.add_metric([bus.bus_id], 1.0 if getattr(bus, field) else 0.0)
            yield gauge
        totals = {
            "revlink_modbus_open_subscriptions": (
                "SubscribeRegisters streams open",
                self.core.subscription_count,
            ),
            "revlink_modbus_pending_scheduled_writes": (
                "Scheduled writes not yet due",
                self.core.pending_writes,
            ),
            "revlink_modbus_running_servers": ("Modbus servers running", len(self.core.servers)),
        }
        for name, (text, value) in totals.items():
            yield GaugeMetricFamily(name, text, value=float(value))


class ModbusMetrics:
    """The Modbus bridge's registry, with the core's figures in it."""

    def __init__(self, core: ModbusCore, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else bridge_registry()
        self.registry.register(_CoreCollector(core))
