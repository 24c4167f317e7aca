"""Server mode: Modbus servers the bridge serves itself, on pymodbus's server and datastore.

Each server has four tables (coils, discrete inputs, holding and input registers) of ``size``
addresses per slave id, zero at the start; its Modbus clients read and write them, and the
bridge's callers set and get them (any table, discrete and input ones included). A TCP
server answers a slave id it does not have with GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND (11),
as a gateway would; a serial server stays silent, as a missing slave on a shared line is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from bridges.modbus.errors import (
    InvalidRequestError,
    ServerExistsError,
    ServerStartError,
    UnknownServerError,
)
from bridges.modbus.model import (
    MAX_SLAVE_ID,
    BusConfig,
    Framing,
    SerialConfig,
    Table,
    check_bus_config,
    check_bus_id,
)

__all__ = ["DEFAULT_SIZE", "ServerHost", "ServerInfo", "TcpServerConfig", "build_devices"]

log = structlog.get_logger(__name__)

DEFAULT_SIZE = 65536


@dataclass(frozen=True, slots=True)
class TcpServerConfig:
    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """A running server (see ``ServerStatus`` in modbus.proto)."""

    server_id: str
    transport: TcpServerConfig | SerialConfig
    slave_ids: tuple[int, ...]
    size: int
    address: str


class _Devices(SimCore):
    """pymodbus's datastore, saying NoSuchIdException for a slave it does not have.

    (SimCore itself raises KeyError, which the server answers with SLAVE_DEVICE_FAILURE and
    a logged traceback, and which ``ignore_missing_devices`` does not catch.)
    """

    def _check(self, device_id: int) -> None:
        if device_id not in self.devices and 0 not in self.devices:
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


def build_devices(slave_ids: Sequence[int], size: int) -> _Devices:
    """The datastore: four zeroed tables of ``size`` per slave (id 0: every slave alike)."""

    def device(slave_id: int) -> SimDevice:
        bits = [False] * size
        words = [0] * size
        return SimDevice(
            id=slave_id,
            simdata=(
                [SimData(0, values=bits, datatype=DataType.BITS)],
                [SimData(0, values=list(bits), datatype=DataType.BITS)],
                [SimData(0, values=words, datatype=DataType.REGISTERS)],
                [SimData(0, values=list(words), datatype=DataType.REGISTERS)],
            ),
        )

    return _Devices([device(i) for i in (slave_ids or (0,))])


@dataclass
class _Server:
    info: ServerInfo
    server: ModbusBaseServer
    devices: _Devices


class ServerHost:
    """The bridge's running Modbus servers, by id."""

    def __init__(self) -> None:
        self._servers: dict[str, _Server] = {}
        self._starting: set[str] = set()

    def infos(self) -> list[ServerInfo]:
        return [self._servers[k].info for k in sorted(self._servers)]

    def __len__(self) -> int:
        return len(self._servers)

    def _get(self, server_id: str) -> _Server:
        found = self._servers.get(server_id)
        if found is None:
            raise UnknownServerError(f"no Modbus server {server_id!r}")
        return found

    async def create(
        self,
        server_id: str,
        transport: TcpServerConfig | SerialConfig,
        slave_ids: Sequence[int],
        size: int = DEFAULT_SIZE,
    ) -> ServerInfo:
        check_bus_id(server_id)
        if server_id in self._servers or server_id in self._starting:
            raise ServerExistsError(f"Modbus server {server_id!r} is already running")
        ids = tuple(sorted(set(slave_ids)))
        for slave_id in ids:
            if not 1 <= slave_id <= MAX_SLAVE_ID:
                raise InvalidRequestError(f"server slave id {slave_id} must be 1 to {MAX_SLAVE_ID}")
        if not 1 <= size <= DEFAULT_SIZE:
            raise InvalidRequestError(f"server size {size} must be 1 to {DEFAULT_SIZE}")
        if isinstance(transport, SerialConfig):
            check_bus_config(BusConfig(transport))
        elif not 0 <= transport.port <= 65535:
            raise InvalidRequestError(f"server port {transport.port} must be 0 to 65535")
        self._starting.add(server_id)
        try:
            # Building 4 x 65536 cells per slave is CPU work: off the event loop.
            devices = await asyncio.to_thread(build_devices, ids, size)
            server, address = await _start(transport, devices)
        finally:
            self._starting.discard(server_id)
        info = ServerInfo(server_id, transport, ids, size, address)
        self._servers[server_id] = _Server(info, server, devices)
        log.info("modbus.server_started", server=server_id, address=address, slaves=ids or "all")
        return info

    async def close(self, server_id: str) -> None:
        entry = self._get(server_id)
        del self._servers[server_id]
        await _shutdown(entry.server)
        log.info("modbus.server_stopped", server=server_id)

    async def close_all(self) -> None:
        for server_id in list(self._servers):
            with contextlib.suppress(Exception):
                await self.close(server_id)

    def _slave(self, entry: _Server, slave_id: int) -> int:
        if not entry.info.slave_ids:
            return 0
        if slave_id not in entry.info.slave_ids:
            raise InvalidRequestError(
                f"server {entry.info.server_id!r} has no slave {slave_id} "
                f"(it has {', '.join(map(str, entry.info.slave_ids))})"
            )
        return slave_id

    def _check_range(self, entry: _Server, address: int, count: int) -> None:
        size = entry.info.size
        if count < 1 or address < 0 or address + count > size:
            raise InvalidRequestError(
                f"{count} values from address {address} do not fit server "
                f"{entry.info.server_id!r}'s tables (addresses 0 to {size - 1})"
            )

    async def get(
        self, server_id: str, slave_id: int, table: Table, address: int, count: int
    ) -> list[int]:
        entry = self._get(server_id)
        dev = self._slave(entry, slave_id)
        self._check_range(entry, address, count)
        found = await entry.devices.async_getValues(dev, int(table), address, count)
        if isinstance(found, ExcCodes):
            raise InvalidRequestError(f"server datastore refused the read ({found.name})")
        return [int(v) for v in found]

    async def set(
        self, server_id: str, slave_id: int, table: Table, address: int, values: Sequence[int]
    ) -> None:
        entry = self._get(server_id)
        dev = self._slave(entry, slave_id)
        self._check_range(entry, address, len(values))
        cells: list[int] | list[bool] = (
            [bool(v) for v in values] if table.is_bits else [int(v) for v in values]
        )
        refused = await entry.devices.async_setValues(dev, int(table), address, cells)
        if refused is not None:
            raise InvalidRequestError(f"server datastore refused the write ({refused.name})")


