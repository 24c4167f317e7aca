"""The error the ``modbus`` plugin raises for a device that fails, and the words it uses.

Kept apart from the plugin class so that everything that reads or writes the device names a
failure the same way, and so that callers can catch :class:`ModbusDeviceError` without the
rest of the plugin.
"""

from __future__ import annotations

__all__ = ["EXCEPTION_CODES", "ModbusDeviceError"]

# What a slave's exception code means, as the plugin's messages spell it (Modbus application
# protocol V1.1b3, section 7). Lower case and spelt out, unlike the Modbus bridge's
# EXCEPTION_NAMES, and without 7: changing either would change the plugin's messages.
EXCEPTION_CODES: dict[int, str] = {
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


class ModbusDeviceError(Exception):
    """The device did not answer, the connection failed, or the slave sent an exception."""
