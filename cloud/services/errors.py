"""Named errors of the cloud's services; the HTTP and WebSocket layers map them."""

from __future__ import annotations

__all__ = [
    "ConfigInvalidError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "ServiceError",
]


class ServiceError(Exception):
    """Base of errors a caller can act on; the message is safe to show."""


class NotFoundError(ServiceError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class ConflictError(ServiceError):
    """The change clashes with what exists (a duplicate name, for example)."""


class InvalidInputError(ServiceError, ValueError):
    """The input breaks a rule the service enforces; the message names the rule."""


class ConfigInvalidError(InvalidInputError):
    """An app config that breaks the app's schema; ``problems`` name each field (a path)."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        first_path, first_message = problems[0]
        where = ".".join(str(part) for part in first_path) or "the config"
        super().__init__(f"{where}: {first_message}")
