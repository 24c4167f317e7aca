"""Sensors: created by users, or registered by a device's uplink on first sight of a field."""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Mapping

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import Device, Sensor
from cloud.services.errors import InvalidInputError, NotFoundError

__all__ = [
    "create_sensor",
    "device_sensors",
    "get_sensor",
    "list_sensors",
    "sensors_by_public_id",
    "update_sensor",
]

MAX_NAME = 300
MAX_UNIT = 32


def _check_fields(
    name: str | None, unit: str | None, low: float | None, high: float | None
) -> None:
    if name is not None and not 0 < len(name.strip()) <= MAX_NAME:
        raise InvalidInputError(f"name must be 1-{MAX_NAME} characters")
    if unit is not None and len(unit) > MAX_UNIT:
        raise InvalidInputError(f"unit must be at most {MAX_UNIT} characters")
    for label, bound in (("min_value", low), ("max_value", high)):
        if bound is not None and not math.isfinite(bound):
            raise InvalidInputError(f"{label} must be a finite number")
    if low is not None and high is not None and low > high:
        raise InvalidInputError(f"min_value {low} is greater than max_value {high}")


async def create_sensor(
    session: AsyncSession,
    name: str,
    unit: str = "",
    device_id: uuid.UUID | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
) -> Sensor:
    _check_fields(name, unit, min_value, max_value)
    if device_id is not None and await session.get(Device, device_id) is None:
        raise NotFoundError(f"no device {device_id}")
    sensor = Sensor(
        name=name.strip(),
        unit=unit,
        device_id=device_id,
        min_value=min_value,
        max_value=max_value,
    )
    session.add(sensor)
    await session.flush()
    return sensor


async def get_sensor(session: AsyncSession, public_id: uuid.UUID) -> Sensor:
    sensor = await session.scalar(select(Sensor).where(Sensor.public_id == public_id))
    if sensor is None:
        raise NotFoundError(f"no sensor {public_id}")
    return sensor


async def list_sensors(session: AsyncSession, device_id: uuid.UUID | None = None) -> list[Sensor]:
    query = select(Sensor).order_by(Sensor.name, Sensor.id)
    if device_id is not None:
        query = query.where(Sensor.device_id == device_id)
    return list(await session.scalars(query))


async def update_sensor(
    session: AsyncSession, public_id: uuid.UUID, changes: Mapping[str, object]
) -> Sensor:
    """Apply ``changes`` (any of name, unit, min_value, max_value) after validating the result."""
    sensor = await get_sensor(session, public_id)
    allowed = {"name", "unit", "min_value", "max_value"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInputError(f"cannot change {', '.join(sorted(unknown))}")
    merged = {key: changes.get(key, getattr(sensor, key)) for key in allowed}
    _check_fields(merged["name"], merged["unit"], merged["min_value"], merged["max_value"])  # type: ignore[arg-type]
    for key, value in changes.items():
        setattr(sensor, key, value.strip() if key == "name" and isinstance(value, str) else value)
    await session.flush()
    return sensor


async def sensors_by_public_id(
    session: AsyncSession, public_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Sensor]:
    if not public_ids:
        return {}
    found = await session.scalars(select(Sensor).where(Sensor.public_id.in_(public_ids)))
    return {sensor.public_id: sensor for sensor in found}


async def device_sensors(
    session: AsyncSession, device_id: uuid.UUID, keys: Collection[str]
) -> dict[str, Sensor]:
    """The device's sensors for ``keys`` (``<channel>.<field>``), registering missing ones.

    Concurrent registrations of the same key (two batches, two cloud workers) are settled by
    the unique (device_id, key) constraint: the loser's insert does nothing and both read
    the winner's row.
    """
    if not keys:
        return {}
    query = select(Sensor).where(Sensor.device_id == device_id, Sensor.key.in_(keys))
    found = {sensor.key: sensor for sensor in await session.scalars(query) if sensor.key}
    missing = [key for key in keys if key not in found]
    if missing:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        rows = [
            {"public_id": uuid.uuid4(), "device_id": device_id, "key": key, "name": key, "unit": ""}
            for key in missing
        ]
        await session.execute(
            insert(Sensor).values(rows).on_conflict_do_nothing(index_elements=["device_id", "key"])
        )
        query = select(Sensor).where(Sensor.device_id == device_id, Sensor.key.in_(missing))
        found.update({s.key: s for s in await session.scalars(query) if s.key})
    return found
