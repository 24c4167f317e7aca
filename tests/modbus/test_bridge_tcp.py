"""``revlink bridge modbus`` against pymodbus TCP servers: reads, writes, typed values, slave
exceptions, a dead slave, buses opened on demand, lost and recovered, and scheduled writes."""

from __future__ import annotations

import asyncio
import struct
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from revlink.error_reasons import MODBUS_EXCEPTION_CODE_KEY
from revlink.modbus.v1 import modbus_pb2 as pb
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc
from tests.rig.bridges import free_port
from tests.rig.modbus import ModbusBridge, Peer, reason, running_bridge, tcp_settings

COIL, DISCRETE, HOLDING, INPUT = 1, 2, 3, 4


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    server = Peer(port=free_port())
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModbusBridge]:
    with running_bridge(tmp_path_factory.mktemp("modbus-tcp")) as running:
        yield running


@pytest.fixture
async def stub(bridge: ModbusBridge) -> AsyncIterator[pb_grpc.ModbusServiceStub]:
    async with grpc.aio.insecure_channel(bridge.target) as channel:
        yield pb_grpc.ModbusServiceStub(channel)


def read_request(bus: str, peer: Peer, **fields: object) -> pb.ReadRegistersRequest:
    fields.setdefault("slave_id", 1)
    return pb.ReadRegistersRequest(bus_id=bus, bus_settings=tcp_settings(peer.port), **fields)  # type: ignore[arg-type]


def write_request(bus: str, peer: Peer, **fields: object) -> pb.WriteRegistersRequest:
    fields.setdefault("slave_id", 1)
    return pb.WriteRegistersRequest(bus_id=bus, bus_settings=tcp_settings(peer.port), **fields)  # type: ignore[arg-type]


async def read_until_answered(
    stub: pb_grpc.ModbusServiceStub, request: pb.ReadRegistersRequest
) -> pb.ReadRegistersResponse:
    """Read until the bus is back: requests wake its reconnect, the first may still fail."""
    failures: list[str] = []
    for _ in range(100):
        try:
            return await stub.ReadRegisters(request)
        except grpc.aio.AioRpcError as exc:
            failures.append(reason(exc))
            await asyncio.sleep(0.05)
    pytest.fail(f"the bus did not come back: {set(failures)}")


