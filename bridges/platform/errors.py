"""Named errors of the platform core; the gRPC layer maps each to a status code."""

from __future__ import annotations

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


class UnknownIOError(PlatformError, LookupError):
    """No IO has that name, or no IO of that kind has that pin."""


class UnknownLeaseError(PlatformError, LookupError):
    """The lease id is unknown or has expired."""


class UnknownCounterError(PlatformError, LookupError):
    """The pulse-counter id is unknown."""


class NotWritableError(PlatformError):
    """The IO is an input (or memory) and cannot be written."""


class InvalidValueError(PlatformError, ValueError):
    """The value has the wrong type or lies outside the IO's range."""


class ProcessImageError(PlatformError):
    """The process image or the piCtory config cannot be used; the message says which and why."""
