"""Named errors of the platform core; the gRPC layer maps each to a status code."""

from __future__ import annotations

from typing import ClassVar

from revlink import error_reasons

POWER_CONTROL_DISABLED = error_reasons.POWER_CONTROL_DISABLED
SHUTDOWN_IMMUNITY = error_reasons.SHUTDOWN_IMMUNITY
NOT_SUPPORTED = error_reasons.NOT_SUPPORTED
COMMAND_FAILED = error_reasons.COMMAND_FAILED

__all__ = [
    "COMMAND_FAILED",
    "NOT_SUPPORTED",
    "POWER_CONTROL_DISABLED",
    "SHUTDOWN_IMMUNITY",
    "CommandFailedError",
    "InvalidValueError",
    "NotSupportedError",
    "NotWritableError",
    "OutputOwnedError",
    "PlatformError",
    "PowerControlDisabledError",
    "ProcessImageError",
    "ShutdownImmunityError",
    "UnknownCounterError",
    "UnknownIOError",
    "UnknownLeaseError",
]


class PlatformError(Exception):
    """Base of every error the platform core reports to callers."""

    reason: ClassVar[str] = ""  # sent to clients beside the status code


class UnknownIOError(PlatformError, LookupError):
    """No IO has that name, or no IO of that kind has that pin."""

    reason = error_reasons.UNKNOWN_IO


class UnknownLeaseError(PlatformError, LookupError):
    """The lease id is unknown or has expired."""

    reason = error_reasons.UNKNOWN_LEASE


class UnknownCounterError(PlatformError, LookupError):
    """The pulse-counter id is unknown."""

    reason = error_reasons.UNKNOWN_COUNTER


class NotWritableError(PlatformError):
    """The IO is an input (or memory) and cannot be written."""

    reason = error_reasons.NOT_WRITABLE


class OutputOwnedError(PlatformError):
    """The output belongs to another lease; the message names its holder and expiry."""

    reason = error_reasons.OUTPUT_OWNED


class InvalidValueError(PlatformError, ValueError):
    """The value has the wrong type or lies outside the IO's range."""

    reason = error_reasons.INVALID_VALUE


class ProcessImageError(PlatformError):
    """The process image or the piCtory config cannot be used; the message says which and why."""


class PowerControlDisabledError(PlatformError):
    """Reboot and shutdown were asked for, but the operator has not enabled power control."""

    reason = POWER_CONTROL_DISABLED


class ShutdownImmunityError(PlatformError):
    """Reboot or shutdown was asked for during a shutdown immunity."""

    reason = SHUTDOWN_IMMUNITY


class NotSupportedError(PlatformError):
    """The hardware has no means to do this (e.g. power on at a set time)."""

    reason = NOT_SUPPORTED


class CommandFailedError(PlatformError):
    """The operator's system command is not configured, could not run, or failed."""

    reason = COMMAND_FAILED
