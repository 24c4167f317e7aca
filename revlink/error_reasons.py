"""Machine-readable reasons a bridge attaches to an error, beside its status code.

A status code alone cannot tell an app's SDK whether NOT_FOUND means "no such pin" (a bug
in the app) or "no such lease" (the bridge restarted, so take a new one). The bridge sends
the reason in the trailing metadata key :data:`REASON_KEY`; clients that do not know it
simply see the status and the message.
"""

from __future__ import annotations

__all__ = [
    "BUS_SETTINGS_CONFLICT",
    "BUS_UNAVAILABLE",
    "COMMAND_FAILED",
    "INVALID_VALUE",
    "MODBUS_EXCEPTION",
    "MODBUS_EXCEPTION_CODE_KEY",
    "MODBUS_TIMEOUT",
    "NOT_SUPPORTED",
    "NOT_WRITABLE",
    "OUTPUT_OWNED",
    "POWER_CONTROL_DISABLED",
    "REASON_KEY",
    "SERVER_EXISTS",
    "SERVER_START_FAILED",
    "SHUTDOWN_IMMUNITY",
    "UNKNOWN_BUS",
    "UNKNOWN_COUNTER",
    "UNKNOWN_IO",
    "UNKNOWN_LEASE",
    "UNKNOWN_SERVER",
]

REASON_KEY = "revlink-error-reason"

UNKNOWN_IO = "UNKNOWN_IO"
UNKNOWN_LEASE = "UNKNOWN_LEASE"
UNKNOWN_COUNTER = "UNKNOWN_COUNTER"
NOT_WRITABLE = "NOT_WRITABLE"
INVALID_VALUE = "INVALID_VALUE"
# The output belongs to another app's watchdog lease (see the platform bridge's ownership
# rule); the message names the holder and when its lease expires.
OUTPUT_OWNED = "OUTPUT_OWNED"
# The system calls: reboot and shutdown need the operator's consent and no immunity; what the
# hardware cannot do, or a system command that failed.
POWER_CONTROL_DISABLED = "POWER_CONTROL_DISABLED"
SHUTDOWN_IMMUNITY = "SHUTDOWN_IMMUNITY"
NOT_SUPPORTED = "NOT_SUPPORTED"
COMMAND_FAILED = "COMMAND_FAILED"
# The Modbus bridge: the slave answered an exception (its number rides in the trailing
# metadata key MODBUS_EXCEPTION_CODE_KEY), or did not answer in time; the bus is not connected,
# unknown, or open with other settings; server mode's own cases.
MODBUS_EXCEPTION = "MODBUS_EXCEPTION"
MODBUS_EXCEPTION_CODE_KEY = "revlink-modbus-exception-code"
MODBUS_TIMEOUT = "MODBUS_TIMEOUT"
BUS_UNAVAILABLE = "BUS_UNAVAILABLE"
UNKNOWN_BUS = "UNKNOWN_BUS"
BUS_SETTINGS_CONFLICT = "BUS_SETTINGS_CONFLICT"
UNKNOWN_SERVER = "UNKNOWN_SERVER"
SERVER_EXISTS = "SERVER_EXISTS"
SERVER_START_FAILED = "SERVER_START_FAILED"
