"""pydoover 0.x's ``Element`` (the base of every UI element) and the stand-alone elements:
``ConnectionInfo``, ``AlertStream`` and ``Multiplot``.

``to_dict()`` is the element as the dashboard reads it from the ``ui_state`` channel, with
pydoover's camelCase keys; keys whose value is ``None`` are left out, because ``None`` means
"remove" in the merge patch a diff becomes. ``get_diff(other)`` is what changed against the
dict the channel holds: only those keys are published.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from apps.sdk.ui.payload import json_safe

if TYPE_CHECKING:
    from apps.sdk.ui.submodule import Container

__all__ = ["AlertStream", "ConnectionInfo", "ConnectionType", "Element", "Multiplot"]

log = structlog.get_logger(__name__)


def epoch_seconds(value: Any) -> Any:
    """A datetime as whole Unix seconds (what the dashboard reads), anything else as it is."""
    return int(value.timestamp()) if isinstance(value, datetime) else value


class Element:
    """A UI element. Unknown keyword arguments become attributes, as in pydoover (0.x apps
    pass extras such as ``display_str``); they are not published."""

    type = "uiElement"
    parent: Container | None = None

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        is_available: bool | None = None,
        help_str: str | None = None,
        verbose_str: str | None = None,
        show_activity: bool | None = True,
        form: str | None = None,
        graphic: str | None = None,
        layout: str | None = None,
        component_url: str | None = None,
        position: int | None = None,
        conditions: dict[str, Any] | None = None,
        hidden: bool = False,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.display_name = display_name or kwargs.get("display_str")  # 0.x's older name
        self.is_available = is_available
        self.help_str = help_str
        self.verbose_str = verbose_str
        self.show_activity = show_activity
        self.form = form
        self.graphic = graphic
        self.layout = layout
        self.component_url = component_url
        # None: the container numbers its children in the order they are added (from 101).
        self.position = position
        self.conditions = conditions
        self.hidden = hidden
        for key, value in kwargs.items():
            setattr(self, key, value)
        # Keys every diff carries even when unchanged (pydoover's publish_fields).
        self._retain_fields: list[str] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def to_dict(self) -> dict[str, Any]:
        result = {
            "name": self.name,
            "type": self.type,
            "displayString": self.display_name,
            "isAvailable": self.is_available,
            "helpString": self.help_str,
            "verboseString": self.verbose_str,
            "showActivity": self.show_activity,
            "form": self.form,
            "graphic": self.graphic,
            "layout": self.layout,
            "componentUrl": self.component_url,
            "position": self.position,
            "conditions": self.conditions,
            "hidden": self.hidden,
        }
        return {key: value for key, value in result.items() if value is not None}

    def get_diff(
        self,
        other: dict[str, Any],
        remove: bool = True,
        retain_fields: list[str] | None = None,
    ) -> dict[str, Any] | None:
        """The keys of :meth:`to_dict` that differ from ``other`` (and the retained ones);
        with ``remove``, keys only ``other`` has map to ``None``. None when nothing changed."""
        this = json_safe(self.to_dict())  # as published: a NaN compares as the null sent
        retained = set(retain_fields or []) | set(self._retain_fields)
        result = {k: v for k, v in this.items() if other.get(k) != v or k in retained}
        if remove:
            result.update({k: None for k in other if k not in this and k not in retained})
        return result or None

    def recv_ui_state_update(self, state: dict[str, Any]) -> None:
        """Called with this element's dict when the ``ui_state`` aggregate arrives; a
        variable without a value takes the one the channel kept."""


class ConnectionType(enum.Enum):
    constant = "constant"
    periodic = "periodic"
    other = "other"


class ConnectionInfo(Element):
    """How the device connects, so the dashboard knows when to call it offline.

    ``connection_period``, ``next_connection`` and ``allowed_misses`` only make sense for a
    periodic connection; giving them otherwise is refused (RuntimeError), as in pydoover.
    """

    type = "uiConnectionInfo"

    def __init__(
        self,
        name: str = "connectionInfo",
        connection_type: ConnectionType = ConnectionType.constant,
        connection_period: int | None = None,
        next_connection: int | None = None,
        offline_after: int | None = None,
        allowed_misses: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, None, **kwargs)
        self.connection_type = connection_type
        self.connection_period = connection_period
        self.next_connection = next_connection
        self.offline_after = offline_after
        self.allowed_misses = allowed_misses
        periodic_only = (connection_period, next_connection, allowed_misses)
        if connection_type is not ConnectionType.periodic and any(
            v is not None for v in periodic_only
        ):
            raise RuntimeError(
                "connection_type must be periodic to set connection_period, next_connection "
                "or allowed_misses"
            )

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "connectionType": self.connection_type.value,
        }
        optional = {
            "connectionPeriod": self.connection_period,
            "nextConnection": self.next_connection,
            "offlineAfter": self.offline_after,
            "allowedMisses": self.allowed_misses,
        }
        result.update({k: v for k, v in optional.items() if v is not None})
        return result


class AlertStream(Element):
    """The dashboard's notifications banner; it shows what apps publish to the
    ``significantEvent`` channel. Keep the default name: the site listens by it."""

    type = "uiAlertStream"

    def __init__(
        self, name: str = "significantEvent", display_name: str = "placeholder", **kwargs: Any
    ) -> None:
        super().__init__(name, display_name, is_available=None, help_str=None, **kwargs)


class Multiplot(Element):
    """Several series (field names) on one plot."""

    type = "uiMultiPlot"

    def __init__(
        self,
        name: str,
        display_name: str,
        series: list[str],
        series_colours: list[str] | None = None,
        series_active: list[bool] | None = None,
        earliest_data_time: datetime | int | None = None,
        title: str | None = None,
        shared_axis: list[bool] | None = None,
        step_labels: list[str] | None = None,
        step_padding: list[int] | None = None,
        default_zoom: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, display_name, **kwargs)
        self.series = series
        self.series_colours = series_colours
        self.series_active = series_active
        self.earliest_data_time = earliest_data_time
        self.title = title
        self.shared_axis = shared_axis
        self.step_labels = step_labels
        self.step_padding = step_padding
        self.default_zoom = default_zoom

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["series"] = self.series
        result["colours"] = self.series_colours  # always present in pydoover, even as None
        optional = {
            "activeSeries": self.series_active,
            "sharedAxis": self.shared_axis,
            "stepLabels": self.step_labels,
            "stepPadding": self.step_padding,
            "defaultZoom": self.default_zoom,
            "title": self.title,
            "earliestDataDate": epoch_seconds(self.earliest_data_time),
        }
        result.update({k: v for k, v in optional.items() if v is not None})
        return result
