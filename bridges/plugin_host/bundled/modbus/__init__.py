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

This module holds the plugin class: the connection and the requests. What it builds on has a
module each, so that each can be read and tested on its own: :mod:`.config` (the schema and
its checks), :mod:`.layout` (reads grouped within the limits), :mod:`.values` (registers to
engineering values and back) and :mod:`.errors`. The names tests and other code import from
here are re-exported, and the ``revlink.plugins`` entry point stays
``bridges.plugin_host.bundled.modbus:ModbusPlugin``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from bridges.plugin_host.bundled.modbus.config import CONFIG_SCHEMA, parse_channels
from bridges.plugin_host.bundled.modbus.errors import EXCEPTION_CODES, ModbusDeviceError
from bridges.plugin_host.bundled.modbus.layout import (
    MAX_BITS_PER_READ,
    MAX_REGISTERS_PER_READ,
    ReadBlock,
    plan_reads,
)
from bridges.plugin_host.bundled.modbus.values import TABLES, RegisterChannel
from bridges.plugin_host.bundled.modbus.values import VALUE_TYPES as VALUE_TYPES
from bridges.plugin_host.sdk import Channel, DevicePlugin, PluginMeta, Value

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


class ModbusPlugin(DevicePlugin):
    """One Modbus slave as a device: its config's channels, read in planned blocks, written
    through the SDK's checked write, every failure a :class:`ModbusDeviceError`."""

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
