"""The limits of a request, each at its edge, and the bus settings' checks (no bus involved)."""

from __future__ import annotations

import pytest

from bridges.modbus.codec import ValueFormat, ValueType
from bridges.modbus.errors import InvalidRequestError
from bridges.modbus.model import (
    BusConfig,
    Framing,
    SerialConfig,
    TcpConfig,
    check_bus_config,
    read_spec,
    write_spec,
)


@pytest.mark.parametrize(("register_type", "limit"), [(1, 2000), (2, 2000), (3, 125), (4, 125)])
def test_read_count_edges(register_type: int, limit: int) -> None:
    assert read_spec(1, register_type, 0, limit).count == limit
    with pytest.raises(InvalidRequestError, match=f"takes 1 to {limit}, not {limit + 1}"):
        read_spec(1, register_type, 0, limit + 1)
    with pytest.raises(InvalidRequestError, match="not 0"):
        read_spec(1, register_type, 0, 0)


@pytest.mark.parametrize(("register_type", "limit"), [(1, 1968), (3, 123)])
def test_write_count_edges(register_type: int, limit: int) -> None:
    assert len(write_spec(1, register_type, 0, [1] * limit).values) == limit
    with pytest.raises(InvalidRequestError, match=f"takes 1 to {limit}, not {limit + 1}"):
        write_spec(1, register_type, 0, [1] * (limit + 1))
    with pytest.raises(InvalidRequestError, match="not 0"):
        write_spec(1, register_type, 0, [])


def test_address_edges() -> None:
    assert read_spec(1, 3, 65535, 1).address == 65535
    with pytest.raises(InvalidRequestError, match="end past address 65535"):
        read_spec(1, 3, 65535, 2)
    with pytest.raises(InvalidRequestError, match="start address 65536 must be 0 to 65535"):
        read_spec(1, 3, 65536, 1)
    assert write_spec(1, 3, 65534, [1, 2]).address == 65534
    with pytest.raises(InvalidRequestError, match="end past"):
        write_spec(1, 3, 65535, [1, 2])


def test_slave_id_edges() -> None:
    assert read_spec(247, 3, 0, 1).slave_id == 247
    with pytest.raises(InvalidRequestError, match="slave id 248 must be 1 to 247"):
        read_spec(248, 3, 0, 1)
    with pytest.raises(InvalidRequestError, match="0 is broadcast, for writes only"):
        read_spec(0, 3, 0, 1)
    assert write_spec(0, 3, 0, [1]).broadcast
    with pytest.raises(InvalidRequestError, match="slave id 248 must be 0 to 247"):
        write_spec(248, 3, 0, [1])


def test_register_types_and_values() -> None:
    with pytest.raises(InvalidRequestError, match="register type 5 must be 1"):
        read_spec(1, 5, 0, 1)
    with pytest.raises(InvalidRequestError, match="input registers are read-only"):
        write_spec(1, 4, 0, [1])
    with pytest.raises(InvalidRequestError, match="must be 0 to 1 for coils"):
        write_spec(1, 1, 0, [2])
    with pytest.raises(InvalidRequestError, match="must be 0 to 65535"):
        write_spec(1, 3, 0, [65536])
    with pytest.raises(InvalidRequestError, match="not both"):
        write_spec(1, 3, 0, [1], [1.0], ValueFormat(ValueType.INT16))


def test_typed_requests() -> None:
    fmt = ValueFormat(ValueType.FLOAT32)
    assert write_spec(1, 3, 0, [], [1.0], fmt).values == (0x3F80, 0)
    with pytest.raises(InvalidRequestError, match="coils are bits"):
        read_spec(1, 1, 0, 2, fmt)
    with pytest.raises(InvalidRequestError, match="3 registers do not make whole float32"):
        read_spec(1, 3, 0, 3, fmt)
    # 62 float32 values are 124 registers: more than one write takes
    with pytest.raises(InvalidRequestError, match="takes 1 to 123, not 124"):
        write_spec(1, 3, 0, [], [0.0] * 62, fmt)


def test_bus_settings_checks() -> None:
    check_bus_config(BusConfig(TcpConfig("127.0.0.1")))
    check_bus_config(BusConfig(SerialConfig("/dev/ttyS0", 19200, "E", framing=Framing.RTU)))
    bad = [
        (BusConfig(TcpConfig("")), "needs a host"),
        (BusConfig(TcpConfig("h", 0)), "port 0"),
        (BusConfig(TcpConfig("h", timeout_s=0)), "timeout 0 s"),
        (BusConfig(TcpConfig("h"), retries=11), "retries 11"),
        (BusConfig(SerialConfig("/dev/x", 1234)), "baud 1234"),
        (BusConfig(SerialConfig("/dev/x", data_bits=7)), "rtu needs 8 data bits"),
        (BusConfig(SerialConfig("/dev/x", stop_bits=3)), "stop bits 3"),
        (BusConfig(SerialConfig("")), "needs a port"),
    ]
    for config, message in bad:
        with pytest.raises(InvalidRequestError, match=message):
            check_bus_config(config)


def test_inter_frame_gap() -> None:
    # 9600 8N1: 10 bits a character, 3.5 of them = 3.65 ms; 19200 8E1: 11 bits, 2.0 ms
    assert SerialConfig("p", 9600).frame_gap_s == pytest.approx(3.5 * 10 / 9600)
    assert SerialConfig("p", 19200, "E").frame_gap_s == pytest.approx(3.5 * 11 / 19200)
    # above 19200 baud the spec fixes 1.75 ms
    assert SerialConfig("p", 115200).frame_gap_s == pytest.approx(0.00175)
