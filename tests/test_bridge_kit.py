"""The bridge server kit, exercised with real grpc.aio servers on loopback."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from bridges.kit import (
    BridgeServer,
    BridgeStartError,
    ListenAddress,
    ListenAddressError,
    ServerConfig,
)
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.bridges import free_port, python_module_argv, start_bridge
from tests.support import example_bridge

TOKEN = "s3cret-token"
SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[BridgeServer]:
    overrides = getattr(request, "param", {})
    config = ServerConfig(listen=ListenAddress.parse("127.0.0.1:0"), **overrides)
    bridge = BridgeServer(config, [example_bridge.binding()])
    await bridge.start()
    yield bridge
    await bridge.stop()


def stub(bridge: BridgeServer) -> tuple[grpc.aio.Channel, pb_grpc.PlatformServiceStub]:
    channel = grpc.aio.insecure_channel(bridge.address.grpc_target())
    return channel, pb_grpc.PlatformServiceStub(channel)


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def test_health_serving_for_server_and_each_service(server: BridgeServer) -> None:
    async with grpc.aio.insecure_channel(server.address.grpc_target()) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", example_bridge.SERVICE_NAME):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == SERVING
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_port_zero_binds_a_real_port(server: BridgeServer) -> None:
    assert server.address.port > 0
    channel, platform = stub(server)
    async with channel:
        reply = await platform.GetSystemStatus(pb.GetSystemStatusRequest())
    assert reply.simulated


@pytest.mark.parametrize("server", [{"token": TOKEN}], indirect=True)
async def test_reflection_lists_services_without_token(server: BridgeServer) -> None:
    def list_services() -> list[str]:
        with grpc.insecure_channel(server.address.grpc_target()) as channel:
            return sorted(ProtoReflectionDescriptorDatabase(channel).get_services())

    services = await asyncio.to_thread(list_services)
    assert services == sorted(
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
            example_bridge.SERVICE_NAME,
        ]
    )


@pytest.mark.parametrize("server", [{"token": TOKEN}], indirect=True)
async def test_token_required_on_service_calls(server: BridgeServer) -> None:
    channel, platform = stub(server)
    async with channel:
        for metadata in [(), bearer("wrong"), (("authorization", TOKEN),)]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await platform.GetSystemStatus(pb.GetSystemStatusRequest(), metadata=metadata)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "bridge token" in (err.value.details() or "")
        reply = await platform.GetSystemStatus(pb.GetSystemStatusRequest(), metadata=bearer(TOKEN))
        assert reply.bridge_cycle_ms == 20


@pytest.mark.parametrize("server", [{"token": TOKEN}], indirect=True)
async def test_token_required_on_streams_too(server: BridgeServer) -> None:
    channel, platform = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in platform.WatchInputs(pb.WatchInputsRequest()):
                pass
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        changes = [
            reply.changes[0].new_value.bool_value
            async for reply in platform.WatchInputs(pb.WatchInputsRequest(), metadata=bearer(TOKEN))
        ]
    assert changes == [True, False]


@pytest.mark.parametrize("server", [{"token": TOKEN}], indirect=True)
async def test_health_open_without_token(server: BridgeServer) -> None:
    async with grpc.aio.insecure_channel(server.address.grpc_target()) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == SERVING


@pytest.mark.parametrize("server", [{"max_message_bytes": 4096}], indirect=True)
async def test_message_size_limit_is_enforced(server: BridgeServer) -> None:
    channel, platform = stub(server)
    async with channel:
        small = pb.GetIORequest(names=["x" * 3000])
        big = pb.GetIORequest(names=["x" * 5000])
        assert small.ByteSize() < 4096 < big.ByteSize()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.GetIO(big)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Just under the limit the request reaches the servicer, which does not implement it.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.GetIO(small)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_keepalive_and_limits_are_set_explicitly() -> None:
    options = dict(ServerConfig(listen=ListenAddress.parse("127.0.0.1:1")).grpc_options())
    assert options["grpc.keepalive_time_ms"] == 30_000
    assert options["grpc.keepalive_timeout_ms"] == 10_000
    assert options["grpc.max_receive_message_length"] == 4 * 1024 * 1024
    assert options["grpc.so_reuseport"] == 0


async def test_unix_socket_listen(tmp_path: Path) -> None:
    path = tmp_path / "bridge.sock"
    config = ServerConfig(listen=ListenAddress.parse(f"unix:{path}"))
    bridge = BridgeServer(config, [example_bridge.binding()])
    await bridge.start()
    try:
        assert path.exists()
        async with grpc.aio.insecure_channel(f"unix:{path}") as channel:
            reply = await pb_grpc.PlatformServiceStub(channel).GetSystemStatus(
                pb.GetSystemStatusRequest()
            )
        assert reply.simulated
    finally:
        await bridge.stop()


async def test_address_in_use_is_a_clear_error(server: BridgeServer) -> None:
    config = ServerConfig(listen=server.address)
    second = BridgeServer(config, [example_bridge.binding()])
    with pytest.raises(BridgeStartError, match=f"cannot listen on {server.address}"):
        await second.start()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:50053", ListenAddress(host="127.0.0.1", port=50053)),
        ("[::1]:7", ListenAddress(host="[::1]", port=7)),
        ("unix:/run/revlink/platform.sock", ListenAddress(unix_path="/run/revlink/platform.sock")),
    ],
)
def test_listen_address_parse(text: str, expected: ListenAddress) -> None:
    assert ListenAddress.parse(text) == expected
    assert str(ListenAddress.parse(text)) == text


@pytest.mark.parametrize("text", ["50053", "host:", "host:http", "host:70000", "unix:", ":80"])
def test_listen_address_rejects(text: str) -> None:
    with pytest.raises(ListenAddressError, match="listen address"):
        ListenAddress.parse(text)


def test_subprocess_bridge_serves_then_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    argv = python_module_argv("tests.support.example_bridge", target)
    env = {"EXAMPLE_SLOW_SECONDS": "1.5", "REVLINK_BRIDGE_TOKEN": TOKEN}
    with (
        start_bridge(argv, target, tmp_path, env=env) as bridge,
        grpc.insecure_channel(target) as ch,
    ):
        platform = pb_grpc.PlatformServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            platform.GetSystemStatus(pb.GetSystemStatusRequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]

        in_flight = platform.ListIO.future(pb.ListIORequest(), metadata=bearer(TOKEN), timeout=10)
        time.sleep(0.3)
        started = time.monotonic()
        bridge.process.send_signal(signal.SIGTERM)
        reply = in_flight.result()
        assert [io.name for io in reply.ios] == ["I_1"]
        assert bridge.process.wait(10) == 0
        assert time.monotonic() - started < 5.0
    log = bridge.output()
    assert '"event": "bridge.stopping"' in log
    assert '"event": "bridge.stopped"' in log


def test_second_signal_does_not_cut_the_graceful_stop_short(tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    argv = python_module_argv("tests.support.example_bridge", target)
    env = {"EXAMPLE_SLOW_SECONDS": "1.0"}
    with (
        start_bridge(argv, target, tmp_path, env=env) as bridge,
        grpc.insecure_channel(target) as ch,
    ):
        in_flight = pb_grpc.PlatformServiceStub(ch).ListIO.future(pb.ListIORequest(), timeout=10)
        time.sleep(0.3)
        bridge.process.send_signal(signal.SIGINT)
        time.sleep(0.1)
        bridge.process.send_signal(signal.SIGTERM)
        assert [io.name for io in in_flight.result().ios] == ["I_1"]
        assert bridge.process.wait(10) == 0
    assert '"event": "bridge.stopped"' in bridge.output()
