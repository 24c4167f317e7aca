"""The bridge server kit, exercised with real grpc.aio servers on loopback."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from bridges.kit import (
    BridgeServer,
    BridgeStartError,
    ListenAddress,
    ListenAddressError,
    ServerConfig,
    bridge_registry,
    start_metrics_endpoint,
)
from bridges.kit.metrics import parse_metrics_listen
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.agent import agent_status, start_agent
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


# -- metrics ---------------------------------------------------------------------------------

EXAMPLE = example_bridge.SERVICE_NAME


def handled(registry: CollectorRegistry, method: str, code: str, service: str = EXAMPLE) -> float:
    labels = {"service": service, "method": method, "code": code}
    return registry.get_sample_value("revlink_grpc_server_handled_total", labels) or 0.0


def sample(registry: CollectorRegistry, name: str, method: str, service: str = EXAMPLE) -> float:
    value = registry.get_sample_value(name, {"service": service, "method": method})
    return value or 0.0


async def settled(predicate: Callable[[], bool], what: str) -> None:
    """Wait until the server side has recorded what the client already saw end."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"never happened: {what}")


def reflected_services(target: str) -> list[str]:
    # The channel is closed here, so the reflection stream ends now, not whenever the
    # channel happens to be collected.
    with grpc.insecure_channel(target) as channel:
        return sorted(ProtoReflectionDescriptorDatabase(channel).get_services())


@pytest.fixture
async def metered(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[BridgeServer, CollectorRegistry]]:
    overrides = getattr(request, "param", {})
    registry = bridge_registry()
    config = ServerConfig(listen=ListenAddress.parse("127.0.0.1:0"), **overrides)
    bridge = BridgeServer(config, [example_bridge.binding(slow_seconds=2.0)], registry=registry)
    await bridge.start()
    yield bridge, registry
    await bridge.stop()


async def test_rpc_metrics_count_unary_and_stream_calls_by_code(
    metered: tuple[BridgeServer, CollectorRegistry],
) -> None:
    server, registry = metered
    channel, platform = stub(server)
    async with channel:
        for _ in range(3):
            await platform.GetSystemStatus(pb.GetSystemStatusRequest())
        with pytest.raises(grpc.aio.AioRpcError):
            await platform.GetIO(pb.GetIORequest(names=["x"]))  # the servicer lacks it
        assert len([r async for r in platform.WatchInputs(pb.WatchInputsRequest())]) == 2
        health = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError):
            await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        unknown = channel.unary_unary("/no.such.Service/Nothing")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await unknown(b"")
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    services = await asyncio.to_thread(reflected_services, server.address.grpc_target())
    assert EXAMPLE in services

    await settled(lambda: handled(registry, "WatchInputs", "OK") == 1, "the stream's end")
    assert handled(registry, "GetSystemStatus", "OK") == 3
    assert sample(registry, "revlink_grpc_server_started_total", "GetSystemStatus") == 3
    assert sample(registry, "revlink_grpc_server_handling_seconds_count", "GetSystemStatus") == 3
    assert sample(registry, "revlink_grpc_server_handling_seconds_sum", "GetSystemStatus") > 0
    assert handled(registry, "GetIO", "UNIMPLEMENTED") == 1
    # A server stream: counted once with its final status, not timed.
    assert sample(registry, "revlink_grpc_server_started_total", "WatchInputs") == 1
    assert sample(registry, "revlink_grpc_server_handling_seconds_count", "WatchInputs") == 0
    assert handled(registry, "Check", "NOT_FOUND", service="grpc.health.v1.Health") == 1
    # Reflection is a bidirectional stream, ended when the client closed its channel.
    reflection = "grpc.reflection.v1alpha.ServerReflection"
    await settled(
        lambda: (
            handled(registry, "ServerReflectionInfo", "OK", reflection)
            + handled(registry, "ServerReflectionInfo", "CANCELLED", reflection)
            >= 1
        ),
        "the reflection stream's end",
    )
    # Method names a client made up are not label values.
    names = {s.labels.get("service") for m in registry.collect() for s in m.samples if s.labels}
    assert "no.such.Service" not in names


