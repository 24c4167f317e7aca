"""pydoover's Modbus bus settings as config elements: put ``ModbusConfig()`` (one bus) or
``ManyModbusConfig()`` (a list) in an app's schema as ``modbus_config``, and
``ModbusInterface.setup()`` opens those buses on the Modbus bridge before ``setup()`` runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from apps.sdk.config import Object
from apps.sdk.config_elements import Array, Enum, Integer, Number, String

__all__ = ["PARITY", "BusDefinition", "ManyModbusConfig", "ModbusConfig", "ModbusType"]


class ModbusType(enum.StrEnum):
    SERIAL = "serial"
    TCP = "tcp"


# pydoover's parity choices, as the serial line takes them.
PARITY = {"None": "N", "Even": "E", "Odd": "O"}


@dataclass(frozen=True, slots=True)
class BusDefinition:
    """One bus as the bridge opens it (the config's values, normalised)."""

    bus_id: str
    bus_type: ModbusType
    serial_port: str
    serial_baud: int
    serial_method: str
    serial_bits: int
    serial_parity: str  # N, E or O
    serial_stop: int
    serial_timeout: float
    tcp_uri: str
    tcp_timeout: float


class ModbusConfig(Object):
    """One Modbus bus: serial (RS-485) or TCP, with pydoover's keys (from the display names:
    ``bus_type``, ``name``, ``serial_port``, ``serial_baud``, ``serial_method``,
    ``serial_data_bits``, ``serial_parity``, ``serial_stop_bits``, ``serial_timeout``,
    ``tcp_uri``, ``tcp_timeout``) and defaults."""

    type = Enum("Bus Type", choices=["serial", "tcp"], default="serial")
    # Key "name", as pydoover's; the attribute differs because an element's own ``name`` is
    # its key.
    bus_name = String("Name", default="default", name="name")
    serial_port = String("Serial Port", default="/dev/ttyAMA0")
    serial_baud = Integer("Serial Baud", default=9600, minimum=1)
    serial_method = Enum("Serial Method", choices=["rtu", "ascii", "socket", "tls"], default="rtu")
    serial_bits = Integer("Serial Data Bits", default=8, minimum=5, maximum=8)
    serial_parity = Enum("Serial Parity", choices=list(PARITY), default="None")
    serial_stop = Integer("Serial Stop Bits", default=1, minimum=1, maximum=2)
    serial_timeout = Number("Serial Timeout", default=0.3, exclusive_minimum=0)
    tcp_uri = String("TCP URI", default="127.0.0.1:5000")
    tcp_timeout = Number("TCP Timeout", default=2.0, exclusive_minimum=0)

    def __init__(self, display_name: str = "Modbus Config", **kwargs: Any) -> None:
        super().__init__(display_name, **kwargs)

    def definition(self, values: dict[str, Any] | None = None) -> BusDefinition:
        """The bus these settings (or ``values``, one item of a ManyModbusConfig) describe."""
        v = values if values is not None else self.value
        return BusDefinition(
            bus_id=str(v["name"]),
            bus_type=ModbusType(v["bus_type"]),
            serial_port=str(v["serial_port"]),
            serial_baud=int(v["serial_baud"]),
            serial_method=str(v["serial_method"]),
            serial_bits=int(v["serial_data_bits"]),
            serial_parity=PARITY[v["serial_parity"]],
            serial_stop=int(v["serial_stop_bits"]),
            serial_timeout=float(v["serial_timeout"]),
            tcp_uri=str(v["tcp_uri"]),
            tcp_timeout=float(v["tcp_timeout"]),
        )


class ManyModbusConfig(Array):
    """Several buses, each a :class:`ModbusConfig`."""

    def __init__(self, display_name: str = "Modbus Config", **kwargs: Any) -> None:
        super().__init__(display_name, element=ModbusConfig("Modbus Instance Config"), **kwargs)

    def definitions(self) -> list[BusDefinition]:
        element = self.element
        assert isinstance(element, ModbusConfig)
        return [element.definition(item) for item in self.value or []]
