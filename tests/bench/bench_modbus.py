"""Modbus bridge speed: a register read through the bridge against the same read made by a
pymodbus client talking to the same server directly.

Run: ``make bench`` or ``python -m tests.bench.bench_modbus [--calls N]``.

Both run in this process against one pymodbus TCP server (on its own thread, loopback): the
bridge path is gRPC ReadRegisters (sync client, one reused channel) -> bridge -> pymodbus
async client -> server; the direct path is pymodbus's sync ModbusTcpClient -> server.
Reported: p50/p99 latency and calls per second of each, and the bridge/direct ratio.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import grpc
from pymodbus.client import ModbusTcpClient

from revlink.modbus.v1 import modbus_pb2 as pb
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc
from tests.bench.bench_platform import measure, report
from tests.rig.bridges import free_port
from tests.rig.modbus import Peer, running_bridge, tcp_settings

HOLDING = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    peer = Peer(port=free_port())
    peer.start()
    peer.set(1, HOLDING, 0, list(range(125)))
    direct = ModbusTcpClient("127.0.0.1", port=peer.port, timeout=2, retries=0)
    direct.connect()
    try:
        with (
            tempfile.TemporaryDirectory() as scratch,
            running_bridge(Path(scratch) / "logs") as bridge,
            grpc.insecure_channel(bridge.target) as channel,
        ):
            stub = pb_grpc.ModbusServiceStub(channel)
            settings = tcp_settings(peer.port, timeout=2.0)
            stub.OpenBus(pb.OpenBusRequest(bus_id="bench", settings=settings))
            print(
                f"modbus bridge benchmark: {args.calls} calls each, loopback TCP, sync clients, "
                "same pymodbus server"
            )
            for count in (1, 10, 125):
                request = pb.ReadRegistersRequest(
                    bus_id="bench", slave_id=1, register_type=HOLDING, start_address=0, count=count
                )
                reply = stub.ReadRegisters(request)
                assert list(reply.values) == list(range(count))

                def via_bridge(request: pb.ReadRegistersRequest = request) -> object:
                    return stub.ReadRegisters(request)

                def via_pymodbus(count: int = count) -> object:
                    return direct.read_holding_registers(0, count=count, device_id=1)

                report(
                    f"read {count} holding register{'s' if count > 1 else ''}",
                    measure(via_bridge, args.calls),
                    measure(via_pymodbus, args.calls),
                )
            typed = pb.ReadRegistersRequest(
                bus_id="bench",
                slave_id=1,
                register_type=HOLDING,
                count=124,
                format=pb.ValueFormat(type=pb.VALUE_TYPE_FLOAT32),
            )
            report(
                "read 62 float32 (decoded)",
                measure(lambda: stub.ReadRegisters(typed), args.calls),
                measure(
                    lambda: direct.read_holding_registers(0, count=124, device_id=1), args.calls
                ),
            )
    finally:
        direct.close()
        peer.close()


if __name__ == "__main__":
    main()
