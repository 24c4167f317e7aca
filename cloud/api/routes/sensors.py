"""``/api/v1/sensors``: WebMACS's "events"; anyone logged in reads, operators write."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import CurrentUser, DbSession, OperatorUser
from cloud.models import Sensor
from cloud.services import sensors
from cloud.services.devices import get_device
from cloud.services.errors import NotFoundError

__all__ = ["SensorCreate", "SensorOut", "SensorUpdate", "router"]

router = APIRouter(prefix="/sensors", tags=["sensors"])


class SensorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    unit: str = ""
    device_id: uuid.UUID | None = None
    min_value: float | None = None
    max_value: float | None = None


class SensorUpdate(BaseModel):
    """Only the fields sent change. A name or unit that differs from the current one is marked
    edited: the device's declarations no longer change it. ``null`` clears a bound, and for a
    device's sensor returns the name or unit to what the device declares (refused for
    others)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    unit: str | None = None
    min_value: float | None = None
    max_value: float | None = None


class SensorOut(BaseModel):
    public_id: uuid.UUID
    name: str
    unit: str
    device_id: uuid.UUID | None
    key: str | None
    min_value: float | None
    max_value: float | None
    created_at: datetime
    declared_name: str | None = Field(description="what the device declares; null for none")
    declared_unit: str | None = Field(description="what the device declares; null for none")
    name_edited: bool = Field(description="a person changed the name: declarations skip it")
    unit_edited: bool = Field(description="a person changed the unit: declarations skip it")

    @classmethod
    def of(cls, sensor: Sensor) -> SensorOut:
        return cls(
            public_id=sensor.public_id,
            name=sensor.name,
            unit=sensor.unit,
            device_id=sensor.device_id,
            key=sensor.key,
            min_value=sensor.min_value,
            max_value=sensor.max_value,
            created_at=sensor.created_at,
            declared_name=sensor.declared_name,
            declared_unit=sensor.declared_unit,
            name_edited=bool(sensor.name_edited),
            unit_edited=bool(sensor.unit_edited),
        )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_sensor(body: SensorCreate, user: OperatorUser, session: DbSession) -> SensorOut:
    """Create a sensor; its ``public_id`` is what devices and WebMACS clients send values to."""
    try:
        sensor = await sensors.create_sensor(
            session, body.name, body.unit, body.device_id, body.min_value, body.max_value
        )
    except NotFoundError as exc:
        # The URL is fine; the body names a device that does not exist.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return SensorOut.of(sensor)


@router.get("")
async def list_sensors(
    user: CurrentUser, session: DbSession, device_id: uuid.UUID | None = None
) -> list[SensorOut]:
    """All sensors by name, or one device's; an unknown device is a 404, not an empty list."""
    if device_id is not None:
        await get_device(session, device_id)
    return [SensorOut.of(s) for s in await sensors.list_sensors(session, device_id)]


@router.get("/{public_id}")
async def get_sensor(public_id: uuid.UUID, user: CurrentUser, session: DbSession) -> SensorOut:
    return SensorOut.of(await sensors.get_sensor(session, public_id))


@router.patch("/{public_id}")
async def update_sensor(
    public_id: uuid.UUID, body: SensorUpdate, user: OperatorUser, session: DbSession
) -> SensorOut:
    sensor = await sensors.update_sensor(session, public_id, body.model_dump(exclude_unset=True))
    return SensorOut.of(sensor)