async def _shutdown(server: ModbusBaseServer) -> None:
    stop: Any = server.shutdown  # untyped in pymodbus
    await stop()


async def _start(
    transport: TcpServerConfig | SerialConfig, devices: _Devices
) -> tuple[ModbusBaseServer, str]:
    """Start a server on ``devices``; its listening address as "host:port" or the device."""
    placeholder = SimDevice(id=0, simdata=[SimData(0, datatype=DataType.REGISTERS)])
    server: ModbusBaseServer
    if isinstance(transport, TcpServerConfig):
        server = ModbusTcpServer(
            placeholder, address=(transport.host, transport.port), broadcast_enable=True
        )
    else:
        framer = FramerType.RTU if transport.framing is Framing.RTU else FramerType.ASCII
        server = ModbusSerialServer(
            placeholder,
            framer=framer,
            port=transport.port,
            baudrate=transport.baud,
            bytesize=transport.data_bits,
            parity=transport.parity,
            stopbits=transport.stop_bits,
            ignore_missing_devices=True,
            broadcast_enable=True,
        )
    server.context = devices
    try:
        await server.serve_forever(background=True)
    except (RuntimeError, OSError) as exc:
        with contextlib.suppress(Exception):
            await _shutdown(server)
        where = (
            f"{transport.host}:{transport.port}"
            if isinstance(transport, TcpServerConfig)
            else transport.port
        )
        raise ServerStartError(f"cannot serve Modbus on {where}: {exc}") from None
    if isinstance(transport, TcpServerConfig):
        sockets = getattr(server.transport, "sockets", None) or ()
        port = sockets[0].getsockname()[1] if sockets else transport.port
        return server, f"{transport.host}:{port}"
    return server, transport.port
