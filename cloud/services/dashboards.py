"""Custom dashboards and their widgets: who sees and changes which, and what a widget may be.

Follows WebMACS's dashboards: a dashboard is its owner's, and everyone's when ``is_global``;
its owner or an admin changes it. revlink's differences, each what a user expects:

* Admins see every dashboard (WebMACS lets them change any dashboard it does not show them).
* A dashboard the caller may not see answers "not found", the same as one that does not
  exist, so private dashboards' ids tell nothing.
* A widget's placement is checked against the 12-column grid (``x + w <= 12``, no negative
  ``x``/``y``) and its ``config_json`` must be a JSON object within :data:`CONFIG_MAX_BYTES`
  whose known keys have the right types; its sensor must exist when it is set (WebMACS
  answers 404 for a missing one; here it is bad input, 422, naming the field).
* A dashboard holds at most :data:`MAX_WIDGETS` widgets.

Problems with a field raise :class:`ConfigInvalidError` naming it, which the HTTP layer
answers in FastAPI's 422 shape. The caller commits; nothing here knows about HTTP.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from cloud.models import Dashboard, DashboardWidget, Role, Sensor, User, WidgetType
from cloud.models.dashboard import GRID_COLUMNS, GRID_ROWS, SPAN_MAX
from cloud.services.errors import ConfigInvalidError, ConflictError, NotFoundError
from cloud.services.paging import MAX_PAGE_SIZE, page_of_scalars
from cloud.services.sensors import sensors_by_public_id
from revlink.channels import InvalidPayloadError, parse_json_object

__all__ = [
    "CONFIG_MAX_BYTES",
    "MAX_PAGE_SIZE",
    "MAX_WIDGETS",
    "WINDOW_MINUTES_MAX",
    "Placement",
    "add_widget",
    "can_edit",
    "check_config",
    "check_placement",
    "create_dashboard",
    "delete_dashboard",
    "delete_widget",
    "get_dashboard",
    "list_dashboards",
    "sensors_of",
    "update_dashboard",
    "update_widget",
    "widgets_of",
]

MAX_WIDGETS = 50  # per dashboard: a screenful many times over, and a bounded page to render
CONFIG_MAX_BYTES = 4096  # of config_json, UTF-8
WINDOW_MINUTES_MAX = 24 * 60  # a line chart's ``minutes``

Problems = list[tuple[tuple[str | int, ...], str]]


def _clean_text(value: str, field: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise ConfigInvalidError([((field,), "must not be blank")])
    return cleaned


# --- who may see and change what ---------------------------------------------------------


def _sees_all(user: User) -> bool:
    return user.role_enum.at_least(Role.ADMIN)


def _visible_to(user: User) -> ColumnElement[bool]:
    return or_(Dashboard.user_public_id == user.public_id, Dashboard.is_global.is_(True))


def can_edit(dashboard: Dashboard, user: User) -> bool:
    """Its owner (an operator or more) or an admin changes it; viewers never do."""
    if _sees_all(user):
        return True
    return user.role_enum.at_least(Role.OPERATOR) and dashboard.user_public_id == user.public_id


async def list_dashboards(
    session: AsyncSession, user: User, *, page: int, page_size: int
) -> tuple[Sequence[Dashboard], int]:
    """The caller's and the global dashboards (an admin's: all), newest first, one page."""
    query = select(Dashboard)
    if not _sees_all(user):
        query = query.where(_visible_to(user))
    query = query.order_by(Dashboard.created_on.desc(), Dashboard.id.desc())
    return await page_of_scalars(session, query, page, page_size)


async def get_dashboard(
    session: AsyncSession, public_id: uuid.UUID, user: User, *, for_update: bool = False
) -> Dashboard:
    """The dashboard, if the caller may see it; ``for_update`` locks its row (PostgreSQL), so
    concurrent widget additions count the widgets one after the other."""
    query = select(Dashboard).where(Dashboard.public_id == public_id)
    if not _sees_all(user):
        query = query.where(_visible_to(user))
    if for_update:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFoundError(f"no dashboard {public_id}")
    return found


async def widgets_of(
    session: AsyncSession, dashboards: Sequence[Dashboard]
) -> dict[int, list[DashboardWidget]]:
    """Each dashboard's widgets, ordered as a phone shows them: by row, then column."""
    result: dict[int, list[DashboardWidget]] = {d.id: [] for d in dashboards}
    if not result:
        return result
    found = await session.scalars(
        select(DashboardWidget)
        .where(DashboardWidget.dashboard_id.in_(result))
        .order_by(DashboardWidget.y, DashboardWidget.x, DashboardWidget.id)
    )
    for widget in found:
        result[widget.dashboard_id].append(widget)
    return result


