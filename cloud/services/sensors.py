"""Sensors: created by users, or registered by a device's uplink on first sight of a field.

A device may declare its fields' units and display names (``$fields``, see revlink.fields).
The rule between a device and a person: a declaration sets a sensor's unit and name, each
only while no person has changed it through the API; a person's change to one of them marks
that one as edited, and clearing it (``null``) returns it to the device's declaration.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Mapping
from typing import cast

from sqlalchemy import Table, Update, bindparam, case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import Device, EventType, Sensor
from cloud.services.datapoints import delete_points_of
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from revlink.fields import FieldMeta

__all__ = [
    "apply_declarations",
    "bump_sensors_version",
    "change_sensor",
    "create_sensor",
    "delete_sensor",
    "device_sensors",
    "get_device_sensor",
    "get_sensor",
    "list_sensors",
    "sensor_owners",
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
    *,
    type: EventType = EventType.SENSOR,
    unique_name: bool = False,
) -> Sensor:
    """A new sensor; ``unique_name`` refuses a name another sensor has (WebMACS's events)."""
    _check_fields(name, unit, min_value, max_value)
    if device_id is not None and await session.get(Device, device_id) is None:
        raise NotFoundError(f"no device {device_id}")
    if unique_name and await session.scalar(
        select(Sensor.id).where(Sensor.name == name.strip()).limit(1)
    ):
        raise ConflictError(f"an event named {name.strip()!r} already exists")
    sensor = Sensor(
        name=name.strip(),
        unit=unit,
        device_id=device_id,
        min_value=min_value,
        max_value=max_value,
        type=EventType(type).value,
    )
    session.add(sensor)
    await session.flush()
    return sensor


async def get_sensor(session: AsyncSession, public_id: uuid.UUID) -> Sensor:
    sensor = await session.scalar(select(Sensor).where(Sensor.public_id == public_id))
    if sensor is None:
        raise NotFoundError(f"no sensor {public_id}")
    return sensor


async def get_device_sensor(session: AsyncSession, device_id: uuid.UUID, key: str) -> Sensor:
    """The sensor ``key`` (``<channel>.<field>``) of a device; NotFoundError names which is
    missing, the device or its sensor."""
    sensor = await session.scalar(
        select(Sensor).where(Sensor.device_id == device_id, Sensor.key == key)
    )
    if sensor is None:
        if await session.get(Device, device_id) is None:
            raise NotFoundError(f"no device {device_id}")
        raise NotFoundError(f"device {device_id} has no sensor {key!r}")
    return sensor


async def list_sensors(session: AsyncSession, device_id: uuid.UUID | None = None) -> list[Sensor]:
    query = select(Sensor).order_by(Sensor.name, Sensor.id)
    if device_id is not None:
        query = query.where(Sensor.device_id == device_id)
    return list(await session.scalars(query))


async def update_sensor(
    session: AsyncSession, public_id: uuid.UUID, changes: Mapping[str, object]
) -> Sensor:
    """:func:`change_sensor` for the sensor with ``public_id``."""
    return await change_sensor(session, await get_sensor(session, public_id), changes)


async def change_sensor(
    session: AsyncSession, sensor: Sensor, changes: Mapping[str, object]
) -> Sensor:
    """Apply a person's ``changes`` (any of name, unit, min_value, max_value, type), validated.

    A name or unit that differs from the current one is marked edited, so the device's
    declarations leave it alone; ``None`` clears that edit and returns it to what the device
    declared (the key and ``""`` when it declared nothing), for a device's sensors only.
    """
    allowed = {"name", "unit", "min_value", "max_value"}
    unknown = set(changes) - allowed - {"type"}
    if unknown:
        raise InvalidInputError(f"cannot change {', '.join(sorted(unknown))}")
    resolved = dict(changes)
    if "type" in resolved:
        kind = resolved.pop("type")
        if kind is None:
            raise InvalidInputError("type cannot be null")
        sensor.type = EventType(str(kind)).value
    edited: dict[str, bool] = {}
    for label in ("name", "unit"):
        if label not in changes:
            continue
        value = changes[label]
        if value is None:
            if sensor.key is None:
                raise InvalidInputError(
                    f"{label} cannot be null: sensor {sensor.public_id} has no device "
                    "declaration to return to"
                )
            declared = sensor.declared_name if label == "name" else sensor.declared_unit
            resolved[label] = declared if declared is not None else _default(sensor, label)
            edited[label] = False
        else:
            if label == "name" and isinstance(value, str):
                value = resolved[label] = value.strip()
            if value != getattr(sensor, label):
                edited[label] = True
    merged = {key: resolved.get(key, getattr(sensor, key)) for key in allowed}
    _check_fields(merged["name"], merged["unit"], merged["min_value"], merged["max_value"])  # type: ignore[arg-type]
    for key, value in resolved.items():
        setattr(sensor, key, value)
    for label, flag in edited.items():
        setattr(sensor, f"{label}_edited", flag)
    await session.flush()
    return sensor


async def delete_sensor(session: AsyncSession, public_id: uuid.UUID) -> None:
    """Delete a sensor and its datapoints; a device's connected ingest is told to forget the
    sensor's id (a later value of its key registers a new sensor)."""
    sensor = await get_sensor(session, public_id)
    if sensor.device_id is not None:
        await bump_sensors_version(session, sensor.device_id)
    await delete_points_of(session, sensor.id)  # datapoints hold no foreign key (0015)
    await session.delete(sensor)
    await session.flush()


async def bump_sensors_version(session: AsyncSession, device_id: uuid.UUID) -> None:
    """Which sensor one of the device's keys feeds has changed: ingest drops its cache."""
    await session.execute(
        update(Device)
        .where(Device.id == device_id)
        .values(sensors_version=Device.sensors_version + 1)
    )


def _default(sensor: Sensor, label: str) -> str:
    """A device sensor's name or unit when its device declared none: the key, or none."""
    return (sensor.key or sensor.name) if label == "name" else ""


async def sensors_by_public_id(
    session: AsyncSession, public_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Sensor]:
    if not public_ids:
        return {}
    found = await session.scalars(select(Sensor).where(Sensor.public_id.in_(public_ids)))
    return {sensor.public_id: sensor for sensor in found}


async def sensor_owners(
    session: AsyncSession, public_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, uuid.UUID | None]]:
    """Each known sensor's (id, the device that feeds it or None), by public id: what ingest
    needs, in plain rows (loading ORM objects cost a telemetry message a sixth of its CPU)."""
    if not public_ids:
        return {}
    found = await session.execute(
        select(Sensor.public_id, Sensor.id, Sensor.device_id).where(
            Sensor.public_id.in_(public_ids)
        )
    )
    return {public_id: (sensor_id, device_id) for public_id, sensor_id, device_id in found}


