"""``/api/v1/dashboards``: WebMACS's custom dashboards and their widgets.

WebMACS's paths: ``GET``/``POST /dashboards`` (a ``{page, page_size, total, data}`` page,
newest first; ``201`` with the dashboard), ``GET``/``PUT``/``DELETE /dashboards/{public_id}``,
``POST /dashboards/{public_id}/widgets`` (``201`` with the widget) and
``PUT``/``DELETE /dashboards/{public_id}/widgets/{widget_id}``. Writes answer WebMACS's
``{status, message}``, here with the ``dashboard`` or ``widget`` as it is afterwards.

Everyone signed in sees their own and the global dashboards (admins: all); operators create
them; a dashboard's owner or an admin changes it and its widgets (others get 403). Widgets carry
WebMACS's fields plus ``sensor_public_id`` (the same as ``event_public_id``) and ``sensor``:
what the dashboard needs of it, or null when it is gone ("sensor removed").
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, PageNumber
from cloud.models import Dashboard, DashboardWidget, Sensor, User, WidgetType
from cloud.models.dashboard import GRID_COLUMNS, NAME_MAX, SPAN_MAX, TITLE_MAX
from cloud.services import dashboards

__all__ = ["DashboardOut", "WidgetOut", "router"]

router = APIRouter(prefix="/dashboards", tags=["dashboards"])

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX)]
Column = Annotated[int, Field(ge=0, le=GRID_COLUMNS - 1, description="first column, 0-based")]
Row = Annotated[int, Field(ge=0, description="first row, 0-based")]
Span = Annotated[int, Field(ge=1, le=SPAN_MAX)]
ConfigText = Annotated[
    str,
    Field(
        max_length=dashboards.CONFIG_MAX_BYTES,
        description=(
            "a JSON object as text, at most "
            f"{dashboards.CONFIG_MAX_BYTES} bytes; read by the dashboard: gauge min/max, "
            "line_chart minutes, actuator_toggle off_value/on_value"
        ),
    ),
]


class DashboardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    is_global: bool = False


class DashboardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    is_global: bool | None = None


class WidgetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    widget_type: WidgetType
    title: Title
    event_public_id: uuid.UUID | None = Field(default=None, description="the sensor's public_id")
    x: Column = 0
    y: Row = 0
    w: Span = 4
    h: Span = 3
    config_json: ConfigText | None = None


class WidgetUpdate(BaseModel):
    """Only the fields sent change; ``null`` clears ``event_public_id`` or ``config_json``.
    ``widget_type`` may be sent (WebMACS's client sends its create payload) but not changed."""

    model_config = ConfigDict(extra="forbid")

    widget_type: WidgetType | None = None
    title: Title | None = None
    event_public_id: uuid.UUID | None = None
    x: Column | None = None
    y: Row | None = None
    w: Span | None = None
    h: Span | None = None
    config_json: ConfigText | None = None


class WidgetSensor(BaseModel):
    """What a widget shows of its sensor; ``key`` is ``<channel>.<field>`` for a device's."""

    public_id: uuid.UUID
    name: str
    unit: str
    min_value: float | None
    max_value: float | None
    device_id: uuid.UUID | None
    key: str | None

    @classmethod
    def of(cls, sensor: Sensor) -> WidgetSensor:
        return cls.model_validate(sensor, from_attributes=True)


class WidgetOut(BaseModel):
    """WebMACS's widget fields and revlink's ``sensor_public_id``, ``sensor`` (null when the
    widget has no sensor or its sensor was removed) and ``created_on``."""

    public_id: uuid.UUID
    widget_type: WidgetType
    title: str
    event_public_id: uuid.UUID | None
    sensor_public_id: uuid.UUID | None
    sensor: WidgetSensor | None
    x: int
    y: int
    w: int
    h: int
    config_json: str | None
    created_on: datetime

    @classmethod
    def of(cls, widget: DashboardWidget, sensors: dict[uuid.UUID, Sensor]) -> WidgetOut:
        sensor = sensors.get(widget.event_public_id) if widget.event_public_id else None
        return cls(
            public_id=widget.public_id,
            widget_type=WidgetType(widget.widget_type),
            title=widget.title,
            event_public_id=widget.event_public_id,
            sensor_public_id=widget.event_public_id,
            sensor=WidgetSensor.of(sensor) if sensor else None,
            x=widget.x,
            y=widget.y,
            w=widget.w,
            h=widget.h,
            config_json=widget.config_json,
            created_on=widget.created_on,
        )


class DashboardOut(BaseModel):
    """WebMACS's dashboard fields and revlink's ``can_edit`` (may the caller change it)."""

    public_id: uuid.UUID
    name: str
    is_global: bool
    created_on: datetime
    user_public_id: uuid.UUID | None
    can_edit: bool
    widgets: list[WidgetOut]


class DashboardPage(BaseModel):
    """WebMACS's page: ``page`` (from 1), ``page_size``, ``total`` and ``data``."""

    page: int
    page_size: int
    total: int
    data: list[DashboardOut]


class StatusOut(BaseModel):
    status: Literal["success"] = "success"
    message: str


class DashboardStatus(StatusOut):
    dashboard: DashboardOut


class WidgetStatus(StatusOut):
    widget: WidgetOut


async def _out(session: DbSession, found: list[Dashboard], user: User) -> list[DashboardOut]:
    widgets = await dashboards.widgets_of(session, found)
    sensors = await dashboards.sensors_of(session, [w for ws in widgets.values() for w in ws])
    return [
        DashboardOut(
            public_id=d.public_id,
            name=d.name,
            is_global=d.is_global,
            created_on=d.created_on,
            user_public_id=d.user_public_id,
            can_edit=dashboards.can_edit(d, user),
            widgets=[WidgetOut.of(w, sensors) for w in widgets[d.id]],
        )
        for d in found
    ]


async def _one(session: DbSession, dashboard: Dashboard, user: User) -> DashboardOut:
    return (await _out(session, [dashboard], user))[0]


async def _widget_out(session: DbSession, widget: DashboardWidget) -> WidgetOut:
    return WidgetOut.of(widget, await dashboards.sensors_of(session, [widget]))


async def _editable(
    session: DbSession, public_id: uuid.UUID, user: User, *, for_update: bool = False
) -> Dashboard:
    """The dashboard, when the caller may change it: 404 when they cannot see it, 403 when
    they see it (a global one) but it is not theirs."""
    dashboard = await dashboards.get_dashboard(session, public_id, user, for_update=for_update)
    if not dashboards.can_edit(dashboard, user):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"dashboard '{dashboard.name}' is not yours: only its owner or an admin changes it",
        )
    return dashboard


