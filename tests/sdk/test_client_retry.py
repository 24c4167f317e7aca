"""The client base repeats calls a stopping bridge cancelled, when repeating them is safe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.errors import BridgeError
from apps.sdk.platform import PlatformInterface
from revlink.agent.v1 import agent_pb2 as apb
from revlink.agent.v1 import agent_pb2_grpc as apb_grpc
from revlink.platform.v1 import platform_pb2 as ppb
from revlink.platform.v1 import platform_pb2_grpc as ppb_grpc
from tests.rig.bridges import free_port


class CancelsFirstPublish(apb_grpc.DeviceAgentServiceServicer):
    """Answers like an agent that was stopping during the first call."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def Publish(self, request: apb.PublishRequest, context: Any) -> apb.PublishResponse:
        self.keys.append(request.idempotency_key)
        if len(self.keys) == 1:
            await context.abort(grpc.StatusCode.CANCELLED, "server shutting down")
        return apb.PublishResponse(seq=7)


class CancelsEverything(ppb_grpc.PlatformServiceServicer):
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def GetCounters(self, request: Any, context: Any) -> ppb.GetCountersResponse:
        self.calls.append("GetCounters")
        if self.calls.count("GetCounters") == 1:
            await context.abort(grpc.StatusCode.CANCELLED, "server shutting down")
        return ppb.GetCountersResponse(counts=[3])

    async def ResetCounters(self, request: Any, context: Any) -> ppb.ResetCountersResponse:
        self.calls.append("ResetCounters")
        await context.abort(grpc.StatusCode.CANCELLED, "server shutting down")
        raise AssertionError("unreachable")


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, CancelsFirstPublish, CancelsEverything]]:
    target = f"127.0.0.1:{free_port()}"
    agent, platform = CancelsFirstPublish(), CancelsEverything()
    grpc_server = grpc.aio.server()
    apb_grpc.add_DeviceAgentServiceServicer_to_server(agent, grpc_server)
    ppb_grpc.add_PlatformServiceServicer_to_server(platform, grpc_server)
    grpc_server.add_insecure_port(target)
    await grpc_server.start()
    yield target, agent, platform
    await grpc_server.stop(None)


async def test_a_cancelled_publish_is_repeated_with_the_same_key(
    server: tuple[str, CancelsFirstPublish, CancelsEverything],
) -> None:
    target, agent, _ = server
    dda = DeviceAgentInterface("app", target)
    try:
        assert await dda.publish_async("tank", {"level": 1}) == 7
    finally:
        await dda.close_async()
    assert len(agent.keys) == 2
    assert agent.keys[0] == agent.keys[1] != ""


async def test_only_calls_safe_to_repeat_are_repeated(
    server: tuple[str, CancelsFirstPublish, CancelsEverything],
) -> None:
    target, _, platform = server
    plt = PlatformInterface("app", target)
    try:
        assert await plt.get_counters_async(0) == 3
        with pytest.raises(BridgeError, match="CANCELLED: server shutting down"):
            await plt.reset_counters_async(0)
    finally:
        await plt.close_async()
    assert platform.calls == ["GetCounters", "GetCounters", "ResetCounters"]
