"""The bridge's settings: REVLINK_MODBUS_BUSES as JSON, checked before anything opens."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from bridges.modbus.model import BusConfig, Framing, SerialConfig, TcpConfig
from bridges.modbus.settings import ModbusSettings


def test_defaults() -> None:
    settings = ModbusSettings()
    assert settings.modbus_listen == "127.0.0.1:50054"
    assert settings.modbus_metrics_listen == "127.0.0.1:9154"
    assert settings.bus_configs() == []


def test_buses_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "REVLINK_MODBUS_BUSES",
        '[{"bus_id": "plc", "tcp": {"host": "10.0.0.5"}, "retries": 2},'
        ' {"bus_id": "rs485", "serial": {"port": "/dev/ttyRS485", "baud": 19200, "parity": "E",'
        ' "timeout": 0.3, "framing": "ascii", "data_bits": 7}}]',
    )
    assert ModbusSettings().bus_configs() == [
        ("plc", BusConfig(TcpConfig("10.0.0.5", 502, 1.0), retries=2)),
        ("rs485", BusConfig(SerialConfig("/dev/ttyRS485", 19200, "E", 7, 1, 0.3, Framing.ASCII))),
    ]


@pytest.mark.parametrize(
    ("buses", "message"),
    [
        ([{"bus_id": "a"}], "exactly one of serial and tcp"),
        ([{"bus_id": "a", "tcp": {"host": "h"}, "serial": {"port": "p"}}], "exactly one"),
        ([{"bus_id": "a", "tcp": {"host": "h"}}, {"bus_id": "a", "tcp": {"host": "i"}}], "twice"),
        ([{"bus_id": "a", "serial": {"port": "p", "baud": 1234}}], "baud 1234"),
        ([{"bus_id": "a", "tcp": {"host": "h", "speed": 1}}], "Extra inputs"),
        ([{"bus_id": "", "tcp": {"host": "h"}}], "1 to 64 printable"),
    ],
)
def test_bad_buses(buses: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModbusSettings(modbus_buses=buses)  # type: ignore[arg-type]


def test_cli_refuses_bad_buses_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "revlink", "bridge", "modbus", "--buses", '[{"bus_id": "a"}]'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "revlink bridge modbus: invalid settings" in done.stderr
    assert "exactly one of serial and tcp" in done.stderr
    not_json = subprocess.run(
        [sys.executable, "-m", "revlink", "bridge", "modbus", "--buses", "[nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert not_json.returncode == 2
    assert "--buses is not JSON" in not_json.stderr
