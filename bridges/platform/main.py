"""Entry point of the platform bridge: open the image, build the core, serve it (and metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import stat

from bridges.kit import ServiceBinding, serve, start_metrics_endpoint
from bridges.platform.core import PlatformCore
from bridges.platform.image import open_process_image
from bridges.platform.iotable import IOTable
from bridges.platform.metrics import PlatformMetrics
from bridges.platform.power import PowerControl
from bridges.platform.servicer import SERVICE_NAME, PlatformServicer
from bridges.platform.settings import PlatformSettings
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc

__all__ = ["build_core", "run_platform_bridge"]


def build_core(settings: PlatformSettings) -> PlatformCore:
    """Open the files and build the core; raises ProcessImageError or a table error."""
    rpi = open_process_image(settings.procimg, settings.configrsc)
    try:
        table = IOTable.from_modio(rpi, settings.platform_safe_values)
    except Exception:
        rpi.cleanup()
        raise
    simulated = not stat.S_ISCHR(settings.procimg.stat().st_mode)
    return PlatformCore(
        rpi,
        table,
        cycle_s=settings.platform_cycle_ms / 1000,
        simulated=simulated,
        event_log_size=settings.platform_event_log_size,
    )


async def run_platform_bridge(settings: PlatformSettings) -> None:
    """Serve PlatformService until SIGTERM/SIGINT; leased outputs go safe on the way out."""
    core = build_core(settings)
    power = PowerControl(settings.power_settings())
    servicer = PlatformServicer(core, power)
    metrics = PlatformMetrics(core)
    endpoint = start_metrics_endpoint(settings.platform_metrics_listen, metrics.registry)
    on_cycle = metrics.cycle_done if endpoint is not None else None
    cycle = asyncio.create_task(core.run(on_cycle), name="io-cycle")

    async def stop_core() -> None:
        cycle.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cycle
        power.close()
        core.shutdown()

    binding = ServiceBinding(
        name=SERVICE_NAME,
        add=lambda server: pb_grpc.add_PlatformServiceServicer_to_server(servicer, server),
        on_stop=stop_core,
        on_drain=core.end_watches,
    )
    try:
        await serve(
            settings.server_config(settings.platform_listen),
            [binding],
            registry=metrics.registry if endpoint is not None else None,
        )
    finally:
        if not cycle.done():
            await stop_core()
        if endpoint is not None:
            endpoint.close()
