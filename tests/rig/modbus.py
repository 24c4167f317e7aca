"""Fixtures for the Modbus bridge: real Modbus peers and a real ``revlink bridge modbus``.

A :class:`Peer` is pymodbus's own server (TCP, or RTU on a serial port) with pymodbus's
datastore, run on an event loop in a thread of its own so that it keeps answering while a
test blocks, and can be stopped and started again on the same address (a bus lost and
recovered). Serial peers sit on one end of a pseudo-terminal pair made by ``socat``; the
bridge opens the other end.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from revlink.error_reasons import REASON_KEY
from revlink.modbus.v1 import modbus_pb2 as pb
from revlink.modbus.v1 import modbus_pb2_grpc as pb_grpc
from tests.rig.bridges import BridgeProcess, free_port, python_module_argv, start_bridge

__all__ = [
    "PEER_SIZE",
    "PEER_SLAVES",
    "ModbusBridge",
    "Peer",
    "PtyPair",
    "modbus_argv",
    "modbus_bridge",
    "modbus_peer",
    "modbus_stub",
    "pty_pair",
    "reason",
    "running_bridge",
    "serial_settings",
    "tcp_settings",
]

PEER_SLAVES = (1, 2)  # any other slave id is silent: a dead slave
PEER_SIZE = 2048  # addresses 0-2047 in each table; beyond: ILLEGAL_DATA_ADDRESS
QUIET = {"REVLINK_MODBUS_METRICS_LISTEN": ""}
T = TypeVar("T")


class _Slaves(SimCore):
    """pymodbus's datastore, silent for slave ids it does not have (ignore_missing_devices)."""

    def _check(self, device_id: int) -> None:
        if device_id not in self.devices:
            raise NoSuchIdException(f"no slave {device_id}")

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        self._check(device_id)
        return await super().async_getValues(device_id, func_code, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        self._check(device_id)
        return await super().async_setValues(device_id, func_code, address, values)


def _datastore(slaves: tuple[int, ...], size: int) -> _Slaves:
    def device(slave_id: int) -> SimDevice:
        return SimDevice(
            id=slave_id,
            simdata=(
                [SimData(0, values=[False] * size, datatype=DataType.BITS)],
                [SimData(0, values=[False] * size, datatype=DataType.BITS)],
                [SimData(0, values=[0] * size, datatype=DataType.REGISTERS)],
                [SimData(0, values=[0] * size, datatype=DataType.REGISTERS)],
            ),
        )

    return _Slaves([device(i) for i in slaves])


class Peer:
    """A pymodbus server on its own loop thread: ``start``, ``stop``, ``set``, ``get``.

    ``port`` is a TCP port on 127.0.0.1, or ``serial`` a serial device (RTU, 9600 8N1 unless
    told). The datastore survives a stop and start, as a device's memory does a cable pull.
    """

    def __init__(
        self,
        port: int = 0,
        serial: str = "",
        baud: int = 9600,
        slaves: tuple[int, ...] = PEER_SLAVES,
        broadcast: bool = False,
    ) -> None:
        self.broadcast = broadcast
        self.port = port
        self.serial = serial
        self.baud = baud
        self.slaves = slaves
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._store = self._run(self._build())
        self._server: ModbusBaseServer | None = None

    async def _build(self) -> _Slaves:
        return _datastore(self.slaves, PEER_SIZE)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    async def _start(self) -> None:
        placeholder = SimDevice(id=0, simdata=[SimData(0, datatype=DataType.REGISTERS)])
        server: ModbusBaseServer
        if self.serial:
            server = ModbusSerialServer(
                placeholder,
                port=self.serial,
                baudrate=self.baud,
                ignore_missing_devices=True,
                broadcast_enable=self.broadcast,
            )
        else:
            server = ModbusTcpServer(
                placeholder, address=("127.0.0.1", self.port), ignore_missing_devices=True
            )
        server.context = self._store
        await server.serve_forever(background=True)
        self._server = server

    async def _stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            stop: Any = server.shutdown
            await stop()

    def start(self) -> None:
        """Serve again; retried briefly, as the address may still be held a moment."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self._run(self._start())
                return
            except RuntimeError:  # pymodbus: "Could not start listen"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self._run(self._stop())

    def set(self, slave: int, table: int, address: int, values: list[int]) -> None:
        cells: list[int] | list[bool] = [bool(v) for v in values] if table in (1, 2) else values
        self._run(self._store.async_setValues(slave, table, address, cells))

    def get(self, slave: int, table: int, address: int, count: int) -> list[int]:
        found = self._run(self._store.async_getValues(slave, table, address, count))
        assert isinstance(found, list)
        return [int(v) for v in found[:count]]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def reason(error: grpc.RpcError) -> str:
    """The ``revlink-error-reason`` a failed call carried ("" when none)."""
    metadata: Any = error.trailing_metadata() or ()
    found = [value for key, value in metadata if key == REASON_KEY]
    return str(found[0]) if found else ""


def _duration(seconds: float) -> Duration:
    value = Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


def tcp_settings(port: int, timeout: float = 0.3, retries: int = 0) -> pb.BusSettings:
    return pb.BusSettings(
        tcp=pb.TcpSettings(host="127.0.0.1", port=port, timeout=_duration(timeout)),
        retries=retries,
    )


def serial_settings(port: str, baud: int = 9600, timeout: float = 0.5) -> pb.BusSettings:
    return pb.BusSettings(
        serial=pb.SerialSettings(
            port=port, baud=baud, parity=pb.PARITY_NONE, timeout=_duration(timeout)
        )
    )


@dataclass
class ModbusBridge:
    process: BridgeProcess
    target: str


@dataclass
class PtyPair:
    """Two connected pseudo-terminals: what one end writes, the other reads."""

    bridge_end: str
    device_end: str


def modbus_argv(target: str, *extra: str) -> list[str]:
    return python_module_argv("revlink", "bridge", "modbus", "--listen", target, *extra)


@pytest.fixture
def modbus_peer() -> Iterator[Peer]:
    """A pymodbus TCP server on 127.0.0.1 with slaves 1 and 2 (slave 9 and others are dead)."""
    peer = Peer(port=free_port())
    peer.start()
    yield peer
    peer.close()


@contextlib.contextmanager
def running_bridge(log_dir: Path, *extra: str, target: str = "") -> Iterator[ModbusBridge]:
    """``revlink bridge modbus`` on ``target`` (a free port when empty) until the block ends."""
    target = target or f"127.0.0.1:{free_port()}"
    with start_bridge(modbus_argv(target, *extra), target, log_dir, env=QUIET) as proc:
        yield ModbusBridge(proc, target)


@pytest.fixture
def modbus_bridge(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ModbusBridge]:
    """``revlink bridge modbus`` as a real process; extra flags via indirect parametrize."""
    extra: tuple[str, ...] = tuple(getattr(request, "param", ()))
    with running_bridge(tmp_path / "logs", *extra) as bridge:
        yield bridge


@pytest.fixture
async def modbus_stub(modbus_bridge: ModbusBridge) -> AsyncIterator[pb_grpc.ModbusServiceStub]:
    async with grpc.aio.insecure_channel(modbus_bridge.target) as channel:
        yield pb_grpc.ModbusServiceStub(channel)


@pytest.fixture
def pty_pair() -> Iterator[PtyPair]:
    """``socat -d -d pty,raw,echo=0 pty,raw,echo=0``: a null-modem cable between two ptys."""
    socat = shutil.which("socat") or "/usr/bin/socat"
    process = subprocess.Popen(
        [socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    ends: list[str] = []
    deadline = time.monotonic() + 10
    while len(ends) < 2 and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        found = re.search(r"PTY is (\S+)", line)
        if found:
            ends.append(found.group(1))
    if len(ends) < 2:
        process.kill()
        pytest.fail(f"socat did not make a pty pair (exit {process.poll()})")
    try:
        yield PtyPair(bridge_end=ends[0], device_end=ends[1])
    finally:
        process.terminate()
        process.wait(5)
        process.stderr.close()