async def test_reads_every_table(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    peer.set(1, COIL, 100, [1, 0, 1])
    peer.set(1, DISCRETE, 100, [0, 1, 1])
    peer.set(1, HOLDING, 100, [1234, 65535])
    peer.set(1, INPUT, 100, [7, 8, 9])
    peer.set(2, HOLDING, 100, [42])
    expected = {COIL: [1, 0, 1], DISCRETE: [0, 1, 1], HOLDING: [1234, 65535, 0], INPUT: [7, 8, 9]}
    for table, values in expected.items():
        request = read_request("reads", peer, register_type=table, start_address=100, count=3)
        reply = await stub.ReadRegisters(request)
        assert list(reply.values) == values
        assert not reply.typed_values
        assert reply.read_time.seconds > 0
    other = read_request(
        "reads", peer, slave_id=2, register_type=HOLDING, start_address=100, count=1
    )
    assert list((await stub.ReadRegisters(other)).values) == [42]


async def test_writes_coils_and_registers(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    writes = [
        (COIL, 200, [1], False),  # FC 5
        (COIL, 201, [1, 0, 1], False),  # FC 15
        (HOLDING, 200, [500], False),  # FC 6
        (HOLDING, 201, [1, 2, 3], False),  # FC 16
        (HOLDING, 204, [9], True),  # FC 16 with one register
    ]
    for table, address, values, force in writes:
        request = write_request(
            "writes",
            peer,
            register_type=table,
            start_address=address,
            values=values,
            force_multiple_write=force,
        )
        assert (await stub.WriteRegisters(request)).count == len(values)
    assert peer.get(1, COIL, 200, 4) == [1, 1, 0, 1]
    assert peer.get(1, HOLDING, 200, 5) == [500, 1, 2, 3, 9]


async def test_typed_values_both_ways(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    swapped = pb.ValueFormat(type=pb.VALUE_TYPE_FLOAT32, word_order=pb.WORD_ORDER_LITTLE)
    write = write_request(
        "typed",
        peer,
        register_type=HOLDING,
        start_address=300,
        typed_values=[1.5, -2.0],
        format=swapped,
    )
    await stub.WriteRegisters(write)
    big = [
        *struct.unpack(">HH", struct.pack(">f", 1.5)),
        *struct.unpack(">HH", struct.pack(">f", -2.0)),
    ]
    assert peer.get(1, HOLDING, 300, 4) == [big[1], big[0], big[3], big[2]]  # CDAB

    peer.set(1, INPUT, 300, [0xFFFF, 0xFFFE, 0x1234, 0x5678])
    int32 = pb.ValueFormat(type=pb.VALUE_TYPE_INT32)
    read = read_request(
        "typed", peer, register_type=INPUT, start_address=300, count=4, format=int32
    )
    reply = await stub.ReadRegisters(read)
    assert list(reply.values) == [0xFFFF, 0xFFFE, 0x1234, 0x5678]
    assert list(reply.typed_values) == [-2, 0x12345678]

    back = read_request(
        "typed", peer, register_type=HOLDING, start_address=300, count=4, format=swapped
    )
    assert list((await stub.ReadRegisters(back)).typed_values) == [1.5, -2.0]

    too_big = write_request(
        "typed",
        peer,
        register_type=HOLDING,
        start_address=300,
        typed_values=[40000],
        format=pb.ValueFormat(type=pb.VALUE_TYPE_INT16),
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.WriteRegisters(too_big)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "outside int16's range" in (refused.value.details() or "")


async def test_slave_exception_is_named(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    request = read_request("exceptions", peer, register_type=HOLDING, start_address=2047, count=2)
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.ReadRegisters(request)
    error = failed.value
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error) == "MODBUS_EXCEPTION"
    assert "ILLEGAL_DATA_ADDRESS (2)" in (error.details() or "")
    assert (MODBUS_EXCEPTION_CODE_KEY, "2") in tuple(error.trailing_metadata() or ())
    # the bus is fine: the slave answered
    status = (await stub.GetBusStatus(pb.GetBusStatusRequest(bus_id="exceptions"))).status
    assert status.connected
    assert status.errors == 1
    assert "ILLEGAL_DATA_ADDRESS" in status.last_error


async def test_dead_slave_times_out_alone(
    stub: pb_grpc.ModbusServiceStub, peer: Peer, modbus_peer: Peer
) -> None:
    """Slave 9 never answers: its request fails with MODBUS_TIMEOUT after its retries, while
    slave 1 on the same bus (between the retries) and another bus keep answering."""
    slow = tcp_settings(peer.port, timeout=1.0, retries=2)
    dead = pb.ReadRegistersRequest(
        bus_id="dead", bus_settings=slow, slave_id=9, register_type=HOLDING, count=1
    )
    alive = pb.ReadRegistersRequest(
        bus_id="dead", bus_settings=slow, slave_id=1, register_type=HOLDING, count=1
    )
    other_bus = read_request("other", modbus_peer, register_type=HOLDING, count=1)
    dead_call = asyncio.ensure_future(stub.ReadRegisters(dead))
    await asyncio.sleep(0)
    for _ in range(5):
        await stub.ReadRegisters(other_bus)
    await stub.ReadRegisters(alive)
    assert not dead_call.done()  # three 1 s attempts; the others were served meanwhile
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await dead_call
    assert failed.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert reason(failed.value) == "MODBUS_TIMEOUT"
    assert "slave 9" in (failed.value.details() or "")
    await stub.ReadRegisters(alive)
    status = (await stub.GetBusStatus(pb.GetBusStatusRequest(bus_id="dead"))).status
    assert status.open
    assert status.connected
    assert status.timeouts == 3
    assert status.reconnects == 0


async def test_bus_lost_and_recovered(stub: pb_grpc.ModbusServiceStub, modbus_peer: Peer) -> None:
    modbus_peer.set(1, HOLDING, 0, [77])
    request = read_request("flaky", modbus_peer, register_type=HOLDING, count=1)
    assert list((await stub.ReadRegisters(request)).values) == [77]
    modbus_peer.stop()
    with pytest.raises(grpc.aio.AioRpcError) as lost:
        await stub.ReadRegisters(request)
    assert lost.value.code() is grpc.StatusCode.UNAVAILABLE
    assert reason(lost.value) == "BUS_UNAVAILABLE"
    status = (await stub.GetBusStatus(pb.GetBusStatusRequest(bus_id="flaky"))).status
    assert not status.open
    assert not status.connected
    modbus_peer.start()
    reply = await read_until_answered(stub, request)
    assert list(reply.values) == [77]
    status = (await stub.GetBusStatus(pb.GetBusStatusRequest(bus_id="flaky"))).status
    assert status.open
    assert status.connected
    assert status.reconnects == 1


async def test_buses_by_id(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    bare = pb.ReadRegistersRequest(bus_id="plc", slave_id=1, register_type=HOLDING, count=1)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.ReadRegisters(bare)
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
    assert reason(unknown.value) == "UNKNOWN_BUS"

    opened = await stub.OpenBus(pb.OpenBusRequest(bus_id="plc", settings=tcp_settings(peer.port)))
    assert opened.status.bus_id == "plc"
    assert opened.status.settings.tcp.port == peer.port
    await stub.ReadRegisters(bare)  # no settings needed once open
    await stub.ReadRegisters(read_request("plc", peer, register_type=HOLDING, count=1))  # same

    other = pb.ReadRegistersRequest(
        bus_id="plc",
        bus_settings=tcp_settings(peer.port, timeout=2.0),
        slave_id=1,
        register_type=HOLDING,
        count=1,
    )
    with pytest.raises(grpc.aio.AioRpcError) as conflict:
        await stub.ReadRegisters(other)
    assert conflict.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert reason(conflict.value) == "BUS_SETTINGS_CONFLICT"
    assert "OpenBus replaces" in (conflict.value.details() or "")

    replaced = pb.OpenBusRequest(bus_id="plc", settings=tcp_settings(peer.port, timeout=2.0))
    assert (await stub.OpenBus(replaced)).status.settings.tcp.timeout.seconds == 2
    await stub.ReadRegisters(other)
    ids = [bus.bus_id for bus in (await stub.ListBuses(pb.ListBusesRequest())).buses]
    assert "plc" in ids
    assert ids == sorted(ids)

    await stub.CloseBus(pb.CloseBusRequest(bus_id="plc"))
    for call in (
        stub.GetBusStatus(pb.GetBusStatusRequest(bus_id="plc")),
        stub.CloseBus(pb.CloseBusRequest(bus_id="plc")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await call
        assert gone.value.code() is grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await stub.OpenBus(pb.OpenBusRequest(bus_id="x", settings=pb.BusSettings()))
    assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "serial or tcp" in (invalid.value.details() or "")


async def test_scheduled_writes(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    def schedule(address: int, value: int, delay_ms: int) -> pb.ScheduleWriteRequest:
        request = pb.ScheduleWriteRequest(
            bus_id="later",
            bus_settings=tcp_settings(peer.port),
            slave_id=1,
            register_type=HOLDING,
            start_address=address,
            values=[value],
        )
        request.delay.FromMilliseconds(delay_ms)
        return request

    first = await stub.ScheduleWrite(schedule(400, 1, 300))
    second = await stub.ScheduleWrite(schedule(400, 2, 50))  # replaces the first
    assert first.schedule_id != second.schedule_id
    assert second.due_time.seconds > 0
    await stub.ScheduleWrite(schedule(401, 9, 600))  # a marker, due after the first would be
    for _ in range(200):
        if peer.get(1, HOLDING, 401, 1) == [9]:
            break
        await asyncio.sleep(0.02)
    assert peer.get(1, HOLDING, 400, 2) == [2, 9]

    bad = schedule(400, 1, 0)
    bad.delay.FromSeconds(-1)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ScheduleWrite(bad)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    unknown = schedule(400, 1, 10)
    unknown.ClearField("bus_settings")
    unknown.bus_id = "nowhere"
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.ScheduleWrite(unknown)
    assert reason(missing.value) == "UNKNOWN_BUS"


async def test_configured_buses(tmp_path: Path, peer: Peer) -> None:
    buses = f'[{{"bus_id": "line1", "tcp": {{"host": "127.0.0.1", "port": {peer.port}}}}}]'
    peer.set(1, HOLDING, 500, [31])
    with running_bridge(tmp_path, "--buses", buses) as configured:
        async with grpc.aio.insecure_channel(configured.target) as channel:
            stub = pb_grpc.ModbusServiceStub(channel)
            listed = (await stub.ListBuses(pb.ListBusesRequest())).buses
            assert [(b.bus_id, b.configured) for b in listed] == [("line1", True)]
            request = pb.ReadRegistersRequest(
                bus_id="line1", slave_id=1, register_type=HOLDING, start_address=500, count=1
            )
            assert list((await stub.ReadRegisters(request)).values) == [31]


async def test_metrics_count_bus_requests(tmp_path: Path, peer: Peer) -> None:
    metrics_port = free_port()
    with running_bridge(tmp_path, "--metrics-listen", f"127.0.0.1:{metrics_port}") as served:
        async with grpc.aio.insecure_channel(served.target) as channel:
            stub = pb_grpc.ModbusServiceStub(channel)
            await stub.ReadRegisters(read_request("metered", peer, register_type=HOLDING, count=1))
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.ReadRegisters(
                    read_request(
                        "metered", peer, register_type=HOLDING, start_address=4000, count=1
                    )
                )
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(url, timeout=5).read().decode()
        )
    assert 'revlink_modbus_bus_requests_total{bus="metered"} 2.0' in text
    assert 'revlink_modbus_bus_errors_total{bus="metered"} 1.0' in text
    assert 'revlink_modbus_bus_connected{bus="metered"} 1.0' in text
    assert "revlink_modbus_open_subscriptions 0.0" in text
    handled = [
        line
        for line in text.splitlines()
        if line.startswith("revlink_grpc_server_handled_total{") and "ReadRegisters" in line
    ]
    assert (
        'revlink_grpc_server_handled_total{code="FAILED_PRECONDITION",'
        'method="ReadRegisters",service="revlink.modbus.v1.ModbusService"} 1.0'
    ) in handled, handled