async def sensors_of(
    session: AsyncSession, widgets: Sequence[DashboardWidget]
) -> dict[uuid.UUID, Sensor]:
    """The sensors the widgets name that still exist (a missing one was removed)."""
    ids = {w.event_public_id for w in widgets if w.event_public_id is not None}
    return await sensors_by_public_id(session, ids)


# --- dashboards -------------------------------------------------------------------------


async def create_dashboard(
    session: AsyncSession, name: str, *, is_global: bool, owner: User
) -> Dashboard:
    dashboard = Dashboard(
        public_id=uuid.uuid4(),
        name=_clean_text(name, "name"),
        is_global=is_global,
        user_public_id=owner.public_id,
    )
    session.add(dashboard)
    await session.flush()
    return dashboard


async def update_dashboard(
    session: AsyncSession, dashboard: Dashboard, changes: Mapping[str, Any]
) -> Dashboard:
    """Rename it or make it global or private; fields left out stay."""
    if changes.get("name") is not None:
        dashboard.name = _clean_text(changes["name"], "name")
    if changes.get("is_global") is not None:
        dashboard.is_global = bool(changes["is_global"])
    await session.flush()
    return dashboard


async def delete_dashboard(session: AsyncSession, dashboard: Dashboard) -> None:
    """Delete it with its widgets (the database cascades them)."""
    await session.delete(dashboard)
    await session.flush()


# --- widgets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    x: int
    y: int
    w: int
    h: int


def check_placement(place: Placement) -> None:
    """The grid's rules, every broken one named at its field."""
    problems: Problems = []
    for field in ("x", "y"):
        if getattr(place, field) < 0:
            problems.append(((field,), f"must be 0 or more, not {getattr(place, field)}"))
    for field in ("w", "h"):
        if not 1 <= getattr(place, field) <= SPAN_MAX:
            problems.append(((field,), f"must be 1 to {SPAN_MAX}, not {getattr(place, field)}"))
    if place.x >= 0 and place.w >= 1 and place.x + place.w > GRID_COLUMNS:
        problems.append(
            (
                ("w",),
                f"x + w is {place.x + place.w}: the grid has {GRID_COLUMNS} columns, so a "
                f"widget at x={place.x} spans at most {GRID_COLUMNS - place.x}",
            )
        )
    if place.y >= 0 and place.h >= 1 and place.y + place.h > GRID_ROWS:
        problems.append((("y",), f"y + h is {place.y + place.h}; the grid has {GRID_ROWS} rows"))
    if problems:
        raise ConfigInvalidError(problems)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_known_keys(widget_type: WidgetType, config: dict[str, Any]) -> Problems:
    """The keys the dashboard reads, by widget type; others are kept as they are."""
    problems: Problems = []
    where = ("config_json",)
    pair: tuple[str, ...]
    if widget_type is WidgetType.GAUGE:
        pair, names = ("min", "max"), "min and max"
    elif widget_type is WidgetType.ACTUATOR_TOGGLE:
        pair, names = ("off_value", "on_value"), "off_value and on_value"
    else:
        pair, names = (), ""
    for key in pair:
        if key in config and not _number(config[key]):
            problems.append(((*where, key), f"must be a number, not {config[key]!r}"))
    if pair and not problems and all(key in config for key in pair):
        low, high = (config[key] for key in pair)
        if widget_type is WidgetType.GAUGE and not low < high:
            problems.append(((*where, "max"), f"{names}: min must be less than max"))
        if widget_type is WidgetType.ACTUATOR_TOGGLE and low == high:
            problems.append(((*where, "on_value"), f"{names} must differ"))
    if widget_type is WidgetType.LINE_CHART and "minutes" in config:
        minutes = config["minutes"]
        if (
            not isinstance(minutes, int)
            or isinstance(minutes, bool)
            or not 1 <= minutes <= WINDOW_MINUTES_MAX
        ):
            problems.append(
                (
                    (*where, "minutes"),
                    f"must be a whole number of minutes from 1 to {WINDOW_MINUTES_MAX}, "
                    f"not {minutes!r}",
                )
            )
    return problems


