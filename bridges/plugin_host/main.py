"""Entry point of the plugin host: discovery, the host core, the agent link, gRPC.

With an agent, the host also follows the cloud's managed instances on channel
``plugin-host`` (see :mod:`bridges.plugin_host.managed`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from apps.sdk.agent import DeviceAgentInterface
from bridges.kit import ServiceBinding, serve, start_metrics_endpoint
from bridges.plugin_host.discovery import discover
from bridges.plugin_host.host import PluginHost
from bridges.plugin_host.managed import MANAGED_CHANNEL, ManagedInstances
from bridges.plugin_host.metrics import PluginHostMetrics
from bridges.plugin_host.runner import InstanceRunner, RunnerTiming
from bridges.plugin_host.servicer import SERVICE_NAME, PluginHostServicer
from bridges.plugin_host.settings import PluginHostSettings
from bridges.plugin_host.store import CommandCursors, InstanceStore
from bridges.plugin_host.telemetry import AgentLink
from revlink.plugins.v1 import plugins_pb2_grpc as pb_grpc

__all__ = ["run_plugin_host"]

log = structlog.get_logger(__name__)


def _log_leaked_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A plugin's stray task or callback failed: log it once, keep everything running."""
    error = context.get("exception")
    log.warning(
        "plugins.leaked_exception",
        message=context.get("message", ""),
        error=f"{type(error).__name__}: {error}" if error else "",
    )


async def run_plugin_host(settings: PluginHostSettings) -> None:
    """Serve PluginHostService until SIGTERM/SIGINT, feeding readings to the device agent."""
    asyncio.get_running_loop().set_exception_handler(_log_leaked_exception)
    plugins = discover()
    for plugin in plugins.values():
        if plugin.load_error:
            log.warning("plugin.load_failed", plugin=plugin.id, error=plugin.load_error)
    timing = RunnerTiming(
        call_timeout_s=settings.plugin_call_timeout,
        backoff_max_s=settings.plugin_restart_backoff_max,
    )
    metrics = PluginHostMetrics()
    endpoint = start_metrics_endpoint(settings.plugins_metrics_listen, metrics.registry)
    host = PluginHost(
        plugins,
        InstanceStore(settings.plugins_data_dir / "instances.json"),
        timing,
        runner_factory=metrics.runner if endpoint is not None else InstanceRunner,
    )
    agent: DeviceAgentInterface | None = None
    link: AgentLink | None = None
    link_task: asyncio.Task[None] | None = None
    managed: ManagedInstances | None = None
    managed_task: asyncio.Task[None] | None = None
    if settings.agent_uri:
        agent = DeviceAgentInterface("plugin-host", settings.agent_uri)
        cursors = CommandCursors(settings.plugins_data_dir / "command_cursors.json")
        link = AgentLink(host, agent, outbox_size=settings.plugins_outbox_size, cursors=cursors)
        host.observers.append(link)
        managed = ManagedInstances(host, link)
        link_task = asyncio.create_task(link.run(), name="agent-link")
    else:
        log.warning("plugins.no_agent", reason="REVLINK_AGENT_URI is empty; readings stay here")
    if endpoint is not None:
        metrics.watch(host, link)
    await host.open()
    if agent is not None and managed is not None:
        # After open: the cloud's set is compared with the instances the store brought back.
        managed_task = asyncio.create_task(managed.run(), name="managed-instances")
        agent.add_subscription(MANAGED_CHANNEL, managed.on_aggregate, events=("aggregate",))
    log.info("plugins.ready", plugins=sorted(plugins), instances=len(host.list_instances()))

    async def stop() -> None:
        if managed is not None and managed_task is not None:
            managed.close()
            await managed_task
        await host.close()
        if link_task is not None:
            link_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link_task
        if agent is not None:
            await agent.close_async()

    servicer = PluginHostServicer(host)
    binding = ServiceBinding(
        name=SERVICE_NAME,
        add=lambda server: pb_grpc.add_PluginHostServiceServicer_to_server(servicer, server),
        on_stop=stop,
        on_drain=host.end_watches,
    )
    try:
        await serve(
            settings.server_config(settings.plugins_listen),
            [binding],
            registry=metrics.registry if endpoint is not None else None,
        )
    finally:
        if endpoint is not None:
            endpoint.close()
