"""What the Modbus core works with: bus settings, register ranges, writes, and their limits.

Every limit of the Modbus application protocol is checked here, before anything reaches a
bus, so a bad request gets a clear :class:`InvalidRequestError` naming the limit.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridges.modbus.codec import CodecError, ValueFormat, encode
from bridges.modbus.errors import InvalidRequestError

__all__ = [
    "MAX_ADDRESS",
    "MAX_READ_BITS",
    "MAX_READ_REGISTERS",
    "MAX_RETRIES",
    "MAX_SLAVE_ID",
    "MAX_WRITE_COILS",
    "MAX_WRITE_REGISTERS",
    "BusConfig",
    "Framing",
    "ReadSpec",
    "SerialConfig",
    "Table",
    "TcpConfig",
    "WriteSpec",
    "check_bus_config",
    "check_bus_id",
    "raw_values",
    "read_spec",
    "table_of",
    "write_spec",
]

# The protocol's own limits (Modbus application protocol V1.1b3, 6.1-6.12): what fits a
# 253-byte PDU.
MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
MAX_WRITE_REGISTERS = 123
MAX_WRITE_COILS = 1968
MAX_ADDRESS = 65535
MAX_SLAVE_ID = 247  # 248-255 are reserved; 0 is broadcast
MAX_RETRIES = 10
MIN_TIMEOUT_S = 0.01
MAX_TIMEOUT_S = 60.0
MAX_BUS_ID_LENGTH = 64
BAUD_RATES: tuple[int, ...] = (300, 600, 1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400)
BAUD_RATES += (57600, 76800, 115200, 230400, 460800, 921600)


class Table(enum.IntEnum):
    """A Modbus data table; the values are pydoover's register_type (the read function code)."""

    COIL = 1
    DISCRETE_INPUT = 2
    HOLDING_REGISTER = 3
    INPUT_REGISTER = 4

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def writable(self) -> bool:
        return self in (Table.COIL, Table.HOLDING_REGISTER)

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ") + "s"


class Framing(enum.Enum):
    RTU = "rtu"
    ASCII = "ascii"


@dataclass(frozen=True, slots=True)
class SerialConfig:
    """A serial line: port, baud, parity (N/E/O), data and stop bits, answer timeout."""

    port: str
    baud: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    data_bits: int = 8
    stop_bits: int = 1
    timeout_s: float = 1.0
    framing: Framing = Framing.RTU

    @property
    def char_time_s(self) -> float:
        """Time one character takes on the line: start + data + parity + stop bits."""
        bits = 1 + self.data_bits + (0 if self.parity == "N" else 1) + self.stop_bits
        return bits / self.baud

    @property
    def frame_gap_s(self) -> float:
        """The silence that separates two frames: 3.5 character times, at least 1.75 ms."""
        return max(3.5 * self.char_time_s, 0.00175)


@dataclass(frozen=True, slots=True)
class TcpConfig:
    """A Modbus TCP peer."""

    host: str
    port: int = 502
    timeout_s: float = 1.0


@dataclass(frozen=True, slots=True)
class BusConfig:
    """How to reach a bus, and how often to try again after a timeout or a lost connection."""

    transport: SerialConfig | TcpConfig
    retries: int = 0

    @property
    def timeout_s(self) -> float:
        return self.transport.timeout_s

    def describe(self) -> str:
        t = self.transport
        if isinstance(t, TcpConfig):
            return f"tcp {t.host}:{t.port}"
        framing = t.framing.value
        return f"{framing} {t.port} {t.baud} {t.data_bits}{t.parity}{t.stop_bits}"


def check_bus_id(bus_id: str) -> str:
    if not bus_id or len(bus_id) > MAX_BUS_ID_LENGTH or not bus_id.isprintable():
        raise InvalidRequestError(
            f"bus id {bus_id!r} must be 1 to {MAX_BUS_ID_LENGTH} printable characters"
        )
    return bus_id


def check_bus_config(config: BusConfig) -> BusConfig:
    """``config`` when every setting is usable; raises InvalidRequestError naming the first not."""
    t = config.transport
    if not 0 <= config.retries <= MAX_RETRIES:
        raise InvalidRequestError(f"retries {config.retries} must be 0 to {MAX_RETRIES}")
    if not MIN_TIMEOUT_S <= t.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidRequestError(
            f"timeout {t.timeout_s} s must be {MIN_TIMEOUT_S} to {MAX_TIMEOUT_S} s"
        )
    if isinstance(t, TcpConfig):
        if not t.host:
            raise InvalidRequestError("tcp bus needs a host")
        if not 1 <= t.port <= 65535:
            raise InvalidRequestError(f"tcp port {t.port} must be 1 to 65535")
        return config
    if not t.port:
        raise InvalidRequestError("serial bus needs a port (e.g. /dev/ttyUSB0)")
    if t.baud not in BAUD_RATES:
        raise InvalidRequestError(f"baud {t.baud} is not one of {', '.join(map(str, BAUD_RATES))}")
    if t.parity not in ("N", "E", "O"):
        raise InvalidRequestError(f"parity {t.parity!r} must be N, E or O")
    needed = (8,) if t.framing is Framing.RTU else (7, 8)
    if t.data_bits not in needed:
        allowed = " or ".join(map(str, needed))
        raise InvalidRequestError(f"{t.framing.value} needs {allowed} data bits, not {t.data_bits}")
    if t.stop_bits not in (1, 2):
        raise InvalidRequestError(f"stop bits {t.stop_bits} must be 1 or 2")
    return config


