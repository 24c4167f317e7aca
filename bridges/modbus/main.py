"""Entry point of the Modbus bridge: open the configured buses, serve the core (and metrics)."""

from __future__ import annotations

import logging

from bridges.kit import ServiceBinding, serve, start_metrics_endpoint
from bridges.modbus.core import ModbusCore
from bridges.modbus.metrics import ModbusMetrics
from bridges.modbus.servicer import SERVICE_NAME, ModbusServicer
from bridges.modbus.settings import ModbusSettings
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc

__all__ = ["run_modbus_bridge"]


async def run_modbus_bridge(settings: ModbusSettings) -> None:
    """Serve ModbusService until SIGTERM/SIGINT; buses and servers close on the way out."""
    # pymodbus logs every timeout and failed connect itself (with frame dumps); the bridge
    # logs what matters (a slave going silent, a bus lost or back) and counts the rest.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    core = ModbusCore(settings.bus_configs())
    await core.start()
    servicer = ModbusServicer(core)
    metrics = ModbusMetrics(core)
    endpoint = start_metrics_endpoint(settings.modbus_metrics_listen, metrics.registry)
    binding = ServiceBinding(
        name=SERVICE_NAME,
        add=lambda server: pb_grpc.add_ModbusServiceServicer_to_server(servicer, server),
        on_stop=core.shutdown,
        on_drain=core.end_streams,
    )
    try:
        await serve(
            settings.server_config(settings.modbus_listen),
            [binding],
            registry=metrics.registry if endpoint is not None else None,
        )
    finally:
        await core.shutdown()
        if endpoint is not None:
            endpoint.close()
