"""Channel mappings: which event (sensor) each channel of a plugin instance feeds.

For a WebMACS controller's instance a mapping is only read back: the controller sends values
to the mapped event itself. For a device's instance the mapping decides where the device's
readings land: the mapped sensor takes over the channel's key (``plugin.NAME.CHANNEL``) on
that device, so ingest stores the channel's values under it; the sensor that held the key
before keeps its data and is fed no more. Unmapping frees the key, and the channel's next
value registers a sensor of its own again. Each such move bumps the device's
``sensors_version`` first (which also orders it against a concurrent ingest of the device),
so a connected device's ingest forgets the ids it cached.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import ChannelDirection, ChannelMapping, PluginInstance, Sensor
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.plugins import instance_channel
from cloud.services.sensors import bump_sensors_version, get_sensor

__all__ = [
    "MappingView",
    "channel_key",
    "create_mapping",
    "delete_mapping",
    "get_mapping",
    "list_mappings",
    "update_mapping",
]


def channel_key(instance: PluginInstance, channel_id: str) -> str:
    return f"{instance_channel(instance)}.{channel_id}"


MappingView = tuple[ChannelMapping, uuid.UUID | None]


async def _event_ids(
    session: AsyncSession, mappings: Sequence[ChannelMapping]
) -> dict[int, uuid.UUID]:
    ids = {m.sensor_id for m in mappings if m.sensor_id is not None}
    if not ids:
        return {}
    rows = await session.execute(select(Sensor.id, Sensor.public_id).where(Sensor.id.in_(ids)))
    return {row.id: row.public_id for row in rows}


async def list_mappings(session: AsyncSession, instance: PluginInstance) -> list[MappingView]:
    found = (
        await session.scalars(
            select(ChannelMapping)
            .where(ChannelMapping.plugin_instance_id == instance.id)
            .order_by(ChannelMapping.id)
        )
    ).all()
    events = await _event_ids(session, found)
    return [(m, events.get(m.sensor_id) if m.sensor_id else None) for m in found]


async def get_mapping(
    session: AsyncSession, instance: PluginInstance, public_id: uuid.UUID
) -> ChannelMapping:
    found = await session.scalar(
        select(ChannelMapping).where(
            ChannelMapping.public_id == public_id,
            ChannelMapping.plugin_instance_id == instance.id,
        )
    )
    if found is None:
        raise NotFoundError("Channel mapping not found.")
    return found


async def _event(session: AsyncSession, public_id: uuid.UUID | None) -> Sensor | None:
    if public_id is None:
        return None
    try:
        return await get_sensor(session, public_id)
    except NotFoundError:
        raise InvalidInputError(f"no event {public_id}") from None


async def _unbind(session: AsyncSession, instance: PluginInstance, mapping: ChannelMapping) -> None:
    """The mapped sensor stops taking the channel's values (if it still holds its key)."""
    if mapping.sensor_id is None or instance.device_id is None:
        return
    sensor = await session.get(Sensor, mapping.sensor_id)
    key = channel_key(instance, mapping.channel_id)
    if sensor is not None and sensor.device_id == instance.device_id and sensor.key == key:
        await bump_sensors_version(session, instance.device_id)
        sensor.key = None
        await session.flush()


async def _bind(
    session: AsyncSession, instance: PluginInstance, channel_id: str, sensor: Sensor
) -> None:
    """``sensor`` takes the device channel's key; whoever held it lets go."""
    device_id = instance.device_id
    if device_id is None:
        return
    key = channel_key(instance, channel_id)
    if sensor.device_id == device_id and sensor.key == key:
        return
    if sensor.key is not None or sensor.device_id not in (None, device_id):
        raise ConflictError(
            f"event {sensor.public_id} already takes values of another device channel "
            f"({sensor.key or 'another device'}); map it away from there first"
        )
    await bump_sensors_version(session, device_id)
    holder = await session.scalar(
        select(Sensor).where(Sensor.device_id == device_id, Sensor.key == key)
    )
    if holder is not None:
        holder.key = None
        await session.flush()  # the unique (device, key) must be free before it is taken
    sensor.device_id = device_id
    sensor.key = key
    await session.flush()


async def create_mapping(
    session: AsyncSession,
    instance: PluginInstance,
    *,
    channel_id: str,
    channel_name: str,
    direction: ChannelDirection,
    unit: str,
    event_public_id: uuid.UUID | None,
    now: datetime,
) -> MappingView:
    taken = await session.scalar(
        select(ChannelMapping.id).where(
            ChannelMapping.plugin_instance_id == instance.id,
            ChannelMapping.channel_id == channel_id,
        )
    )
    if taken is not None:
        raise ConflictError(f"channel {channel_id!r} of this instance is mapped already")
    sensor = await _event(session, event_public_id)
    if sensor is not None:
        await _bind(session, instance, channel_id, sensor)
    mapping = ChannelMapping(
        plugin_instance_id=instance.id,
        channel_id=channel_id,
        channel_name=channel_name,
        direction=ChannelDirection(direction).value,
        unit=unit,
        sensor_id=sensor.id if sensor else None,
        created_on=now,
    )
    session.add(mapping)
    await session.flush()
    return mapping, sensor.public_id if sensor else None


async def update_mapping(
    session: AsyncSession,
    instance: PluginInstance,
    mapping_id: uuid.UUID,
    event_public_id: uuid.UUID | None,
) -> MappingView:
    """Point the channel at another event, or (``None``) at none."""
    mapping = await get_mapping(session, instance, mapping_id)
    sensor = await _event(session, event_public_id)
    if (sensor.id if sensor else None) != mapping.sensor_id:
        await _unbind(session, instance, mapping)
        if sensor is not None:
            await _bind(session, instance, mapping.channel_id, sensor)
        mapping.sensor_id = sensor.id if sensor else None
        await session.flush()
    return mapping, sensor.public_id if sensor else None


async def delete_mapping(
    session: AsyncSession, instance: PluginInstance, mapping_id: uuid.UUID
) -> None:
    mapping = await get_mapping(session, instance, mapping_id)
    await _unbind(session, instance, mapping)
    await session.delete(mapping)
    await session.flush()
