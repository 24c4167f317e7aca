"""One Modbus bus: a pymodbus async client with the line discipline the field needs.

- One request at a time per bus, first come first served (an :class:`asyncio.Lock`); on a
  serial line each request waits until the line has been quiet for the inter-frame gap
  (3.5 character times at the line's baud rate, at least 1.75 ms), and a broadcast is
  followed by a turnaround delay so the slaves can act on it.
- A slave that does not answer fails its own request after the bus timeout; the lock is
  released between attempts, so the other slaves' requests get their turn between retries,
  and silence never closes a TCP connection (pymodbus would after a few: that would cut off
  every other slave behind a gateway). Half-open TCP connections are found by TCP keepalive.
- A lost transport (TCP closed, serial device gone) is reopened by the bus's supervisor with
  full-jitter exponential backoff; a request arriving meanwhile wakes it and waits up to the
  bus timeout for the connection before failing with BUS_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from bridges.modbus.errors import (
    BusUnavailableError,
    ModbusBridgeError,
    ModbusTimeoutError,
    SlaveExceptionError,
)
from bridges.modbus.model import BusConfig, Framing, ReadSpec, SerialConfig, Table, WriteSpec

__all__ = ["BACKOFF_MAX_S", "BACKOFF_MIN_S", "BROADCAST_TURNAROUND_S", "Bus", "BusStatus"]

log = structlog.get_logger(__name__)

BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 10.0
BROADCAST_TURNAROUND_S = 0.1  # Modbus over serial line V1.02, 2.4.1: 100-200 ms
KEEPALIVE = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}  # ~25 s to notice

Client = AsyncModbusTcpClient | AsyncModbusSerialClient
Call = Callable[[Client], Awaitable[ModbusPDU | None]]


@dataclass(frozen=True, slots=True)
class BusStatus:
    """A snapshot of one bus (see ``BusStatus`` in modbus.proto)."""

    bus_id: str
    config: BusConfig
    configured: bool
    open: bool
    connected: bool
    requests: int
    errors: int
    timeouts: int
    reconnects: int
    last_error: str
    last_error_time: datetime | None


def _client(config: BusConfig, on_connect: Callable[[bool], None]) -> Client:
    t = config.transport
    # retries=0, reconnect_delay=0: the bus retries and reconnects itself, and counts both.
    common: dict[str, Any] = {"timeout": t.timeout_s, "retries": 0, "reconnect_delay": 0}
    if isinstance(t, SerialConfig):
        framer = FramerType.RTU if t.framing is Framing.RTU else FramerType.ASCII
        client: Client = AsyncModbusSerialClient(
            t.port,
            framer=framer,
            baudrate=t.baud,
            bytesize=t.data_bits,
            parity=t.parity,
            stopbits=t.stop_bits,
            trace_connect=on_connect,
            **common,
        )
    else:
        client = AsyncModbusTcpClient(t.host, port=t.port, trace_connect=on_connect, **common)
    client.set_max_no_responses(2**31)
    return client


class Bus:
    """A bus and its supervisor task; :meth:`start` before use, :meth:`close` after."""

    def __init__(self, bus_id: str, config: BusConfig, *, configured: bool = False) -> None:
        self.bus_id = bus_id
        self.config = config
        self.configured = configured
        self._client = _client(config, self._on_connect)
        self._serial = config.transport if isinstance(config.transport, SerialConfig) else None
        self._lock = asyncio.Lock()
        self._up = asyncio.Event()  # the transport is open
        self._down = asyncio.Event()  # the transport was lost (the supervisor reconnects)
        self._wake = asyncio.Event()  # a request wants the bus: try now
        self._closed = False
        self._awaiting = False  # a request waits for its answer
        self._quiet_from = 0.0  # monotonic time from which the line is free
        self._supervisor: asyncio.Task[None] | None = None
        self._ever_up = False
        self._answered = False
        self._silent: set[int] = set()  # slaves whose last request went unanswered
        self.requests = self.errors = self.timeouts = self.reconnects = 0
        self.last_error = ""
        self.last_error_time: datetime | None = None

    def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name=f"modbus-bus-{self.bus_id}")

    async def close(self) -> None:
        """Close the transport; requests waiting for the bus fail with BUS_UNAVAILABLE."""
        self._closed = True
        self._up.set()
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self._fail_pending("bus closed")
        self._client.close()
        log.info("modbus.bus_closed", bus=self.bus_id)

    def status(self) -> BusStatus:
        return BusStatus(
            bus_id=self.bus_id,
            config=self.config,
            configured=self.configured,
            open=self._client.connected and not self._closed,
            connected=self._answered and self._client.connected,
            requests=self.requests,
            errors=self.errors,
            timeouts=self.timeouts,
            reconnects=self.reconnects,
            last_error=self.last_error,
            last_error_time=self.last_error_time,
        )

    # -- connection ---------------------------------------------------------------------

    def _on_connect(self, up: bool) -> None:
        """pymodbus's trace_connect: the transport opened (True) or was lost (False)."""
        if up:
            return
        self._up.clear()
        self._answered = False
        self._fail_pending("connection lost")
        self._down.set()

    def _fail_pending(self, why: str) -> None:
        """End a request waiting for an answer that cannot come (pymodbus would wait it out)."""
        future: asyncio.Future[Any] = self._client.ctx.response_future
        if self._awaiting and not future.done():  # else nobody would retrieve the error
            future.set_exception(ConnectionException(why))

    def _note_error(self, message: str, request: bool = True) -> None:
        self.errors += request
        self.last_error = message
        self.last_error_time = datetime.now(UTC)

    async def _supervise(self) -> None:
        delay = BACKOFF_MIN_S
        while not self._closed:
            if self._client.connected:
                self._down.clear()
                self._up.set()
                await self._down.wait()
                log.warning("modbus.bus_lost", bus=self.bus_id, transport=self.config.describe())
                continue
            self._wake.clear()
            if await self._client.connect() and self._not_self_connected():
                self._keepalive()
                self._up.set()
                if self._ever_up:
                    self.reconnects += 1
                self._ever_up = True
                delay = BACKOFF_MIN_S
                log.info("modbus.bus_connected", bus=self.bus_id, transport=self.config.describe())
                continue
            self._note_error(f"cannot open {self.config.describe()}", request=False)
            # At most one attempt per BACKOFF_MIN_S even when requests keep asking.
            await asyncio.sleep(BACKOFF_MIN_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), random.uniform(0, delay))
                delay = BACKOFF_MIN_S  # someone wants the bus: keep trying quickly
            delay = min(delay * 2, BACKOFF_MAX_S)

    def _not_self_connected(self) -> bool:
        """False (and closed) for a TCP socket connected to itself: on loopback, a connect to
        a port nobody listens on can pick that very port as its source and "succeed" (TCP
        simultaneous open), which would also keep the peer from listening there again."""
        transport = self._client.ctx.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if self._serial is not None or sock is None:
            return True
        with contextlib.suppress(OSError):
            if sock.getsockname() == sock.getpeername():
                self._client.close()
                return False
        return True

    def _keepalive(self) -> None:
        transport = self._client.ctx.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if self._serial is not None or sock is None:
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for name, value in KEEPALIVE.items():
                if hasattr(socket, name):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)

    async def _wait_up(self) -> None:
        if self._client.connected and not self._closed:
            return
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), self.config.timeout_s)
        if self._closed:
            raise BusUnavailableError(f"bus {self.bus_id!r} was closed")
        if not self._client.connected:
            raise BusUnavailableError(
                f"bus {self.bus_id!r} is not connected ({self.last_error or 'connecting'}); "
                "the bridge keeps reconnecting"
            )

    # -- requests ------------------------------------------------------------------------

    async def _quiet_line(self) -> None:
        if self._serial is None:
            return
        wait = self._quiet_from + self._serial.frame_gap_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _attempt(self, slave_id: int, what: str, call: Call, frame_bytes: int) -> Any:
        """One request on the line; raises the ModbusBridgeError it ended with."""
        await self._wait_up()
        async with self._lock:
            if not self._client.connected:
                raise BusUnavailableError(f"bus {self.bus_id!r} lost its connection")
            await self._quiet_line()
            self.requests += 1
            self._awaiting = slave_id != 0
            try:
                pdu = await call(self._client)
            except ModbusIOException as exc:
                self.timeouts += 1
                self._answered = False
                message = f"{what}: no answer within {self.config.timeout_s:g} s"
                if "No response" not in str(exc):
                    message = f"{what}: no valid answer ({exc})"
                self._note_error(message)
                if slave_id not in self._silent:
                    self._silent.add(slave_id)
                    log.warning("modbus.slave_silent", bus=self.bus_id, slave=slave_id)
                raise ModbusTimeoutError(message) from None
            except ConnectionException:
                self._note_error(f"{what}: connection lost")
                raise BusUnavailableError(
                    f"bus {self.bus_id!r} lost its connection during {what}"
                ) from None
            finally:
                self._awaiting = False
                self._quiet_from = time.monotonic()
                if slave_id == 0 and self._serial is not None:  # still on the wire, then acted on
                    sent = frame_bytes * self._serial.char_time_s
                    self._quiet_from += sent + BROADCAST_TURNAROUND_S
        if pdu is None:  # a broadcast: nobody answers
            return None
        self._answered = True
        if slave_id in self._silent:
            self._silent.discard(slave_id)
            log.info("modbus.slave_answering", bus=self.bus_id, slave=slave_id)
        if pdu.isError():
            error = SlaveExceptionError(slave_id, pdu.function_code & 0x7F, pdu.exception_code)
            self._note_error(f"{what}: {error}")
            raise error
        return pdu

    async def _transact(self, slave_id: int, what: str, call: Call, frame_bytes: int = 0) -> Any:
        """The request with the bus's retries (after timeouts and lost connections only)."""
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            try:
                return await self._attempt(slave_id, what, call, frame_bytes)
            except (ModbusTimeoutError, BusUnavailableError):
                if attempt + 1 == attempts or self._closed:
                    raise
            except ModbusBridgeError:
                raise
        raise AssertionError("unreachable")

    async def read(self, spec: ReadSpec) -> list[int]:
        """Raw registers (0-65535) or bits (0/1) of ``spec``."""
        pdu = await self._transact(spec.slave_id, spec.describe(), _read_call(spec))
        values = [int(b) for b in pdu.bits[: spec.count]] if spec.table.is_bits else pdu.registers
        if len(values) != spec.count:
            message = f"{spec.describe()}: the answer carried {len(values)} values"
            self._note_error(message)
            raise ModbusTimeoutError(message)
        return list(values)

    async def write(self, spec: WriteSpec) -> None:
        """Write ``spec``; a broadcast (slave 0) returns once it has been sent."""
        n = len(spec.values)
        frame = 10 + (n + 7) // 8 if spec.table is Table.COIL else 9 + 2 * n
        if spec.broadcast:  # sent once: nobody answers, so nothing says to retry
            await self._attempt(0, spec.describe(), _write_call(spec), frame)
            return
        await self._transact(spec.slave_id, spec.describe(), _write_call(spec), frame)