@pytest.mark.parametrize("metered", [{"token": TOKEN}], indirect=True)
async def test_rpc_metrics_count_refusals_deadlines_and_cancels(
    metered: tuple[BridgeServer, CollectorRegistry],
) -> None:
    server, registry = metered
    channel, platform = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await platform.GetSystemStatus(pb.GetSystemStatusRequest())
        with pytest.raises(grpc.aio.AioRpcError):
            async for _ in platform.WatchInputs(pb.WatchInputsRequest()):
                pass
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.ListIO(pb.ListIORequest(), metadata=bearer(TOKEN), timeout=0.2)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        call = platform.ListIO(pb.ListIORequest(), metadata=bearer(TOKEN))
        await settled(
            lambda: sample(registry, "revlink_grpc_server_started_total", "ListIO") == 2,
            "the second ListIO to start",
        )
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert handled(registry, "GetSystemStatus", "UNAUTHENTICATED") == 1
    await settled(lambda: handled(registry, "WatchInputs", "UNAUTHENTICATED") == 1, "refusal")
    await settled(lambda: handled(registry, "ListIO", "DEADLINE_EXCEEDED") == 1, "deadline")
    await settled(lambda: handled(registry, "ListIO", "CANCELLED") == 1, "cancel")
    assert sample(registry, "revlink_grpc_server_handling_seconds_count", "ListIO") == 2


async def test_no_registry_no_rpc_metrics(server: BridgeServer) -> None:
    assert server.rpc_metrics is None


async def test_metrics_endpoint_serves_the_registry_and_stops() -> None:
    registry = bridge_registry()
    Counter("example_things", "Things", registry=registry).inc(2)
    endpoint = start_metrics_endpoint("127.0.0.1:0", registry)
    assert endpoint is not None
    try:
        reply = await asyncio.to_thread(httpx.get, endpoint.url)
        assert reply.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(reply.text)}
        assert families["example_things"].samples[0].value == 2
        assert "process_resident_memory_bytes" in families
    finally:
        endpoint.close()
    endpoint.close()  # idempotent
    with pytest.raises(httpx.ConnectError):
        await asyncio.to_thread(httpx.get, endpoint.url)


async def test_metrics_endpoint_empty_disables_and_a_taken_port_is_not_fatal() -> None:
    assert start_metrics_endpoint("", bridge_registry()) is None
    assert start_metrics_endpoint("  ", bridge_registry()) is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert start_metrics_endpoint(f"127.0.0.1:{port}", bridge_registry()) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", None), ("127.0.0.1:9153", ("127.0.0.1", 9153)), ("[::1]:9", ("::1", 9))],
)
def test_metrics_listen_parse(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_metrics_listen(text) == expected


@pytest.mark.parametrize("text", ["9153", "unix:/run/m.sock", "host:http"])
def test_metrics_listen_rejects(text: str) -> None:
    with pytest.raises(ListenAddressError, match="address"):
        parse_metrics_listen(text)


def test_the_agent_serves_rpc_metrics_beside_its_own(tmp_path: Path) -> None:
    with start_agent(tmp_path / "agent", tmp_path / "logs") as agent:
        for _ in range(2):
            agent_status(agent.target)
        reply = httpx.get(agent.metrics_url, timeout=10)
    families = {f.name: f for f in text_string_to_metric_families(reply.text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }
    ok = {"service": "revlink.agent.v1.DeviceAgentService", "method": "GetStatus", "code": "OK"}
    assert samples[("revlink_grpc_server_handled_total", tuple(sorted(ok.items())))] == 2
    assert samples[("revlink_agent_queue_depth", ())] == 0
    assert samples[("revlink_agent_cloud_connected", ())] == 0
    assert "revlink_agent_dropped_records" in families
