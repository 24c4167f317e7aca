"""The agent's Prometheus metrics: the GetStatus figures, read at scrape time.

The endpoint itself (and the RPC metrics every bridge has) comes from :mod:`bridges.kit.metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridges.agent.core import DeviceAgent
from bridges.kit import bridge_registry

__all__ = ["AgentCollector", "agent_registry"]


class AgentCollector(Collector):
    def __init__(self, agent: DeviceAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        stats = self.agent.queue.stats()  # thread-safe: the store serialises its own access
        oldest = stats.oldest_enqueued_at_ns
        age = max(0.0, (time.time_ns() - oldest) / 1e9) if oldest is not None else 0.0
        gauges = {
            "revlink_agent_cloud_connected": (
                "1 while a cloud session is open",
                1.0 if self.agent.uplink.connected else 0.0,
            ),
            "revlink_agent_queue_depth": ("Records not yet acked by the cloud", stats.depth),
            "revlink_agent_queue_bytes": ("Bytes those records occupy", stats.size_bytes),
            "revlink_agent_oldest_unsent_age_seconds": ("Age of the oldest unacked record", age),
            "revlink_agent_last_acked_seq": ("Highest seq the cloud acked", stats.last_acked_seq),
            "revlink_agent_last_enqueued_seq": (
                "Highest seq given to a record",
                stats.last_enqueued_seq,
            ),
            "revlink_agent_last_applied_write_seq": (
                "Highest cloud channel write applied on this device",
                stats.last_applied_write_seq,
            ),
        }
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(name, text, value=float(value))
        yield CounterMetricFamily(
            "revlink_agent_dropped_records",
            "Records dropped because the queue was full (drop-oldest)",
            value=float(stats.dropped_records),
        )
        yield CounterMetricFamily(
            "revlink_agent_refused_records",
            "Publishes refused because the queue was full (refuse-new)",
            value=float(stats.refused_records),
        )


def agent_registry(agent: DeviceAgent) -> CollectorRegistry:
    """The agent's own registry: its queue and uplink figures (the kit adds the RPCs)."""
    registry = bridge_registry()
    registry.register(AgentCollector(agent))
    return registry
