"""Machine-readable reasons a bridge attaches to an error, beside its status code.

A status code alone cannot tell an app's SDK whether NOT_FOUND means "no such pin" (a bug
in the app) or "no such lease" (the bridge restarted, so take a new one). The bridge sends
the reason in the trailing metadata key :data:`REASON_KEY`; clients that do not know it
simply see the status and the message.
"""

from __future__ import annotations

__all__ = [
    "COMMAND_FAILED",
    "INVALID_VALUE",
    "NOT_SUPPORTED",
    "NOT_WRITABLE",
    "OUTPUT_OWNED",
    "POWER_CONTROL_DISABLED",
    "REASON_KEY",
    "SHUTDOWN_IMMUNITY",
    "UNKNOWN_COUNTER",
    "UNKNOWN_IO",
    "UNKNOWN_LEASE",
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
