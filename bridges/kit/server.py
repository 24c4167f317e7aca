"""Running a bridge's grpc.aio server: health, reflection, limits, auth, metrics, graceful stop."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from bridges.kit.address import ListenAddress
from bridges.kit.auth import BearerTokenInterceptor
from bridges.kit.config import ServerConfig
from bridges.kit.metrics import GrpcServerMetrics

__all__ = ["BridgeServer", "BridgeStartError", "ServiceBinding", "serve"]

log = structlog.get_logger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class BridgeStartError(RuntimeError):
    """The server could not start (e.g. the address is taken)."""


@dataclass(frozen=True, slots=True)
class ServiceBinding:
    """One gRPC service a bridge serves.

    ``name`` is the full service name (``revlink.platform.v1.PlatformService``), ``add`` is the
    generated ``add_<Service>Servicer_to_server`` bound to the servicer, ``on_drain`` ends
    the service's open-ended streams when shutdown begins (otherwise they would hold the
    server for the whole grace period), and ``on_stop`` lets the domain core release what it
    holds once the server has drained.
    """

    name: str
    add: Callable[[grpc.aio.Server], None]
    on_stop: Callable[[], Awaitable[None]] | None = field(default=None)
    on_drain: Callable[[], None] | None = field(default=None)


class BridgeServer:
    """A started-on-demand grpc.aio server with the kit's standard equipment.

    With a ``registry``, every call is counted and timed into it (see
    :mod:`bridges.kit.metrics`); without one, no interceptor costs the calls anything.
    """

    def __init__(
        self,
        config: ServerConfig,
        services: Sequence[ServiceBinding],
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.config = config
        self.services = tuple(services)
        self.health = health_aio.HealthServicer()
        self.rpc_metrics = GrpcServerMetrics(registry) if registry is not None else None
        self._server: grpc.aio.Server | None = None
        self._bound: ListenAddress | None = None

    @property
    def address(self) -> ListenAddress:
        """The address actually bound (with the real port when 0 was asked for)."""
        if self._bound is None:
            raise RuntimeError("server not started")
        return self._bound

    async def start(self) -> None:
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if self.rpc_metrics is not None:  # first, so it also counts the calls auth refuses
            interceptors.append(self.rpc_metrics.interceptor())
        if self.config.token:
            interceptors.append(BearerTokenInterceptor(self.config.token))
        server = grpc.aio.server(interceptors=interceptors, options=self.config.grpc_options())
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        for service in self.services:
            service.add(server)
        names = [s.name for s in self.services]
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        target = self.config.listen.grpc_target()
        try:
            port = server.add_insecure_port(target)
        except RuntimeError as exc:
            raise BridgeStartError(f"cannot listen on {target}: {exc}") from exc
        if port == 0 and not self.config.listen.is_unix:
            raise BridgeStartError(f"cannot listen on {target}: address in use or not available")
        listen = self.config.listen
        self._bound = listen if listen.is_unix else listen.with_port(port)
        await server.start()
        self._server = server
        for name in ("", *names):
            await self.health.set(name, SERVING)
        log.info(
            "bridge.started",
            listen=str(self._bound),
            services=names,
            auth="bearer-token" if self.config.token else "none",
        )

    async def stop(self) -> None:
        """Refuse new calls, let in-flight ones finish within the grace period, then stop."""
        if self._server is None:
            return
        server, self._server = self._server, None
        await self.health.enter_graceful_shutdown()
        stopping = asyncio.ensure_future(server.stop(self.config.grace_period_s))
        await asyncio.sleep(0)  # new calls are refused from here on; now end the streams
        for service in self.services:
            if service.on_drain is not None:
                service.on_drain()
        await stopping
        for service in self.services:
            if service.on_stop is not None:
                await service.on_stop()
        log.info("bridge.stopped", listen=str(self._bound))

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


async def serve(
    config: ServerConfig,
    services: Sequence[ServiceBinding],
    *,
    registry: CollectorRegistry | None = None,
) -> None:
    """Run a bridge until SIGTERM or SIGINT, then stop it gracefully.

    The handlers stay installed until the stop has finished: a second signal (Ctrl-C reaching
    the whole process group, then a supervisor's SIGTERM) must not cut the drain short.
    With a ``registry`` (the bridge's own, served by its metrics endpoint) every RPC is
    counted and timed into it.
    """
    server = BridgeServer(config, services, registry=registry)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_requested.set)
    try:
        await server.start()
        await stop_requested.wait()
        log.info("bridge.stopping", grace_period_s=config.grace_period_s)
    finally:
        try:
            await server.stop()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
