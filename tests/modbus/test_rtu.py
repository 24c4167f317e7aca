"""Modbus RTU over a serial line: a ``socat`` pseudo-terminal pair, the bridge on one end and
a pymodbus serial server (slaves 1 and 2) on the other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest

from revlink.modbus.v1 import modbus_pb2 as pb
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc
from tests.rig.modbus import Peer, PtyPair, reason, serial_settings

COIL, HOLDING = 1, 3


@pytest.fixture
def rtu_peer(pty_pair: PtyPair) -> Iterator[Peer]:
    peer = Peer(serial=pty_pair.device_end, baud=19200, broadcast=True)
    peer.start()
    yield peer
    peer.close()


def read(
    pty: PtyPair, slave: int, address: int, count: int = 1, **fields: object
) -> pb.ReadRegistersRequest:
    return pb.ReadRegistersRequest(
        bus_id="rtu",
        bus_settings=serial_settings(pty.bridge_end, baud=19200),
        slave_id=slave,
        register_type=HOLDING,
        start_address=address,
        count=count,
        **fields,  # type: ignore[arg-type]
    )


def write(
    pty: PtyPair, slave: int, table: int, address: int, values: list[int]
) -> pb.WriteRegistersRequest:
    return pb.WriteRegistersRequest(
        bus_id="rtu",
        bus_settings=serial_settings(pty.bridge_end, baud=19200),
        slave_id=slave,
        register_type=table,
        start_address=address,
        values=values,
    )


async def test_reads_and_writes_over_rtu(
    modbus_stub: pb_grpc.ModbusServiceStub, rtu_peer: Peer, pty_pair: PtyPair
) -> None:
    rtu_peer.set(1, HOLDING, 0, [11, 12, 13])
    assert list((await modbus_stub.ReadRegisters(read(pty_pair, 1, 0, 3))).values) == [11, 12, 13]
    await modbus_stub.WriteRegisters(write(pty_pair, 2, HOLDING, 5, [500, 501]))
    await modbus_stub.WriteRegisters(write(pty_pair, 2, COIL, 7, [1]))
    assert rtu_peer.get(2, HOLDING, 5, 2) == [500, 501]
    assert rtu_peer.get(2, COIL, 7, 1) == [1]
    typed = read(pty_pair, 2, 5, 2, format=pb.ValueFormat(type=pb.VALUE_TYPE_UINT32))
    assert list((await modbus_stub.ReadRegisters(typed)).typed_values) == [500 * 65536 + 501]
    status = (await modbus_stub.GetBusStatus(pb.GetBusStatusRequest(bus_id="rtu"))).status
    assert status.settings.serial.port == pty_pair.bridge_end
    assert status.settings.serial.baud == 19200
    assert status.connected


async def test_concurrent_requests_share_the_line(
    modbus_stub: pb_grpc.ModbusServiceStub, rtu_peer: Peer, pty_pair: PtyPair
) -> None:
    """Requests from many callers to two slaves at once: one frame at a time on the line, so
    every answer is the right slave's."""
    rtu_peer.set(1, HOLDING, 20, [1001])
    rtu_peer.set(2, HOLDING, 20, [2002])
    slaves = [1 + i % 2 for i in range(24)]
    replies = await asyncio.gather(
        *(modbus_stub.ReadRegisters(read(pty_pair, s, 20)) for s in slaves)
    )
    assert [list(r.values) for r in replies] == [[1001] if s == 1 else [2002] for s in slaves]
    status = (await modbus_stub.GetBusStatus(pb.GetBusStatusRequest(bus_id="rtu"))).status
    assert status.requests == 24
    assert status.errors == 0


async def test_dead_slave_on_the_line(
    modbus_stub: pb_grpc.ModbusServiceStub, rtu_peer: Peer, pty_pair: PtyPair
) -> None:
    rtu_peer.set(1, HOLDING, 0, [5])
    with pytest.raises(grpc.aio.AioRpcError) as silent:
        await modbus_stub.ReadRegisters(read(pty_pair, 7, 0))
    assert silent.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert reason(silent.value) == "MODBUS_TIMEOUT"
    assert list((await modbus_stub.ReadRegisters(read(pty_pair, 1, 0))).values) == [5]


async def test_broadcast_write_reaches_every_slave(
    modbus_stub: pb_grpc.ModbusServiceStub, rtu_peer: Peer, pty_pair: PtyPair
) -> None:
    await modbus_stub.WriteRegisters(write(pty_pair, 0, HOLDING, 30, [4242]))
    # the next request waits out the broadcast's turnaround, so the slaves have acted on it
    assert list((await modbus_stub.ReadRegisters(read(pty_pair, 1, 30))).values) == [4242]
    assert rtu_peer.get(2, HOLDING, 30, 1) == [4242]


async def test_missing_serial_port(modbus_stub: pb_grpc.ModbusServiceStub) -> None:
    request = pb.ReadRegistersRequest(
        bus_id="nowhere",
        bus_settings=serial_settings("/dev/revlink-no-such-tty", timeout=0.1),
        slave_id=1,
        register_type=HOLDING,
        count=1,
    )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await modbus_stub.ReadRegisters(request)
    assert missing.value.code() is grpc.StatusCode.UNAVAILABLE
    assert reason(missing.value) == "BUS_UNAVAILABLE"
    assert "/dev/revlink-no-such-tty" in (missing.value.details() or "")
