"""Errors of the plugin host, one type per thing the caller can get wrong."""

from __future__ import annotations

from bridges.plugin_host.sdk import PluginError

__all__ = [
    "InstanceExistsError",
    "InstanceNotFoundError",
    "InvalidInstanceError",
    "PluginHostError",
    "PluginUnavailableError",
]


class PluginHostError(PluginError):
    """Base of the host's own errors."""


class InstanceNotFoundError(PluginHostError, LookupError):
    """No instance has that name."""


class InstanceExistsError(PluginHostError):
    """An instance with that name exists already."""


class InvalidInstanceError(PluginHostError, ValueError):
    """A bad instance name, poll interval or config document."""


class PluginUnavailableError(PluginHostError, LookupError):
    """The plugin id is not installed, or its package failed to load."""