def _read_call(spec: ReadSpec) -> Call:
    a, n, dev = spec.address, spec.count, spec.slave_id

    async def call(c: Client) -> ModbusPDU:
        if spec.table is Table.COIL:
            return await c.read_coils(a, count=n, device_id=dev)
        if spec.table is Table.DISCRETE_INPUT:
            return await c.read_discrete_inputs(a, count=n, device_id=dev)
        if spec.table is Table.HOLDING_REGISTER:
            return await c.read_holding_registers(a, count=n, device_id=dev)
        return await c.read_input_registers(a, count=n, device_id=dev)

    return call


def _write_call(spec: WriteSpec) -> Call:
    """FC 5 / FC 6 for one value (unless forced), FC 15 / FC 16 for several."""
    a, dev, quiet = spec.address, spec.slave_id, spec.broadcast
    values = list(spec.values)
    single = len(values) == 1 and not spec.force_multiple

    async def call(c: Client) -> ModbusPDU | None:
        if spec.table is Table.COIL:
            bits = [bool(v) for v in values]
            if single:
                return await c.write_coil(a, bits[0], device_id=dev, no_response_expected=quiet)
            return await c.write_coils(a, bits, device_id=dev, no_response_expected=quiet)
        if single:
            return await c.write_register(a, values[0], device_id=dev, no_response_expected=quiet)
        return await c.write_registers(a, values, device_id=dev, no_response_expected=quiet)

    return call