@dataclass(frozen=True, slots=True)
class ReadSpec:
    """A validated read: ``count`` registers or bits of one table of one slave."""

    slave_id: int
    table: Table
    address: int
    count: int
    format: ValueFormat | None = None

    def describe(self) -> str:
        end = self.address + self.count - 1
        return f"slave {self.slave_id} {self.table.label} {self.address}-{end}"


@dataclass(frozen=True, slots=True)
class WriteSpec:
    """A validated write of raw register or coil values."""

    slave_id: int
    table: Table
    address: int
    values: tuple[int, ...]
    force_multiple: bool = False

    @property
    def broadcast(self) -> bool:
        return self.slave_id == 0

    def describe(self) -> str:
        end = self.address + len(self.values) - 1
        return f"slave {self.slave_id} {self.table.label} {self.address}-{end}"


def table_of(register_type: int) -> Table:
    """The table pydoover's register_type (1-4) names; anything else is INVALID_VALUE."""
    try:
        return Table(register_type)
    except ValueError:
        raise InvalidRequestError(
            f"register type {register_type} must be 1 (coils), 2 (discrete inputs), "
            "3 (holding registers) or 4 (input registers)"
        ) from None


def _check_range(address: int, count: int, table: Table, limit: int, what: str) -> None:
    if not 0 <= address <= MAX_ADDRESS:
        raise InvalidRequestError(f"start address {address} must be 0 to {MAX_ADDRESS}")
    if not 1 <= count <= limit:
        raise InvalidRequestError(f"a {what} of {table.label} takes 1 to {limit}, not {count}")
    if address + count - 1 > MAX_ADDRESS:
        raise InvalidRequestError(
            f"{count} {table.label} from address {address} end past address {MAX_ADDRESS}"
        )


def _check_slave(slave_id: int, broadcast_ok: bool) -> None:
    low = 0 if broadcast_ok else 1
    if not low <= slave_id <= MAX_SLAVE_ID:
        hint = "" if broadcast_ok else " (0 is broadcast, for writes only)"
        raise InvalidRequestError(f"slave id {slave_id} must be {low} to {MAX_SLAVE_ID}{hint}")


def read_spec(
    slave_id: int,
    register_type: int,
    address: int,
    count: int,
    fmt: ValueFormat | None = None,
    *,
    max_count: int | None = None,
) -> ReadSpec:
    """A checked read; ``max_count`` overrides the protocol limit (a server's own tables)."""
    table = table_of(register_type)
    if max_count is None:
        _check_slave(slave_id, broadcast_ok=False)
    limit = max_count or (MAX_READ_BITS if table.is_bits else MAX_READ_REGISTERS)
    _check_range(address, count, table, limit, "read")
    if fmt is not None:
        if table.is_bits:
            raise InvalidRequestError(f"{table.label} are bits; typed values need registers")
        if count % fmt.type.registers:
            raise InvalidRequestError(
                f"{count} registers do not make whole {fmt.type.name.lower()} values "
                f"({fmt.type.registers} registers each)"
            )
    return ReadSpec(slave_id, table, address, count, fmt)


def raw_values(
    table: Table, values: Sequence[int], typed: Sequence[float], fmt: ValueFormat | None
) -> tuple[int, ...]:
    """The raw words or bits to write: ``values`` as they are, or ``typed`` encoded."""
    if values and typed:
        raise InvalidRequestError("give raw values or typed values, not both")
    if typed:
        if fmt is None:
            raise InvalidRequestError("typed values need a value type")
        if table.is_bits:
            raise InvalidRequestError(f"{table.label} are bits; typed values need registers")
        try:
            return tuple(encode(typed, fmt))
        except CodecError as exc:
            raise InvalidRequestError(str(exc)) from None
    high = 1 if table.is_bits else 0xFFFF
    for index, value in enumerate(values):
        if not 0 <= value <= high:
            raise InvalidRequestError(
                f"value {index} ({value}) must be 0 to {high} for {table.label}"
            )
    return tuple(values)


def write_spec(
    slave_id: int,
    register_type: int,
    address: int,
    values: Sequence[int],
    typed: Sequence[float] = (),
    fmt: ValueFormat | None = None,
    *,
    force_multiple: bool = False,
) -> WriteSpec:
    """A checked write to a slave: coils or holding registers, within the protocol limits."""
    table = table_of(register_type)
    if not table.writable:
        raise InvalidRequestError(f"{table.label} are read-only; write coils or holding registers")
    _check_slave(slave_id, broadcast_ok=True)
    words = raw_values(table, values, typed, fmt)
    limit = MAX_WRITE_COILS if table.is_bits else MAX_WRITE_REGISTERS
    _check_range(address, len(words), table, limit, "write")
    return WriteSpec(slave_id, table, address, words, force_multiple)
