"""``/api/v1/events``: WebMACS's name for revlink's sensors, with WebMACS's paths and shapes.

One concept, two names: an event *is* a sensor (same public id, same data), so a sensor a
device registered is an event here, and an event created here is a sensor on
``/api/v1/sensors``. WebMACS's clients need numbers for both bounds; a sensor without one is
reported with the largest double (``∓1.7976931348623157e308``), which ``/sensors`` shows as
``null``. Anyone logged in reads; operators write (WebMACS lets any user write).
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, PageNumber
from cloud.models import EventType, Sensor
from cloud.services import sensors
from cloud.services.paging import MAX_PAGE_SIZE, page_of_scalars

__all__ = ["EventCreate", "EventOut", "EventPage", "EventUpdate", "router"]

router = APIRouter(prefix="/events", tags=["events"])

UNBOUNDED = sys.float_info.max


class EventCreate(BaseModel):
    """WebMACS's fields; revlink does not insist on bounds or a unit."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=sensors.MAX_NAME)
    min_value: float | None = None
    max_value: float | None = None
    unit: str = Field(default="", max_length=sensors.MAX_UNIT)
    type: EventType = EventType.SENSOR


class EventUpdate(BaseModel):
    """Only the fields sent change (as on ``PATCH /sensors/{id}``)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=sensors.MAX_NAME)
    min_value: float | None = None
    max_value: float | None = None
    unit: str | None = Field(default=None, max_length=sensors.MAX_UNIT)
    type: EventType | None = None


class EventOut(BaseModel):
    """WebMACS's event, and revlink's ``device_id``, ``key`` and ``created_at``."""

    public_id: uuid.UUID
    name: str
    min_value: float
    max_value: float
    unit: str
    type: EventType
    user_public_id: uuid.UUID | None = None
    device_id: uuid.UUID | None
    key: str | None
    created_at: datetime

    @classmethod
    def of(cls, sensor: Sensor) -> EventOut:
        return cls(
            public_id=sensor.public_id,
            name=sensor.name,
            min_value=-UNBOUNDED if sensor.min_value is None else sensor.min_value,
            max_value=UNBOUNDED if sensor.max_value is None else sensor.max_value,
            unit=sensor.unit,
            type=EventType(sensor.type),
            device_id=sensor.device_id,
            key=sensor.key,
            created_at=sensor.created_at,
        )


class EventPage(BaseModel):
    page: int
    page_size: int
    total: int
    data: list[EventOut]


class EventStatus(BaseModel):
    """WebMACS's ``{status, message}``, with the event as it is afterwards."""

    status: Literal["success"] = "success"
    message: str
    public_id: uuid.UUID
    event: EventOut


class Deleted(BaseModel):
    status: Literal["success"] = "success"
    message: str


@router.get("")
async def list_events(
    user: CurrentUser,
    session: DbSession,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
) -> EventPage:
    """By name, a WebMACS page."""
    query = select(Sensor).order_by(Sensor.name, Sensor.id)
    found, total = await page_of_scalars(session, query, page, page_size)
    return EventPage(
        page=page, page_size=page_size, total=total, data=[EventOut.of(s) for s in found]
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_event(body: EventCreate, user: OperatorUser, session: DbSession) -> EventStatus:
    """A new event without a device (values come through the WebMACS doors); a name another
    event has is a 409, as in WebMACS."""
    sensor = await sensors.create_sensor(
        session,
        body.name,
        body.unit,
        None,
        body.min_value,
        body.max_value,
        type=body.type,
        unique_name=True,
    )
    return EventStatus(
        message="Event successfully created.", public_id=sensor.public_id, event=EventOut.of(sensor)
    )


@router.get("/{public_id}")
async def get_event(public_id: uuid.UUID, user: CurrentUser, session: DbSession) -> EventOut:
    return EventOut.of(await sensors.get_sensor(session, public_id))


@router.put("/{public_id}")
async def update_event(
    public_id: uuid.UUID, body: EventUpdate, user: OperatorUser, session: DbSession
) -> EventStatus:
    changes = body.model_dump(exclude_unset=True)
    sensor = await sensors.update_sensor(session, public_id, changes)
    return EventStatus(
        message="Event successfully updated.", public_id=sensor.public_id, event=EventOut.of(sensor)
    )


@router.delete("/{public_id}")
async def delete_event(public_id: uuid.UUID, user: OperatorUser, session: DbSession) -> Deleted:
    """The event and all its datapoints; a device's next value of its key registers a new
    one."""
    await sensors.delete_sensor(session, public_id)
    return Deleted(message="Event successfully deleted.")
