"""The server kit every bridge is built on.

A bridge describes its services as :class:`ServiceBinding` values and hands them, with a
:class:`ServerConfig`, to :func:`serve`. The kit adds ``grpc.health.v1`` and server
reflection, applies keepalive and message-size limits, enforces the optional shared bearer
token and stops gracefully on SIGTERM/SIGINT. Given the bridge's Prometheus registry, it
counts and times every RPC (:mod:`bridges.kit.metrics`, which also serves ``/metrics``).
"""

from bridges.kit.address import ListenAddress, ListenAddressError
from bridges.kit.auth import BearerTokenInterceptor
from bridges.kit.config import BridgeSettings, ServerConfig
from bridges.kit.metrics import (
    MetricsEndpoint,
    MetricsListen,
    bridge_registry,
    start_metrics_endpoint,
)
from bridges.kit.server import BridgeServer, BridgeStartError, ServiceBinding, serve

__all__ = [
    "BearerTokenInterceptor",
    "BridgeServer",
    "BridgeSettings",
    "BridgeStartError",
    "ListenAddress",
    "ListenAddressError",
    "MetricsEndpoint",
    "MetricsListen",
    "ServerConfig",
    "ServiceBinding",
    "bridge_registry",
    "serve",
    "start_metrics_endpoint",
]
