"""Server mode: the bridge serves Modbus itself; a plain pymodbus client reads and writes it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

from revlink.modbus.v1 import modbus_pb2 as pb
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc
from tests.rig.modbus import PtyPair, reason

COIL, DISCRETE, HOLDING, INPUT = 1, 2, 3, 4


@pytest.fixture
async def plain_client() -> AsyncIterator[list[AsyncModbusTcpClient]]:
    """Plain pymodbus clients a test opens (closed afterwards)."""
    clients: list[AsyncModbusTcpClient] = []
    yield clients
    for client in clients:
        client.close()


async def create(
    stub: pb_grpc.ModbusServiceStub, server_id: str, *slaves: int, size: int = 0
) -> pb.ServerStatus:
    request = pb.CreateServerRequest(
        server_id=server_id,
        tcp=pb.TcpServerSettings(host="127.0.0.1", port=0),
        slave_ids=list(slaves),
        size=size,
    )
    return (await stub.CreateServer(request)).status


async def test_tcp_server_read_by_a_plain_client(
    modbus_stub: pb_grpc.ModbusServiceStub, plain_client: list[AsyncModbusTcpClient]
) -> None:
    status = await create(modbus_stub, "panel", 1, 2)
    host, port = status.address.rsplit(":", 1)
    assert int(port) > 0
    assert list(status.slave_ids) == [1, 2]
    assert status.size == 65536

    await modbus_stub.SetServerRegisters(
        pb.SetServerRegistersRequest(
            server_id="panel", slave_id=1, register_type=INPUT, start_address=3, values=[9, 8]
        )
    )
    await modbus_stub.SetServerRegisters(
        pb.SetServerRegistersRequest(
            server_id="panel",
            slave_id=2,
            register_type=HOLDING,
            start_address=65534,
            typed_values=[1.0],
            format=pb.ValueFormat(type=pb.VALUE_TYPE_FLOAT32),
        )
    )
    await modbus_stub.SetServerRegisters(
        pb.SetServerRegistersRequest(
            server_id="panel", slave_id=1, register_type=DISCRETE, start_address=0, values=[1, 0, 1]
        )
    )

    client = AsyncModbusTcpClient(host, port=int(port), timeout=2, retries=0)
    plain_client.append(client)
    assert await client.connect()
    assert (await client.read_input_registers(3, count=2, device_id=1)).registers == [9, 8]
    assert (await client.read_holding_registers(65534, count=2, device_id=2)).registers == [
        0x3F80,
        0,
    ]
    assert (await client.read_discrete_inputs(0, count=3, device_id=1)).bits[:3] == [
        True,
        False,
        True,
    ]
    assert not (await client.write_registers(10, [7, 6, 5], device_id=1)).isError()
    assert not (await client.write_coil(4, True, device_id=2)).isError()
    unknown = await client.read_holding_registers(0, count=1, device_id=3)
    assert unknown.isError()
    assert unknown.exception_code == 11  # GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND

    got = await modbus_stub.GetServerRegisters(
        pb.GetServerRegistersRequest(
            server_id="panel", slave_id=1, register_type=HOLDING, start_address=10, count=3
        )
    )
    assert list(got.values) == [7, 6, 5]
    coil = await modbus_stub.GetServerRegisters(
        pb.GetServerRegistersRequest(
            server_id="panel", slave_id=2, register_type=COIL, start_address=4, count=1
        )
    )
    assert list(coil.values) == [1]

    listed = (await modbus_stub.ListServers(pb.ListServersRequest())).servers
    assert [s.server_id for s in listed] == ["panel"]
    await modbus_stub.CloseServer(pb.CloseServerRequest(server_id="panel"))
    assert not (await modbus_stub.ListServers(pb.ListServersRequest())).servers


async def test_server_errors(modbus_stub: pb_grpc.ModbusServiceStub) -> None:
    status = await create(modbus_stub, "small", size=16)
    assert not status.slave_ids  # every slave id, one register set

    async def refused(call: object) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call  # type: ignore[misc]
        return failed.value

    again = await refused(create(modbus_stub, "small"))
    assert again.code() is grpc.StatusCode.ALREADY_EXISTS
    assert reason(again) == "SERVER_EXISTS"
    beyond = await refused(
        modbus_stub.GetServerRegisters(
            pb.GetServerRegistersRequest(
                server_id="small", register_type=HOLDING, start_address=15, count=2
            )
        )
    )
    assert beyond.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "addresses 0 to 15" in (beyond.details() or "")
    unknown = await refused(modbus_stub.CloseServer(pb.CloseServerRequest(server_id="nope")))
    assert unknown.code() is grpc.StatusCode.NOT_FOUND
    assert reason(unknown) == "UNKNOWN_SERVER"

    taken_port = int(status.address.rsplit(":", 1)[1])
    taken = await refused(
        modbus_stub.CreateServer(
            pb.CreateServerRequest(server_id="clash", tcp=pb.TcpServerSettings(port=taken_port))
        )
    )
    assert taken.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert reason(taken) == "SERVER_START_FAILED"
    bad_slave = await refused(create(modbus_stub, "bad", 248))
    assert bad_slave.code() is grpc.StatusCode.INVALID_ARGUMENT
    await modbus_stub.CloseServer(pb.CloseServerRequest(server_id="small"))


async def test_rtu_server_on_a_serial_line(
    modbus_stub: pb_grpc.ModbusServiceStub, pty_pair: PtyPair
) -> None:
    request = pb.CreateServerRequest(
        server_id="rtu-panel",
        serial=pb.SerialSettings(port=pty_pair.device_end, baud=19200),
        slave_ids=[5],
        size=100,
    )
    status = (await modbus_stub.CreateServer(request)).status
    assert status.address == pty_pair.device_end
    await modbus_stub.SetServerRegisters(
        pb.SetServerRegistersRequest(
            server_id="rtu-panel", slave_id=5, register_type=HOLDING, start_address=1, values=[321]
        )
    )
    client = AsyncModbusSerialClient(pty_pair.bridge_end, baudrate=19200, timeout=1, retries=0)
    try:
        assert await client.connect()
        assert (await client.read_holding_registers(1, count=1, device_id=5)).registers == [321]
    finally:
        client.close()
    await modbus_stub.CloseServer(pb.CloseServerRequest(server_id="rtu-panel"))