async def device_sensors(
    session: AsyncSession,
    device_id: uuid.UUID,
    keys: Collection[str],
    declared: Mapping[str, FieldMeta] | None = None,
) -> dict[str, Sensor]:
    """The device's sensors for ``keys`` (``<channel>.<field>``), registering missing ones,
    named and united as ``declared`` (by key) says, else with the key as name and no unit.

    Concurrent registrations of the same key (two batches, two cloud workers) are settled by
    the unique (device_id, key) constraint: the loser's insert does nothing and both read
    the winner's row.
    """
    declared = declared or {}
    if not keys:
        return {}
    query = select(Sensor).where(Sensor.device_id == device_id, Sensor.key.in_(keys))
    found = {sensor.key: sensor for sensor in await session.scalars(query) if sensor.key}
    missing = [key for key in keys if key not in found]
    if missing:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        rows = [_new_row(device_id, key, declared.get(key, FieldMeta())) for key in missing]
        await session.execute(
            insert(Sensor).values(rows).on_conflict_do_nothing(index_elements=["device_id", "key"])
        )
        query = select(Sensor).where(Sensor.device_id == device_id, Sensor.key.in_(missing))
        found.update({s.key: s for s in await session.scalars(query) if s.key})
    return found


def _new_row(device_id: uuid.UUID, key: str, meta: FieldMeta) -> dict[str, object]:
    return {
        "public_id": uuid.uuid4(),
        "device_id": device_id,
        "key": key,
        "name": meta.name if meta.name is not None else key,
        "unit": meta.unit if meta.unit is not None else "",
        "declared_name": meta.name,
        "declared_unit": meta.unit,
        "name_edited": False,
        "unit_edited": False,
    }


_SENSORS = cast(Table, Sensor.__table__)


def _declare_statement(label: str) -> Update:
    """For many sensors at once (executemany): keep the device's declared ``label`` and show
    it, unless a person edited that one."""
    shown, edited = _SENSORS.c[label], _SENSORS.c[f"{label}_edited"]
    return (
        _SENSORS.update()
        .where(_SENSORS.c.device_id == bindparam("b_device"), _SENSORS.c.key == bindparam("b_key"))
        .values(
            {
                f"declared_{label}": bindparam("b_value"),
                label: case((edited, shown), else_=bindparam("b_value")),
            }
        )
    )


_DECLARE = {label: _declare_statement(label) for label in ("name", "unit")}


async def apply_declarations(
    session: AsyncSession, device_id: uuid.UUID, declared: Mapping[str, FieldMeta]
) -> None:
    """Put what the device declared (by sensor key) on its existing sensors, following the
    module's rule; keys without a sensor yet are left to :func:`device_sensors`."""
    for label, statement in _DECLARE.items():
        params = [
            {"b_device": device_id, "b_key": key, "b_value": value}
            for key, meta in declared.items()
            if (value := getattr(meta, label)) is not None
        ]
        if params:
            await session.execute(statement, params)
