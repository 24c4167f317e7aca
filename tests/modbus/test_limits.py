"""The protocol's limits through the bridge, each at its edge: the last allowed request
reaches the slave, the first beyond is refused with INVALID_ARGUMENT naming the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

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
    with running_bridge(tmp_path_factory.mktemp("modbus-limits")) as running:
        yield running


@pytest.fixture
async def stub(bridge: ModbusBridge) -> AsyncIterator[pb_grpc.ModbusServiceStub]:
    async with grpc.aio.insecure_channel(bridge.target) as channel:
        yield pb_grpc.ModbusServiceStub(channel)


async def refused(call: object, *words: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call  # type: ignore[misc]
    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert reason(failed.value) == "INVALID_VALUE"
    for word in words:
        assert word in (failed.value.details() or "")


def read(
    peer: Peer, table: int, address: int, count: int, slave: int = 1
) -> pb.ReadRegistersRequest:
    return pb.ReadRegistersRequest(
        bus_id="limits",
        bus_settings=tcp_settings(peer.port),
        slave_id=slave,
        register_type=table,
        start_address=address,
        count=count,
    )


def write(
    peer: Peer, table: int, address: int, values: list[int], slave: int = 1
) -> pb.WriteRegistersRequest:
    return pb.WriteRegistersRequest(
        bus_id="limits",
        bus_settings=tcp_settings(peer.port),
        slave_id=slave,
        register_type=table,
        start_address=address,
        values=values,
    )


@pytest.mark.parametrize(
    ("table", "limit"), [(COIL, 2000), (DISCRETE, 2000), (HOLDING, 125), (INPUT, 125)]
)
async def test_read_counts(
    stub: pb_grpc.ModbusServiceStub, peer: Peer, table: int, limit: int
) -> None:
    assert len((await stub.ReadRegisters(read(peer, table, 0, limit))).values) == limit
    await refused(
        stub.ReadRegisters(read(peer, table, 0, limit + 1)), f"1 to {limit}, not {limit + 1}"
    )
    await refused(stub.ReadRegisters(read(peer, table, 0, 0)), "not 0")


async def test_write_counts(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    assert (await stub.WriteRegisters(write(peer, HOLDING, 0, [7] * 123))).count == 123
    assert peer.get(1, HOLDING, 0, 124) == [7] * 123 + [0]
    await refused(stub.WriteRegisters(write(peer, HOLDING, 0, [7] * 124)), "1 to 123, not 124")
    assert (await stub.WriteRegisters(write(peer, COIL, 0, [1] * 1968))).count == 1968
    assert peer.get(1, COIL, 1960, 16) == [1] * 8 + [0] * 8
    await refused(stub.WriteRegisters(write(peer, COIL, 0, [1] * 1969)), "1 to 1968, not 1969")
    await refused(stub.WriteRegisters(write(peer, INPUT, 0, [1])), "read-only")
    await refused(stub.WriteRegisters(write(peer, COIL, 0, [2])), "0 to 1 for coils")
    await refused(stub.WriteRegisters(write(peer, HOLDING, 0, [65536])), "0 to 65535")


async def test_addresses(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    # the last address is allowed: it reaches the slave, whose table ends at 2047
    with pytest.raises(grpc.aio.AioRpcError) as answered:
        await stub.ReadRegisters(read(peer, HOLDING, 65535, 1))
    assert reason(answered.value) == "MODBUS_EXCEPTION"
    assert "ILLEGAL_DATA_ADDRESS (2)" in (answered.value.details() or "")
    await refused(stub.ReadRegisters(read(peer, HOLDING, 65535, 2)), "end past address 65535")
    await refused(stub.ReadRegisters(read(peer, HOLDING, 65536, 1)), "0 to 65535")
    await refused(
        stub.WriteRegisters(write(peer, HOLDING, 65535, [1, 2])), "end past address 65535"
    )


async def test_slave_ids(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    # 247 is allowed (and silent here: no such slave); 248 is refused before the bus
    silent = read(peer, HOLDING, 0, 1, slave=247)
    with pytest.raises(grpc.aio.AioRpcError) as timed_out:
        await stub.ReadRegisters(silent)
    assert reason(timed_out.value) == "MODBUS_TIMEOUT"
    await refused(stub.ReadRegisters(read(peer, HOLDING, 0, 1, slave=248)), "slave id 248")
    await refused(
        stub.ReadRegisters(read(peer, HOLDING, 0, 1, slave=0)), "broadcast, for writes only"
    )
    await refused(stub.WriteRegisters(write(peer, HOLDING, 0, [1], slave=248)), "0 to 247")
    assert (await stub.WriteRegisters(write(peer, HOLDING, 0, [1], slave=0))).count == 1


async def test_register_type_and_settings(stub: pb_grpc.ModbusServiceStub, peer: Peer) -> None:
    await refused(stub.ReadRegisters(read(peer, 0, 0, 1)), "register type 0")
    await refused(stub.ReadRegisters(read(peer, 5, 0, 1)), "register type 5")
    bad = read(peer, HOLDING, 0, 1)
    bad.bus_id = "limits-bad"
    bad.bus_settings.retries = 11
    await refused(stub.ReadRegisters(bad), "retries 11")
    serial = read(peer, HOLDING, 0, 1)
    serial.bus_id = "limits-serial"
    serial.bus_settings.serial.port = "/dev/ttyS9"
    serial.bus_settings.serial.data_bits = 7
    await refused(stub.ReadRegisters(serial), "rtu needs 8 data bits")