@router.get("")
async def list_dashboards(
    user: CurrentUser,
    session: DbSession,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=dashboards.MAX_PAGE_SIZE)] = 25,
) -> DashboardPage:
    """The caller's own and the global dashboards (an admin's: every one), newest first."""
    found, total = await dashboards.list_dashboards(session, user, page=page, page_size=page_size)
    return DashboardPage(
        page=page, page_size=page_size, total=total, data=await _out(session, list(found), user)
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_dashboard(
    body: DashboardCreate, user: OperatorUser, session: DbSession
) -> DashboardOut:
    """A new dashboard owned by the caller; ``is_global`` shows it to everyone."""
    dashboard = await dashboards.create_dashboard(
        session, body.name, is_global=body.is_global, owner=user
    )
    return await _one(session, dashboard, user)


@router.get("/{public_id}")
async def get_dashboard(
    public_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> DashboardOut:
    """With its widgets by row, then column. 404 for one the caller may not see."""
    return await _one(session, await dashboards.get_dashboard(session, public_id, user), user)


@router.put("/{public_id}")
async def update_dashboard(
    public_id: uuid.UUID, body: DashboardUpdate, user: OperatorUser, session: DbSession
) -> DashboardStatus:
    """Rename it, or make it global or private; fields left out stay."""
    dashboard = await _editable(session, public_id, user)
    await dashboards.update_dashboard(session, dashboard, body.model_dump(exclude_unset=True))
    return DashboardStatus(
        message="Dashboard successfully updated.", dashboard=await _one(session, dashboard, user)
    )


@router.delete("/{public_id}")
async def delete_dashboard(
    public_id: uuid.UUID, user: OperatorUser, session: DbSession
) -> StatusOut:
    """Delete it and its widgets."""
    await dashboards.delete_dashboard(session, await _editable(session, public_id, user))
    return StatusOut(message="Dashboard successfully deleted.")


@router.post("/{public_id}/widgets", status_code=status.HTTP_201_CREATED)
async def add_widget(
    public_id: uuid.UUID, body: WidgetCreate, user: OperatorUser, session: DbSession
) -> WidgetOut:
    """Place a widget; 422 naming the field for a spot off the grid (``x + w > 12``), a
    ``config_json`` that is no JSON object or too large, or a sensor that does not exist;
    409 once the dashboard holds its most widgets."""
    dashboard = await _editable(session, public_id, user, for_update=True)
    widget = await dashboards.add_widget(session, dashboard, body.model_dump())
    return await _widget_out(session, widget)


@router.put("/{public_id}/widgets/{widget_id}")
async def update_widget(
    public_id: uuid.UUID,
    widget_id: uuid.UUID,
    body: WidgetUpdate,
    user: OperatorUser,
    session: DbSession,
) -> WidgetStatus:
    """Move, resize, retitle or reconfigure it; checked as it ends up."""
    dashboard = await _editable(session, public_id, user)
    widget = await dashboards.update_widget(
        session, dashboard, widget_id, body.model_dump(exclude_unset=True)
    )
    return WidgetStatus(
        message="Widget successfully updated.", widget=await _widget_out(session, widget)
    )


@router.delete("/{public_id}/widgets/{widget_id}")
async def delete_widget(
    public_id: uuid.UUID, widget_id: uuid.UUID, user: OperatorUser, session: DbSession
) -> StatusOut:
    await dashboards.delete_widget(session, await _editable(session, public_id, user), widget_id)
    return StatusOut(message="Widget successfully deleted.")
