"""Everything one cloud app holds while it runs, created in its lifespan."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cloud.core.config import CloudSettings
from cloud.core.metrics import CloudMetrics
from cloud.db.session import Database
from cloud.live.hub import LiveHub
from cloud.live.observers import ObserverBook
from cloud.live.presence import Presence
from cloud.live.revocations import RevocationBoard
from cloud.rules.evaluator import RuleEngine
from cloud.services.event_log import EventLog
from cloud.services.ratelimit import LoginLimits
from cloud.services.request_limits import TokenBuckets
from cloud.services.telemetry_queue import TelemetryQueue
from cloud.uplink.ingest_queue import IngestQueue
from cloud.uplink.registry import DeviceConnections
from cloud.uplink.signals import DeviceSignals
from cloud.webhooks.dispatcher import WebhookDispatcher

__all__ = ["CloudState"]


@dataclass
class CloudState:
    settings: CloudSettings
    db: Database
    metrics: CloudMetrics
    live: LiveHub
    devices: DeviceConnections
    presence: Presence  # who is online across replicas (this process alone without Redis)
    login_limiter: LoginLimits
    jwt_secret: str
    event_log: EventLog
    ingest: IngestQueue  # the uplink's group commit
    telemetry: TelemetryQueue  # the WebMACS doors' group commit
    request_limits: TokenBuckets | None = None  # REST requests per bearer token (None: off)
    device_limits: TokenBuckets | None = None  # uplinked records per device (None: off)
    revocations: RevocationBoard = field(default_factory=lambda: RevocationBoard(listening=False))
    write_signals: DeviceSignals = field(default_factory=DeviceSignals)
    observers: ObserverBook = field(default_factory=lambda: ObserverBook(15.0))
    rules: RuleEngine | None = None  # the rule evaluator (started in the lifespan)
    webhooks: WebhookDispatcher | None = None  # delivers webhooks (started in the lifespan)
    started: float = field(default_factory=time.monotonic)  # for uptime
