"""The pydoover-0.x-style Modbus apps of tests/support/pydoover_modbus_app.py, on a real
Modbus bridge talking to a real pymodbus server, and the interface's calls on their own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.errors import BridgeError, BridgeUnavailableError
from apps.sdk.modbus import ModbusInterface
from apps.sdk.platform import PlatformInterface
from tests.rig.agent import AgentProcess
from tests.rig.bridges import free_port
from tests.rig.modbus import ModbusBridge, Peer, modbus_bridge, modbus_peer
from tests.rig.platform import PlatformBridge, wait_for
from tests.support.pydoover_modbus_app import AsyncMeter, MeterConfig, SyncMeter, SyncMeterConfig

__all__ = ["modbus_bridge", "modbus_peer"]  # the rig's fixtures, used below

HOLDING, INPUT, COILS = 3, 4, 1


def interfaces(
    key: str, platform: PlatformBridge, agent: AgentProcess, bridge: ModbusBridge
) -> Any:
    return {
        "device_agent": DeviceAgentInterface(key, agent.target),
        "platform_iface": PlatformInterface(key, platform.target),
        "healthcheck_port": free_port(),
        "test_mode": True,
    }, bridge.target


def build(
    cls: Any, schema: Any, key: str, config: dict[str, Any], tmp_path: Path, **kw: Any
) -> Any:
    config_fp = tmp_path / f"{key}.json"
    config_fp.write_text(json.dumps(config))
    wiring, target = kw.pop("wiring")
    app = cls(schema, key, config_fp=config_fp, **wiring)
    app.modbus_iface = ModbusInterface(key, target, app._is_async, config=app.config)
    return app


async def test_an_async_app_opens_its_configured_bus_reads_writes_and_subscribes(
    platform_bridge: PlatformBridge,
    agent: AgentProcess,
    modbus_bridge: ModbusBridge,
    modbus_peer: Peer,
    tmp_path: Path,
) -> None:
    modbus_peer.set(1, INPUT, 0, [2301])
    modbus_peer.set(1, HOLDING, 0, [7, 8])
    modbus_peer.set(1, COILS, 0, [1, 0, 1])
    bus = {"bus_type": "tcp", "tcp_uri": f"127.0.0.1:{modbus_peer.port}", "tcp_timeout": 1}
    app = build(
        AsyncMeter,
        MeterConfig(),
        "meter-1",
        {"modbus_config": bus, "meter_id": 1},
        tmp_path,
        wiring=interfaces("meter-1", platform_bridge, agent, modbus_bridge),
    )
    run = asyncio.create_task(app.run())
    try:
        await app.wait_until_ready()
        await app.next()
        assert app.voltage == 2301  # one register: an int, as pydoover answers
        assert app.wrote is True
        assert modbus_peer.get(1, HOLDING, 10, 2) == [42, 43]
        assert app.bus_open is True
        assert app.coils == [1, 0, 1]
        await asyncio.to_thread(wait_for, lambda: [7, 8] in app.polled, 5, "a polled read")
        modbus_peer.set(1, HOLDING, 0, [9, 10])
        await asyncio.to_thread(wait_for, lambda: [9, 10] in app.polled, 5, "the new values")
        # The bus is lost: the callback hears None, then the values again once it is back.
        modbus_peer.stop()
        await asyncio.to_thread(wait_for, lambda: None in app.polled, 10, "a failed poll")
        modbus_peer.start()
        app.polled.clear()
        await asyncio.to_thread(wait_for, lambda: [9, 10] in app.polled, 15, "the bus back")
    finally:
        app.stop()
        assert await run == 0


async def test_a_sync_app_opens_a_bus_itself_and_uses_the_pass_throughs(
    platform_bridge: PlatformBridge,
    agent: AgentProcess,
    modbus_bridge: ModbusBridge,
    modbus_peer: Peer,
    tmp_path: Path,
) -> None:
    modbus_peer.set(1, HOLDING, 0, [11, 12])
    app = build(
        SyncMeter,
        SyncMeterConfig(),
        "meter-2",
        {"meter_uri": f"127.0.0.1:{modbus_peer.port}"},
        tmp_path,
        wiring=interfaces("meter-2", platform_bridge, agent, modbus_bridge),
    )
    run = asyncio.create_task(app.run())
    try:
        await app.wait_until_ready()
        assert app.opened is True
        await app.next()
        assert (app.holding, app.echo) == ([11, 12], 7)
        assert modbus_peer.get(1, HOLDING, 20, 1) == [7]
    finally:
        app.stop()
        assert await run == 0


async def test_typed_values_errors_and_a_bus_the_bridge_forgot(
    modbus_bridge: ModbusBridge, modbus_peer: Peer, tmp_path: Path
) -> None:
    schema = MeterConfig()
    schema.load({"modbus_config": {"bus_type": "tcp", "tcp_uri": f"127.0.0.1:{modbus_peer.port}"}})
    modbus = ModbusInterface("typed", modbus_bridge.target, config=schema)
    try:
        await modbus.setup()
        assert await modbus.write_values_async("default", 1, 100, [21.5, -3.25]) is True
        assert modbus_peer.get(1, HOLDING, 100, 4) == [0x41AC, 0, 0xC050, 0]  # float32, big
        assert await modbus.read_values_async("default", 1, 100, 2) == [21.5, -3.25]
        with pytest.raises(BridgeError, match="ILLEGAL_DATA_ADDRESS") as refused:
            await modbus.read_registers_async("default", 1, 60000, 2, HOLDING)
        assert refused.value.reason == "MODBUS_EXCEPTION"
        # The bridge forgets the bus (closed here): the next read opens it again from config.
        await modbus.close_bus_async("default")
        modbus_peer.set(1, INPUT, 5, [99])
        assert await modbus.read_registers_async("default", 1, 5, 1, INPUT) == 99
        states = await modbus.list_buses_async()
        assert [(s.bus_id, s.open) for s in states] == [("default", True)]
        assert states[0].requests == 1  # counted since the bus was opened again
        assert await modbus.test_comms_async("hello") == "hello"
    finally:
        await modbus.close_async()


async def test_a_bus_that_is_down_is_an_answer_not_a_bridge_to_wait_for(
    modbus_bridge: ModbusBridge, modbus_peer: Peer
) -> None:
    # Retrying for 10 minutes would outlast the test's timeout: the bridge's UNAVAILABLE with a
    # reason (the bus is down) must reach the app at once, unlike a bridge that is restarting.
    modbus = ModbusInterface("down", modbus_bridge.target, retry_for=600)
    try:
        assert await modbus.open_bus_async("tcp", "plc", tcp_uri=f"127.0.0.1:{modbus_peer.port}")
        assert await modbus.read_registers_async("plc", 1, 0, 1, HOLDING) == 0
        modbus_peer.stop()
        with pytest.raises(BridgeUnavailableError) as down:
            await modbus.read_registers_async("plc", 1, 0, 1, HOLDING)
        assert down.value.reason == "BUS_UNAVAILABLE"
    finally:
        await modbus.close_async()
