"""Settings of the Modbus bridge (``REVLINK_*`` variables; flags override them).

``REVLINK_MODBUS_BUSES`` is a JSON list of bus definitions, opened when the bridge starts::

    [{"bus_id": "plc", "tcp": {"host": "10.0.0.5", "port": 502, "timeout": 1.0}},
     {"bus_id": "rs485", "serial": {"port": "/dev/ttyRS485", "baud": 19200, "parity": "E"},
      "retries": 1}]
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridges.kit import BridgeSettings, MetricsListen
from bridges.modbus.model import (
    BusConfig,
    Framing,
    SerialConfig,
    TcpConfig,
    check_bus_config,
    check_bus_id,
)

__all__ = ["BusDefinition", "ModbusSettings", "SerialDefinition", "TcpDefinition"]


class TcpDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = 502
    timeout: float = Field(default=1.0, description="Seconds to wait for an answer.")


class SerialDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: str
    baud: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    data_bits: int = 8
    stop_bits: int = 1
    timeout: float = Field(default=1.0, description="Seconds to wait for an answer.")
    framing: Literal["rtu", "ascii"] = "rtu"


class BusDefinition(BaseModel):
    """One bus of ``REVLINK_MODBUS_BUSES``: an id, serial or tcp settings, retries."""

    model_config = ConfigDict(extra="forbid")

    bus_id: str
    serial: SerialDefinition | None = None
    tcp: TcpDefinition | None = None
    retries: int = 0

    @model_validator(mode="after")
    def _usable(self) -> BusDefinition:
        if (self.serial is None) == (self.tcp is None):
            raise ValueError(f"bus {self.bus_id!r} needs exactly one of serial and tcp")
        check_bus_id(self.bus_id)
        check_bus_config(self.config())
        return self

    def config(self) -> BusConfig:
        transport: SerialConfig | TcpConfig
        if self.tcp is not None:
            transport = TcpConfig(self.tcp.host, self.tcp.port, self.tcp.timeout)
        else:
            assert self.serial is not None
            s = self.serial
            transport = SerialConfig(
                s.port, s.baud, s.parity, s.data_bits, s.stop_bits, s.timeout, Framing(s.framing)
            )
        return BusConfig(transport, self.retries)


class ModbusSettings(BridgeSettings):
    modbus_listen: str = Field(
        default="127.0.0.1:50054", description="HOST:PORT or unix:PATH to serve gRPC on."
    )
    modbus_metrics_listen: MetricsListen = Field(
        default="127.0.0.1:9154",
        description="HOST:PORT of the Prometheus endpoint (/metrics); empty disables it.",
    )
    modbus_buses: list[BusDefinition] = Field(
        default_factory=list, description="Buses opened at start (JSON list of definitions)."
    )

    @field_validator("modbus_buses")
    @classmethod
    def _unique(cls, buses: list[BusDefinition]) -> list[BusDefinition]:
        seen: set[str] = set()
        for bus in buses:
            if bus.bus_id in seen:
                raise ValueError(f"bus id {bus.bus_id!r} is defined twice")
            seen.add(bus.bus_id)
        return buses

    def bus_configs(self) -> list[tuple[str, BusConfig]]:
        return [(bus.bus_id, bus.config()) for bus in self.modbus_buses]
