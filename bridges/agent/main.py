"""Entry point of the device agent: queue, core, uplink, metrics and the gRPC server."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bridges.agent.core import DeviceAgent
from bridges.agent.metrics import agent_registry
from bridges.agent.queue.admission import QueueLimits
from bridges.agent.queue.store import DurableQueue
from bridges.agent.servicer import SERVICE_NAME, AgentServicer
from bridges.agent.settings import AgentSettings
from bridges.agent.uplink.backoff import Backoff
from bridges.agent.uplink.client import UplinkClient
from bridges.kit import ServiceBinding, serve, start_metrics_endpoint
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc

__all__ = ["run_agent"]

log = structlog.get_logger(__name__)


async def run_agent(settings: AgentSettings) -> None:
    """Serve DeviceAgentService until SIGTERM/SIGINT, streaming the queue to the cloud."""
    url = settings.uplink_url()
    token = settings.device_token.get_secret_value() if settings.device_token else ""
    if url and not token:
        raise ValueError("REVLINK_CLOUD_URL is set but REVLINK_DEVICE_TOKEN is not")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    limits = QueueLimits(
        settings.queue_max_records, settings.queue_max_bytes, settings.queue_full_policy
    )
    queue = DurableQueue(
        settings.data_dir / "queue.db", limits, synchronous=settings.queue_sync.upper()
    )
    agent = DeviceAgent(queue)
    registry = agent_registry(agent)
    metrics = start_metrics_endpoint(settings.agent_metrics_listen, registry)
    uplink: asyncio.Task[None] | None = None
    if url:
        client = UplinkClient(
            agent,
            url,
            token,
            settings.data_dir,
            max_batch_size=settings.max_batch_size,
            backoff=Backoff(
                cap_s=settings.uplink_backoff_max, replaced_s=settings.uplink_replaced_backoff
            ),
        )
        uplink = asyncio.create_task(client.run(), name="uplink")
    else:
        log.warning("agent.offline", reason="REVLINK_CLOUD_URL not set; records stay queued")

    async def stop() -> None:
        if uplink is not None:
            uplink.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await uplink
        if metrics is not None:
            metrics.close()
        await agent.committer.close()
        queue.close()

    servicer = AgentServicer(agent)
    binding = ServiceBinding(
        name=SERVICE_NAME,
        add=lambda server: pb_grpc.add_DeviceAgentServiceServicer_to_server(servicer, server),
        on_stop=stop,
        on_drain=agent.hub.end_streams,
    )
    try:
        await serve(
            settings.server_config(settings.agent_listen),
            [binding],
            registry=registry if metrics is not None else None,
        )
    finally:
        if uplink is not None and not uplink.done():
            await stop()
        if metrics is not None:  # also when the gRPC server could not start
            metrics.close()
