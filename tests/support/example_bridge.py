"""A bridge built with the server kit around a minimal servicer, to test the kit itself.

It serves ``revlink.platform.v1.PlatformService`` with three methods answered from memory:
``GetSystemStatus``, ``ListIO`` (which takes ``EXAMPLE_SLOW_SECONDS`` to answer, to test the
graceful stop) and ``WatchInputs`` (a stream). The platform bridge proper lives in
``bridges.platform``; this exists so the kit's tests do not depend on it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import grpc

from bridges.kit import BridgeSettings, ServiceBinding, serve
from revlink.logs import configure_logging
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PlatformService"].full_name


class ExampleServicer(pb_grpc.PlatformServiceServicer):
    def __init__(self, slow_seconds: float) -> None:
        self.slow_seconds = slow_seconds

    async def GetSystemStatus(
        self, request: pb.GetSystemStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSystemStatusResponse:
        return pb.GetSystemStatusResponse(simulated=True, bridge_cycle_ms=20)

    async def ListIO(
        self, request: pb.ListIORequest, context: grpc.aio.ServicerContext
    ) -> pb.ListIOResponse:
        await asyncio.sleep(self.slow_seconds)
        return pb.ListIOResponse(ios=[pb.IODescriptor(name="I_1", kind=pb.IO_KIND_DI)])

    async def WatchInputs(
        self, request: pb.WatchInputsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchInputsResponse]:
        for value in (True, False):
            change = pb.InputChange(name="I_1", new_value=pb.IOValue(bool_value=value))
            yield pb.WatchInputsResponse(changes=[change])


def binding(slow_seconds: float = 0.0) -> ServiceBinding:
    servicer = ExampleServicer(slow_seconds)
    return ServiceBinding(
        name=SERVICE_NAME,
        add=lambda server: pb_grpc.add_PlatformServiceServicer_to_server(servicer, server),
    )


def main() -> None:
    configure_logging("info", "json")
    listen = sys.argv[1]
    settings = BridgeSettings()
    slow = float(os.environ.get("EXAMPLE_SLOW_SECONDS", "0"))
    asyncio.run(serve(settings.server_config(listen), [binding(slow)]))


if __name__ == "__main__":
    main()
