"""pydoover's formatted elements: a date and time, and references to Doover resources.

Each is a string (or a list of strings) with a JSON Schema ``format`` that tells the Doover form
which picker to show; the value stays the string, as in pydoover.
"""

from __future__ import annotations

import datetime
from typing import Any, Unpack

from apps.sdk.config_base import _Common, _show
from apps.sdk.config_elements import Array, String

__all__ = [
    "Application",
    "ApplicationInstall",
    "DateTime",
    "Device",
    "DevicesConfig",
    "Group",
    "GroupsConfig",
]


class DateTime(String):
    """An ISO 8601 date and time (``format: date-time``), such as ``2024-05-01T06:30:00Z``."""

    def __init__(self, display_name: str, **kwargs: Unpack[_Common]) -> None:
        kwargs["format"] = "date-time"
        super().__init__(display_name, **kwargs)

    def _problems(self, data: Any, path: str) -> list[str]:
        try:
            datetime.datetime.fromisoformat(data)
        except ValueError:
            return [f"{path}: {_show(data)} is not an ISO 8601 date and time"]
        return []


class _Reference(String):
    """A string whose ``format`` names the kind of resource it refers to."""

    _format = ""
    _description = ""
    _pattern: str | None = None

    def __init__(self, display_name: str = "", **kwargs: Unpack[_Common]) -> None:
        kwargs.setdefault("description", self._description)
        kwargs["format"] = self._format
        super().__init__(display_name or type(self).__name__, pattern=self._pattern, **kwargs)


class Application(_Reference):
    """An installed application, chosen in a list (pydoover 0.x: ``format:
    doover-application``, the same as :class:`ApplicationInstall`)."""

    _format, _description = "doover-application", "Application"


class ApplicationInstall(_Reference):
    """An installed application (``format: doover-application``)."""

    _format, _description = "doover-application", "Application Installation"


class Device(_Reference):
    """A device, by its numeric ID (``format: doover-resource-device``)."""

    _format, _description, _pattern = "doover-resource-device", "Device ID", r"\d+"


class Group(_Reference):
    """A group, by its numeric ID (``format: doover-resource-group``)."""

    _format, _description, _pattern = "doover-resource-group", "Group ID", r"\d+"


class _References(Array):
    """A list of references to one kind of resource."""

    _item: type[_Reference] = _Reference
    _description = ""

    def __init__(
        self,
        display_name: str = "",
        *,
        min_items: int | None = None,
        max_items: int | None = None,
        unique_items: bool | None = None,
        **kwargs: Unpack[_Common],
    ) -> None:
        kwargs.setdefault("description", self._description)
        super().__init__(
            display_name or type(self).__name__.removesuffix("Config"),
            element=self._item(),
            min_items=min_items,
            max_items=max_items,
            unique_items=unique_items,
            **kwargs,
        )


class DevicesConfig(_References):
    """A list of devices (pydoover's name)."""

    _item, _description = Device, "List of devices to grant permissions to."


class GroupsConfig(_References):
    """A list of groups (pydoover's name)."""

    _item, _description = Group, "List of groups to grant permissions to."
