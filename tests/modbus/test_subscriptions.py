"""SubscribeRegisters: values per poll, error items on failed polls instead of an ended
stream, a bus lost and back, and a bridge restart that the client rides out by reopening."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from revlink.modbus.v1 import modbus_pb2 as pb
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc
from tests.rig.modbus import ModbusBridge, Peer, running_bridge, tcp_settings

HOLDING = 3


def subscription(peer: Peer, **fields: object) -> pb.SubscribeRegistersRequest:
    request = pb.SubscribeRegistersRequest(
        bus_id="sub",
        bus_settings=tcp_settings(peer.port),
        slave_id=1,
        register_type=HOLDING,
        start_address=10,
        count=2,
        **fields,  # type: ignore[arg-type]
    )
    request.poll_interval.FromMilliseconds(20)
    return request


async def test_values_and_typed_values(
    modbus_stub: pb_grpc.ModbusServiceStub, modbus_peer: Peer
) -> None:
    modbus_peer.set(1, HOLDING, 10, [0x0001, 0x0002])
    request = subscription(modbus_peer, format=pb.ValueFormat(type=pb.VALUE_TYPE_UINT32))
    stream = modbus_stub.SubscribeRegisters(request)
    seen = []
    async for item in stream:
        assert not item.HasField("error")
        seen.append((list(item.values), list(item.typed_values)))
        if len(seen) == 1:
            modbus_peer.set(1, HOLDING, 10, [0, 5])
        if seen[-1][0] == [0, 5]:
            break
    stream.cancel()
    assert seen[0] == ([1, 2], [65538])
    assert seen[-1] == ([0, 5], [5])


async def test_changes_only(modbus_stub: pb_grpc.ModbusServiceStub, modbus_peer: Peer) -> None:
    stream = modbus_stub.SubscribeRegisters(subscription(modbus_peer, changes_only=True))
    seen = []
    async for item in stream:
        seen.append(list(item.values))
        if len(seen) == 1:
            modbus_peer.set(1, HOLDING, 10, [3, 3])
        if len(seen) == 2:
            modbus_peer.set(1, HOLDING, 11, [4])
        if len(seen) == 3:
            break
    stream.cancel()
    assert seen == [[0, 0], [3, 3], [3, 4]]


async def test_survives_a_lost_bus(
    modbus_stub: pb_grpc.ModbusServiceStub, modbus_peer: Peer
) -> None:
    modbus_peer.set(1, HOLDING, 10, [8, 9])
    stream = modbus_stub.SubscribeRegisters(subscription(modbus_peer))
    phases: list[str] = []
    async for item in stream:
        kind = item.error.reason if item.HasField("error") else "values"
        if not phases or phases[-1] != kind:
            phases.append(kind)
        if phases == ["values"]:
            modbus_peer.stop()
        if phases == ["values", "BUS_UNAVAILABLE"]:
            assert not item.values
            assert "not connected" in item.error.message
            modbus_peer.start()
        if phases == ["values", "BUS_UNAVAILABLE", "values"]:
            assert list(item.values) == [8, 9]
            break
    stream.cancel()


async def test_refused_at_the_start(
    modbus_stub: pb_grpc.ModbusServiceStub, modbus_peer: Peer
) -> None:
    unknown = subscription(modbus_peer)
    unknown.ClearField("bus_settings")
    unknown.bus_id = "nowhere"
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        async for _ in modbus_stub.SubscribeRegisters(unknown):
            pass
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    too_many = subscription(modbus_peer)
    too_many.count = 126
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in modbus_stub.SubscribeRegisters(too_many):
            pass
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    fast = subscription(modbus_peer)
    fast.poll_interval.FromMilliseconds(1)
    with pytest.raises(grpc.aio.AioRpcError) as too_fast:
        async for _ in modbus_stub.SubscribeRegisters(fast):
            pass
    assert "poll interval" in (too_fast.value.details() or "")


async def test_client_resumes_across_a_bridge_restart(tmp_path: Path, modbus_peer: Peer) -> None:
    """The bridge stops: the stream ends cleanly (OK); the client opens it again on the next
    bridge (same address) and gets values again, the bus reopened from the request."""
    modbus_peer.set(1, HOLDING, 10, [1, 1])
    request = subscription(modbus_peer)
    first: ModbusBridge
    with running_bridge(tmp_path / "one") as first:
        target = first.target
        async with grpc.aio.insecure_channel(target) as channel:
            stream = pb_grpc.ModbusServiceStub(channel).SubscribeRegisters(request)
            stopping: asyncio.Future[int] | None = None
            async for item in stream:
                assert list(item.values) == [1, 1]
                if stopping is None:  # SIGTERM: the drain ends the stream
                    stopping = asyncio.ensure_future(asyncio.to_thread(first.process.stop))
            assert await stream.code() is grpc.StatusCode.OK
            assert stopping is not None
            assert await stopping == 0
    modbus_peer.set(1, HOLDING, 10, [2, 2])
    with running_bridge(tmp_path / "two", target=target):
        async with grpc.aio.insecure_channel(target) as channel:
            async for item in pb_grpc.ModbusServiceStub(channel).SubscribeRegisters(request):
                assert list(item.values) == [2, 2]
                break
