"""A Modbus device, over TCP or a serial line (RTU, ASCII), its registers mapped to channels.

The config names the connection (``tcp`` or ``serial``), the slave and one entry per
channel::

    {"tcp": {"host": "192.168.1.20", "port": 502, "timeout": 1},
     "slave_id": 1,
     "channels": [
       {"id": "voltage", "name": "Voltage", "unit": "V",
        "register": "input", "address": 0, "type": "float32"},
       {"id": "energy", "unit": "kWh", "register": "input", "address": 8,
        "type": "uint32", "word_order": "little", "scale": 0.001},
       {"id": "limit", "unit": "W", "register": "holding", "address": 100,
        "writable": true, "min": 0, "max": 5000, "safe_value": 1000},
       {"id": "relay", "register": "coil", "address": 0, "writable": true, "safe_value": false}]}

A serial line instead is ``"serial": {"port": "/dev/ttyRS485", "baud": 9600, "parity": "N",
"data_bits": 8, "stop_bits": 1, "timeout": 1, "framing": "rtu"}`` (all but the port are the
defaults; ``"framing": "ascii"`` also takes 7 data bits). Both are spelt as the Modbus bridge's
bus definitions (``REVLINK_MODBUS_BUSES``) are.

Each channel reads a ``register`` table (``coil``, ``discrete_input``, ``holding``,
``input``) at a 0-based ``address``. Coils and discrete inputs are ``bool``; registers hold
``int16``, ``uint16`` (the default), ``int32``, ``uint32`` or ``float32``, a 32-bit value in two
registers, high word first unless ``word_order`` is ``little``. The value is ``raw * scale +
offset``. A ``writable`` channel (coils and holding registers only) reads back what the device
holds; a write inverts the scale and offset, after the value is clamped to the channel's
``min``/``max`` and to what the register can hold, and puts the device's value (at the
register's resolution) in the reply. Its ``safe_value`` is written when the instance stops or
fails.

Reads go out in as few requests as the Modbus limits allow: channels of one table are read
together while the span stays within ``max_registers_per_read`` (125, the protocol's limit) or
``max_bits_per_read`` (2000), reading over the unused addresses between them unless
``max_gap`` caps how many. A device that refuses reads of unmapped addresses wants
``"max_gap": 0``.

A timeout, a lost connection or an exception from the slave raises :class:`ModbusDeviceError`
naming the request, the slave and the reason; the host then marks the instance ``error`` and
reconnects it with backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bridges.plugin_host.sdk import (
    Channel,
    DevicePlugin,
    Direction,
    InvalidConfigError,
    PluginMeta,
    Value,
)

__all__ = [
    "CONFIG_SCHEMA",
    "MAX_BITS_PER_READ",
    "MAX_REGISTERS_PER_READ",
    "ModbusDeviceError",
    "ModbusPlugin",
    "ReadBlock",
    "RegisterChannel",
    "parse_channels",
    "plan_reads",
]

MAX_REGISTERS_PER_READ = 125  # FC 3 and 4: the most registers one request may read
MAX_BITS_PER_READ = 2000  # FC 1 and 2: the most coils or discrete inputs one request may read

TABLES = {
    # register name: (how messages name it, a bit table?, writable?)
    "coil": ("coils", True, True),
    "discrete_input": ("discrete inputs", True, False),
    "holding": ("holding registers", False, True),
    "input": ("input registers", False, False),
}
# value type: (struct code, registers); bool is one bit of a coil or a discrete input.
VALUE_TYPES: dict[str, tuple[str, int]] = {
    "bool": ("?", 0),
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "float32": ("f", 2),
}
_INTEGER_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}
_FLOAT32_MAX = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
EXCEPTION_CODES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "slave device failure",
    5: "acknowledge",
    6: "slave device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

_TIMEOUT = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": 60,
    "default": 1,
    "description": "Seconds to wait for a connection or an answer; keep it below the host's "
    "REVLINK_PLUGIN_CALL_TIMEOUT",
}
_TCP = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "minLength": 1, "description": "Host name or IP address"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 502},
        "timeout": _TIMEOUT,
    },
    "required": ["host"],
    "additionalProperties": False,
}
_SERIAL = {
    "type": "object",
    "properties": {
        "port": {"type": "string", "minLength": 1, "description": "e.g. /dev/ttyRS485"},
        "baud": {"type": "integer", "minimum": 300, "maximum": 4000000, "default": 9600},
        "parity": {"enum": ["N", "E", "O"], "default": "N"},
        "data_bits": {"enum": [7, 8], "default": 8, "description": "8 for RTU; 7 or 8 for ASCII"},
        "stop_bits": {"enum": [1, 2], "default": 1},
        "timeout": _TIMEOUT,
        "framing": {"enum": ["rtu", "ascii"], "default": "rtu"},
    },
    "required": ["port"],
    "additionalProperties": False,
}
_NUMBER = {"type": "number"}
_CHANNEL = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$", "maxLength": 64},
        "name": {"type": "string", "minLength": 1, "maxLength": 300},
        "unit": {"type": "string", "maxLength": 32},
        "register": {"enum": list(TABLES)},
        "address": {"type": "integer", "minimum": 0, "maximum": 65535},
        "type": {"enum": list(VALUE_TYPES)},
        "word_order": {"enum": ["big", "little"]},
        "scale": _NUMBER,
        "offset": _NUMBER,
        "writable": {"type": "boolean", "default": False},
        "min": _NUMBER,
        "max": _NUMBER,
        "safe_value": {"type": ["boolean", "number"]},
    },
    "required": ["id", "register", "address"],
    "additionalProperties": False,
}
CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        # Exactly one of the two: parse_channels refuses neither and both, naming (root).
        "tcp": {**_TCP, "description": "Modbus TCP; give this or serial"},
        "serial": {**_SERIAL, "description": "A serial line (RS-485); give this or tcp"},
        "slave_id": {
            "type": "integer",
            "minimum": 0,
            "maximum": 255,
            "default": 1,
            "description": "Unit id of the device (1-247 on a serial line)",
        },
        "channels": {"type": "array", "items": _CHANNEL, "minItems": 1},
        "max_registers_per_read": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_REGISTERS_PER_READ,
            "default": MAX_REGISTERS_PER_READ,
        },
        "max_bits_per_read": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_BITS_PER_READ,
            "default": MAX_BITS_PER_READ,
        },
        "max_gap": {
            "type": "integer",
            "minimum": 0,
            "description": "Most unused addresses one read may span; default: any",
        },
    },
    "required": ["channels"],
    "additionalProperties": False,
}


class ModbusDeviceError(Exception):
    """The device did not answer, the connection failed, or the slave sent an exception."""


@dataclass(frozen=True, slots=True)
class RegisterChannel:
    """One channel as the config maps it onto the device."""

    id: str
    name: str
    unit: str
    table: str
    address: int
    value_type: str
    word_order: str
    scale: float
    offset: float
    writable: bool
    min: float | None  # engineering units; a writable one within what the register holds
    max: float | None
    safe_value: Value | None

    @property
    def width(self) -> int:
        """Addresses the value takes: registers, or one bit."""
        return max(1, VALUE_TYPES[self.value_type][1])

    @property
    def is_bool(self) -> bool:
        return self.value_type == "bool"

    def describe(self) -> str:
        """The addresses, as a message names them: ``holding registers 100-101``."""
        end = self.address + self.width - 1
        span = f"{self.address}" if end == self.address else f"{self.address}-{end}"
        return f"{TABLES[self.table][0]} {span}"

    # -- raw values and engineering values ---------------------------------------------------

    def engineering(self, raw: int | float) -> int | float:
        """``raw * scale + offset``; integers stay integers while scale and offset allow."""
        value = raw * self.scale + self.offset
        if isinstance(value, float):
            # 12 significant digits hold every 32-bit register exactly; they shed the binary
            # noise of the scaling (2301 * 0.1 is 230.10000000000002), and + 0.0 a -0.0.
            value = float(f"{value:.12g}") + 0.0
        return value

    def decode(self, words: Sequence[int] | Sequence[bool]) -> Value:
        """The engineering value of this channel's registers (or bit)."""
        if self.is_bool:
            return bool(words[0])
        code, count = VALUE_TYPES[self.value_type]
        registers = list(words[:count])
        if self.word_order == "little":
            registers.reverse()
        packed = b"".join(int(r).to_bytes(2, "big") for r in registers)
        raw: int | float = struct.unpack(f">{code}", packed)[0]
        if self.value_type == "float32":
            raw = _shortest_float32(float(raw), packed)
        return self.engineering(raw)

    def to_raw(self, value: Value) -> int | float | bool:
        """The raw value that stands for ``value``, at the register's resolution."""
        if self.is_bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError(f"channel {self.id} takes true or false, not {value!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"channel {self.id} takes a number, not {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"channel {self.id}: {value} is not a finite number")
        raw = _inverse(value, self.scale, self.offset)
        if self.value_type == "float32":
            if abs(raw) > _FLOAT32_MAX:
                raise ValueError(f"channel {self.id}: {value} is beyond what a float32 holds")
            return raw
        low, high = _INTEGER_RANGES[self.value_type]
        return max(low, min(high, round(raw)))

    def encode(self, raw: int | float | bool) -> list[int]:
        """The registers that hold ``raw`` (not for bool channels: a coil takes the bool)."""
        code, _ = VALUE_TYPES[self.value_type]
        packed = struct.pack(f">{code}", raw)
        registers = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
        if self.word_order == "little":
            registers.reverse()
        return registers

    def quantize(self, value: Value) -> Value:
        """What the device will hold after writing ``value``, in engineering units."""
        raw = self.to_raw(value)
        if isinstance(raw, bool):
            return raw
        if self.value_type == "float32":
            return self.decode(self.encode(raw))
        return self.engineering(raw)

    def channel(self) -> Channel:
        direction = Direction.BIDIRECTIONAL if self.writable else Direction.INPUT
        return Channel(
            self.id, self.name, direction, self.unit, self.min, self.max, self.safe_value
        )


def _shortest_float32(value: float, packed: bytes) -> float:
    """The shortest decimal that is the same float32: 230.1, not 230.10000610351562."""
    if not math.isfinite(value):
        return value
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == packed:
            return candidate
    return value


def _inverse(value: float, scale: float, offset: float) -> float:
    """``(value - offset) / scale``, snapped to an integer when only float noise separates them."""
    if scale == 1 and offset == 0:
        return value
    raw = (value - offset) / scale
    nearest = round(raw)
    if abs(raw - nearest) <= 1e-9 * max(1.0, abs(raw)):
        return float(nearest)
    return raw


# -- the config ------------------------------------------------------------------------------


def _bounds(
    index: int, item: Mapping[str, Any], spec: RegisterChannel
) -> tuple[float | None, float | None]:
    """A writable integer channel's min/max: the user's, within what the register holds, and
    rounded inwards to the register's resolution, so that every value in range is writable."""
    low: float | None = item.get("min")
    high: float | None = item.get("max")
    if spec.is_bool or spec.value_type == "float32" or not spec.writable:
        return low, high
    raw_low, raw_high = _INTEGER_RANGES[spec.value_type]
    # A negative scale turns the order round: the highest value comes from the lowest raw.
    raw_for_low, raw_for_high = (low, high) if spec.scale > 0 else (high, low)
    if raw_for_low is not None:
        raw_low = max(raw_low, math.ceil(_inverse(raw_for_low, spec.scale, spec.offset)))
    if raw_for_high is not None:
        raw_high = min(raw_high, math.floor(_inverse(raw_for_high, spec.scale, spec.offset)))
    if raw_low > raw_high:
        given = ", ".join(f"{k} {item[k]}" for k in ("min", "max") if k in item)
        raise InvalidConfigError(
            f"channels.{index}.min", f"a {spec.value_type} register holds no value within {given}"
        )
    ends = sorted((spec.engineering(raw_low), spec.engineering(raw_high)))
    return ends[0], ends[1]


def _channel(index: int, item: Mapping[str, Any]) -> RegisterChannel:
    where = f"channels.{index}"
    table = item["register"]
    label, bit_table, writable_table = TABLES[table]
    value_type = item.get("type", "bool" if bit_table else "uint16")
    if bit_table != (value_type == "bool"):
        wanted = "bool" if bit_table else "int16, uint16, int32, uint32 or float32"
        raise InvalidConfigError(f"{where}.type", f"{label} hold {wanted}, not {value_type}")
    writable = bool(item.get("writable", False))
    if writable and not writable_table:
        raise InvalidConfigError(
            f"{where}.writable", f"{label} are read-only; coils and holding registers are writable"
        )
    words = VALUE_TYPES[value_type][1]
    if item["address"] + max(1, words) - 1 > 65535:
        raise InvalidConfigError(f"{where}.address", f"a {value_type} does not fit at the end")
    if value_type == "bool":
        for key in ("scale", "offset", "word_order", "min", "max"):
            if key in item:
                raise InvalidConfigError(f"{where}.{key}", "does not apply to a bool channel")
    elif words == 1 and "word_order" in item:
        raise InvalidConfigError(f"{where}.word_order", "applies to 32-bit types only")
    scale = item.get("scale", 1)
    if scale == 0:
        raise InvalidConfigError(f"{where}.scale", "must not be 0")
    if "min" in item and "max" in item and item["min"] > item["max"]:
        raise InvalidConfigError(f"{where}.max", f"{item['max']} is below min {item['min']}")
    spec = RegisterChannel(
        id=item["id"],
        name=str(item.get("name") or item["id"].replace("_", " ").capitalize()),
        unit=item.get("unit", ""),
        table=table,
        address=item["address"],
        value_type=value_type,
        word_order=item.get("word_order", "big"),
        scale=scale,
        offset=item.get("offset", 0),
        writable=writable,
        min=None,
        max=None,
        safe_value=None,
    )
    low, high = _bounds(index, item, spec)
    safe = item.get("safe_value")
    if safe is not None:
        if not writable:
            raise InvalidConfigError(f"{where}.safe_value", "only a writable channel has one")
        if spec.is_bool != isinstance(safe, bool):
            kind = "true or false" if spec.is_bool else "a number"
            raise InvalidConfigError(f"{where}.safe_value", f"must be {kind}, not {safe!r}")
        if (low is not None and safe < low) or (high is not None and safe > high):
            raise InvalidConfigError(f"{where}.safe_value", f"{safe} is not within [{low}, {high}]")
    return dataclasses.replace(spec, min=low, max=high, safe_value=safe)


def parse_channels(config: Mapping[str, Any]) -> list[RegisterChannel]:
    """The channels of a schema-valid config, after the checks a schema cannot make."""
    specs: list[RegisterChannel] = []
    seen: set[str] = set()
    for index, item in enumerate(config["channels"]):
        if item["id"] in seen:
            raise InvalidConfigError(f"channels.{index}.id", f"{item['id']!r} is declared twice")
        seen.add(item["id"])
        specs.append(_channel(index, item))
    if config.get("max_registers_per_read", 2) < 2 and any(s.width == 2 for s in specs):
        raise InvalidConfigError(
            "max_registers_per_read", "a 32-bit channel needs at least 2 registers per read"
        )
    if ("tcp" in config) == ("serial" in config):
        raise InvalidConfigError("(root)", "needs exactly one of tcp and serial")
    slave = config.get("slave_id", 1)
    if "serial" in config:
        serial = config["serial"]
        if serial.get("framing", "rtu") == "rtu" and serial.get("data_bits", 8) != 8:
            raise InvalidConfigError("serial.data_bits", "RTU framing takes 8 data bits")
        if not 1 <= slave <= 247:
            raise InvalidConfigError("slave_id", f"{slave} is not 1-247, as on a serial line")
    return specs


# -- reads -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` addresses of ``table`` from ``start``, and what they hold."""

    table: str
    start: int
    count: int
    channels: tuple[RegisterChannel, ...]

    def describe(self) -> str:
        end = self.start + self.count - 1
        span = f"{self.start}" if end == self.start else f"{self.start}-{end}"
        return f"{TABLES[self.table][0]} {span}"

    @property
    def spans_gaps(self) -> bool:
        covered = {a for c in self.channels for a in range(c.address, c.address + c.width)}
        return len(covered) < self.count


def plan_reads(
    specs: Sequence[RegisterChannel],
    max_registers: int = MAX_REGISTERS_PER_READ,
    max_bits: int = MAX_BITS_PER_READ,
    max_gap: int | None = None,
) -> list[ReadBlock]:
    """The fewest requests that read every channel, each within the limit of its table.

    Per table, channels sorted by address join the current request while the span stays
    within the limit (and the unused addresses before them within ``max_gap``); greedy is
    optimal here, as in any covering of sorted intervals by windows of a fixed length.
    """
    blocks: list[ReadBlock] = []
    for table in TABLES:
        limit = max_bits if TABLES[table][1] else max_registers
        members: list[RegisterChannel] = []
        start = end = 0  # the current request's span, end exclusive
        for spec in sorted(
            (s for s in specs if s.table == table), key=lambda s: (s.address, s.width)
        ):
            spec_end = spec.address + spec.width
            fits = max(end, spec_end) - start <= limit
            close = max_gap is None or spec.address - end <= max_gap
            if members and fits and close:
                members.append(spec)
                end = max(end, spec_end)
                continue
            if members:
                blocks.append(ReadBlock(table, start, end - start, tuple(members)))
            members, start, end = [spec], spec.address, spec_end
        if members:
            blocks.append(ReadBlock(table, start, end - start, tuple(members)))
    return blocks


# -- the plugin ------------------------------------------------------------------------------


class ModbusPlugin(DevicePlugin):
    meta = PluginMeta(
        "modbus",
        "Modbus device",
        "1.0.0",
        "Coils and registers of a Modbus TCP or RTU device as channels, scaled, with writes",
    )
    config_schema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._specs = {spec.id: spec for spec in parse_channels(self.config)}
        self._channels = [spec.channel() for spec in self._specs.values()]
        self._blocks = plan_reads(
            list(self._specs.values()),
            self.config.get("max_registers_per_read", MAX_REGISTERS_PER_READ),
            self.config.get("max_bits_per_read", MAX_BITS_PER_READ),
            self.config.get("max_gap"),
        )
        self._tcp: dict[str, Any] | None = self.config.get("tcp")
        self._serial: dict[str, Any] = self.config.get("serial") or {}
        settings = self._tcp if self._tcp is not None else self._serial
        self._slave: int = self.config.get("slave_id", 1)
        self._timeout: float = settings.get("timeout", 1)
        if self._tcp is not None:
            self._where = f"{self._tcp['host']}:{self._tcp.get('port', 502)}"
        else:
            self._where = str(self._serial["port"])
        self._client: Any = None

    @property
    def read_blocks(self) -> list[ReadBlock]:
        """The requests one poll makes."""
        return list(self._blocks)

    def channels(self) -> list[Channel]:
        return list(self._channels)

    # -- connection --------------------------------------------------------------------------

    def _make_client(self) -> Any:
        # Imported here: listing plugins must not need pymodbus (a cloud-only install).
        from pymodbus import FramerType
        from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

        # pymodbus logs every timeout and failed connect itself, at ERROR with frame dumps;
        # the plugin raises them as its error and the host logs that. Quiet it as the Modbus
        # bridge does, unless someone chose its level (to debug a device, say).
        pymodbus_log = logging.getLogger("pymodbus")
        if pymodbus_log.level == logging.NOTSET:
            pymodbus_log.setLevel(logging.CRITICAL)
        # No retries and no automatic reconnect: a failure is reported, and the host
        # reconnects a fresh plugin with backoff.
        if self._tcp is not None:
            return AsyncModbusTcpClient(
                self._tcp["host"],
                port=self._tcp.get("port", 502),
                timeout=self._timeout,
                retries=0,
                reconnect_delay=0,
            )
        s = self._serial
        return AsyncModbusSerialClient(
            s["port"],
            framer=FramerType.ASCII if s.get("framing") == "ascii" else FramerType.RTU,
            baudrate=s.get("baud", 9600),
            bytesize=s.get("data_bits", 8),
            parity=s.get("parity", "N"),
            stopbits=s.get("stop_bits", 1),
            timeout=self._timeout,
            retries=0,
            reconnect_delay=0,
        )

    async def connect(self) -> None:
        await self.disconnect()  # a reconnect starts from a fresh client
        client = self._make_client()
        try:
            connected = await client.connect()
        except BaseException:
            client.close()
            raise
        if not connected:
            client.close()
            reason = await self._why_not_connected()
            raise ModbusDeviceError(f"cannot connect to {self._where}: {reason}")
        self._client = client

    async def _why_not_connected(self) -> str:
        """pymodbus only logs why a connect failed: try once more to say it in the error."""
        try:
            if self._tcp is not None:
                host, port = self._tcp["host"], self._tcp.get("port", 502)
                async with asyncio.timeout(self._timeout):
                    _, writer = await asyncio.open_connection(host, port)
                writer.close()
            else:
                import serial  # type: ignore[import-untyped]

                serial.serial_for_url(self._serial["port"]).close()
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
            return str(exc) or type(exc).__name__
        return "the connection failed (it works now: retrying)"

    async def disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def safe_disconnect(self) -> None:
        """Every safe value is tried, even after one fails; then the connection closes."""
        failures: list[Exception] = []
        try:
            if self._client is not None:  # never connected: nothing was driven, nothing to undo
                for channel in self.channels():
                    if channel.writable and channel.safe_value is not None:
                        try:
                            await self.write_output(channel.id, channel.safe_value)
                        except Exception as exc:  # the others still get theirs
                            failures.append(exc)
        finally:
            await self.disconnect()
        if failures:
            raise failures[0]

    # -- requests ----------------------------------------------------------------------------

    async def _request(self, what: str, call: str, *args: Any, **kwargs: Any) -> Any:
        """One request; any failure becomes a ModbusDeviceError that says what and why."""
        from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

        prefix = f"{what} of slave {self._slave} at {self._where}"
        client = self._client
        if client is None:
            raise ModbusDeviceError(f"{prefix}: not connected")
        if not client.connected:
            raise ModbusDeviceError(f"{prefix}: the connection was lost")
        try:
            response = await getattr(client, call)(*args, device_id=self._slave, **kwargs)
        except ModbusIOException as exc:
            if not client.connected:  # the peer closed the connection while we waited
                raise ModbusDeviceError(f"{prefix}: the connection was lost") from None
            if "No response" in str(exc):
                raise ModbusDeviceError(
                    f"{prefix}: no response within {self._timeout:g} s"
                ) from None
            raise ModbusDeviceError(f"{prefix}: {exc}") from None
        except ConnectionException:
            raise ModbusDeviceError(f"{prefix}: the connection was lost") from None
        except (ModbusException, OSError) as exc:
            raise ModbusDeviceError(f"{prefix}: {exc}") from None
        if response.isError():
            code = int(getattr(response, "exception_code", 0))
            meaning = EXCEPTION_CODES.get(code, "unknown exception")
            raise ModbusDeviceError(f"{prefix}: slave exception {code} ({meaning})")
        return response

    async def _read_block(self, block: ReadBlock) -> list[int] | list[bool]:
        call = {
            "coil": "read_coils",
            "discrete_input": "read_discrete_inputs",
            "holding": "read_holding_registers",
            "input": "read_input_registers",
        }[block.table]
        try:
            response = await self._request(
                f"reading {block.describe()}", call, block.start, count=block.count
            )
        except ModbusDeviceError as exc:
            if block.spans_gaps and "illegal data address" in str(exc):
                raise ModbusDeviceError(
                    f"{exc}; the read spans unused addresses: set max_gap to 0 if the device "
                    "refuses those"
                ) from None
            raise
        values: list[int] | list[bool] = (
            list(response.bits[: block.count])
            if TABLES[block.table][1]
            else list(response.registers)
        )
        if len(values) < block.count:
            raise ModbusDeviceError(
                f"reading {block.describe()} of slave {self._slave} at {self._where}: "
                f"{len(values)} values in the answer, not {block.count}"
            )
        return values

    async def read_inputs(self) -> dict[str, Value]:
        readings: dict[str, Value] = {}
        for block in self._blocks:
            values = await self._read_block(block)
            for spec in block.channels:
                at = spec.address - block.start
                readings[spec.id] = spec.decode(values[at : at + spec.width])
        return readings

    async def write(self, channel_id: str, value: Value) -> tuple[Value, bool]:
        """The SDK's checked, clamped write; the reply holds the value at the register's
        resolution, which is what the device now holds (12.34 on a 0.1 register is 12.3)."""
        written, clamped = await super().write(channel_id, value)
        return self._specs[channel_id].quantize(written), clamped

    async def write_output(self, channel_id: str, value: Value) -> None:
        spec = self._specs[channel_id]
        raw = spec.to_raw(value)
        what = f"writing {spec.describe()}"
        if spec.is_bool:
            await self._request(what, "write_coil", spec.address, bool(raw))
            return
        registers = spec.encode(raw)
        if len(registers) == 1:
            await self._request(what, "write_register", spec.address, registers[0])
        else:
            await self._request(what, "write_registers", spec.address, registers)
