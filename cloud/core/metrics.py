"""Prometheus metrics of one cloud app (its own registry: no process-wide globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["CloudMetrics"]


class CloudMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingested_records = Counter(
            "revlink_ingested_records_total",
            "Records (uplink) and datapoints (telemetry door) committed.",
            ["door"],
            registry=self.registry,
        )
        self.ingested_batches = Counter(
            "revlink_ingested_batches_total",
            "Batches committed.",
            ["door"],
            registry=self.registry,
        )
        self.duplicates_dropped = Counter(
            "revlink_duplicate_records_total",
            "Uplink records dropped because their seq was already committed.",
            registry=self.registry,
        )
        self.rejected_records = Counter(
            "revlink_rejected_records_total",
            "Records or datapoints refused as invalid.",
            ["door"],
            registry=self.registry,
        )
        self.connected_devices = Gauge(
            "revlink_connected_devices", "Devices with a live uplink.", registry=self.registry
        )
        self.stream_clients = Gauge(
            "revlink_stream_clients", "Live datapoint stream subscribers.", registry=self.registry
        )
