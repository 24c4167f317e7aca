"""The Modbus rig's fixtures (tests/rig/modbus.py) for the tests in this directory."""

from tests.rig.modbus import modbus_bridge, modbus_peer, modbus_stub, pty_pair

__all__ = ["modbus_bridge", "modbus_peer", "modbus_stub", "pty_pair"]