def check_config(widget_type: WidgetType, text: str | None) -> None:
    """``config_json``: absent, or a JSON object of at most CONFIG_MAX_BYTES."""
    if text is None:
        return
    size = len(text.encode())
    if size > CONFIG_MAX_BYTES:
        raise ConfigInvalidError(
            [(("config_json",), f"is {size} bytes; the limit is {CONFIG_MAX_BYTES}")]
        )
    try:
        config = parse_json_object(text, "config_json")
    except InvalidPayloadError as exc:
        raise ConfigInvalidError([(("config_json",), str(exc))]) from None
    problems = _check_known_keys(widget_type, config)
    if problems:
        raise ConfigInvalidError(problems)


async def _check_sensor(session: AsyncSession, sensor_id: uuid.UUID | None) -> None:
    if sensor_id is None:
        return
    if not await sensors_by_public_id(session, [sensor_id]):
        raise ConfigInvalidError([(("event_public_id",), f"no sensor {sensor_id}")])


async def add_widget(
    session: AsyncSession, dashboard: Dashboard, fields: Mapping[str, Any]
) -> DashboardWidget:
    """A new widget on the dashboard (locked by the caller, see :func:`get_dashboard`).

    ``fields``: widget_type, title, event_public_id, x, y, w, h, config_json."""
    count = await session.scalar(
        select(func.count())
        .select_from(DashboardWidget)
        .where(DashboardWidget.dashboard_id == dashboard.id)
    )
    if (count or 0) >= MAX_WIDGETS:
        raise ConflictError(
            f"dashboard '{dashboard.name}' has {count} widgets, the most one may hold "
            f"({MAX_WIDGETS}); delete one first"
        )
    widget_type = WidgetType(fields["widget_type"])
    check_placement(Placement(fields["x"], fields["y"], fields["w"], fields["h"]))
    check_config(widget_type, fields.get("config_json"))
    await _check_sensor(session, fields.get("event_public_id"))
    widget = DashboardWidget(
        public_id=uuid.uuid4(),
        dashboard_id=dashboard.id,
        widget_type=widget_type.value,
        title=_clean_text(fields["title"], "title"),
        event_public_id=fields.get("event_public_id"),
        x=fields["x"],
        y=fields["y"],
        w=fields["w"],
        h=fields["h"],
        config_json=fields.get("config_json"),
    )
    session.add(widget)
    await session.flush()
    return widget


async def _widget(
    session: AsyncSession, dashboard: Dashboard, widget_id: uuid.UUID
) -> DashboardWidget:
    found = await session.scalar(
        select(DashboardWidget).where(
            DashboardWidget.public_id == widget_id, DashboardWidget.dashboard_id == dashboard.id
        )
    )
    if found is None:
        raise NotFoundError(f"dashboard {dashboard.public_id} has no widget {widget_id}")
    return found


async def update_widget(
    session: AsyncSession,
    dashboard: Dashboard,
    widget_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> DashboardWidget:
    """Change the fields given; the placement and config are checked as they end up.

    ``null`` for ``event_public_id`` or ``config_json`` clears it; for any other field it
    changes nothing (WebMACS's fields are all optional there)."""
    widget = await _widget(session, dashboard, widget_id)
    kind = changes.get("widget_type")
    if kind is not None and WidgetType(kind).value != widget.widget_type:
        raise ConfigInvalidError(
            [(("widget_type",), f"a widget's type cannot change (it is {widget.widget_type})")]
        )
    merged = {
        key: changes[key] if key in changes else getattr(widget, key)
        for key in ("x", "y", "w", "h", "title", "event_public_id", "config_json")
    }
    for key in ("x", "y", "w", "h", "title"):
        if merged[key] is None:
            merged[key] = getattr(widget, key)
    check_placement(Placement(merged["x"], merged["y"], merged["w"], merged["h"]))
    check_config(WidgetType(widget.widget_type), merged["config_json"])
    if merged["event_public_id"] != widget.event_public_id:
        await _check_sensor(session, merged["event_public_id"])
    merged["title"] = _clean_text(merged["title"], "title")
    for key, value in merged.items():
        setattr(widget, key, value)
    await session.flush()
    return widget


async def delete_widget(session: AsyncSession, dashboard: Dashboard, widget_id: uuid.UUID) -> None:
    await session.delete(await _widget(session, dashboard, widget_id))
    await session.flush()
