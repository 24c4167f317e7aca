"""Named errors of the platform core; the gRPC layer maps each to a status code."""

from __future__ import annotations

from typing import ClassVar

from revlink import error_reasons

__all__ = [
    "InvalidValueError",
    "NotWritableError",
    "PlatformError",
    "ProcessImageError",
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


class InvalidValueError(PlatformError, ValueError):
    """The value has the wrong type or lies outside the IO's range."""

    reason = error_reasons.INVALID_VALUE


class ProcessImageError(PlatformError):
    """The process image or the piCtory config cannot be used; the message says which and why."""
