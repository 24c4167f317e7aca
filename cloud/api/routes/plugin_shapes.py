"""What ``/api/v1/plugins`` answers: WebMACS's instance and mapping shapes, and revlink's
``device_id``, ``delivery`` and ``reported``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import (
    ChannelDirection,
    ChannelMapping,
    PluginInstance,
    Sensor,
    User,
    WriteState,
)
from cloud.services import channel_mappings, plugins
from cloud.services.plugins import ReportedStatus

__all__ = [
    "ChannelMappingOut",
    "PluginInstanceOut",
    "PluginStatusOut",
    "ReportedOut",
    "channels_out",
    "instance_out",
]

PluginStatus = Literal["inactive", "connected", "error", "demo"]


class ChannelMappingOut(BaseModel):
    public_id: uuid.UUID | None = Field(description="null: reported by the device, not stored")
    channel_id: str
    channel_name: str
    direction: ChannelDirection
    unit: str
    event_public_id: uuid.UUID | None
    created_on: datetime | None

    @classmethod
    def of(cls, mapping: ChannelMapping, event: uuid.UUID | None) -> ChannelMappingOut:
        return cls(
            public_id=mapping.public_id,
            channel_id=mapping.channel_id,
            channel_name=mapping.channel_name,
            direction=ChannelDirection(mapping.direction),
            unit=mapping.unit,
            event_public_id=event,
            created_on=mapping.created_on,
        )


class ReportedOut(BaseModel):
    """The device's plugin host's own account of the instance."""

    state: str = Field(description="configured, connecting, running, error, stopped, refused…")
    error: str
    restarts: int
    reported_at: datetime


class DeliveryOut(BaseModel):
    """The newest channel write of the device's instance set (see channel writes)."""

    write_id: uuid.UUID
    state: WriteState
    detail: str | None


class PluginInstanceOut(BaseModel):
    public_id: uuid.UUID
    plugin_id: str
    instance_name: str
    demo_mode: bool
    enabled: bool
    status: PluginStatus
    config_json: str | None
    error_message: str | None
    created_on: datetime
    updated_on: datetime
    user_public_id: uuid.UUID | None
    channel_mappings: list[ChannelMappingOut]
    device_id: uuid.UUID | None
    poll_interval_s: float
    delivery: DeliveryOut | None
    reported: ReportedOut | None


class PluginStatusOut(BaseModel):
    """WebMACS's ``{status, message}``, with the instance as it is afterwards."""

    status: Literal["success"] = "success"
    message: str
    public_id: uuid.UUID
    plugin_instance: PluginInstanceOut


def _status(instance: PluginInstance, reported: ReportedStatus | None) -> PluginStatus:
    if reported is None or not instance.enabled:
        return "inactive"
    if reported.state in ("error", "refused"):
        return "error"
    if reported.state == "running":
        return "demo" if instance.demo_mode else "connected"
    return "inactive"


def _direction(value: object) -> ChannelDirection:
    try:
        return ChannelDirection(str(value))
    except ValueError:
        return ChannelDirection.BIDIRECTIONAL


async def _reported_channels(
    session: AsyncSession,
    instance: PluginInstance,
    reported: ReportedStatus,
    mapped: set[str],
) -> list[ChannelMappingOut]:
    """The host's channels that no stored mapping covers, with the sensor their values
    land in (if one has registered)."""
    unmapped = [c for c in reported.channels if str(c.get("id", "")) not in mapped]
    if not unmapped or instance.device_id is None:
        return []
    keys = {channel_mappings.channel_key(instance, str(c["id"])): c for c in unmapped}
    found = await session.execute(
        select(Sensor.key, Sensor.public_id).where(
            Sensor.device_id == instance.device_id, Sensor.key.in_(keys)
        )
    )
    events: dict[str, uuid.UUID] = {row.key: row.public_id for row in found}
    return [
        ChannelMappingOut(
            public_id=None,
            channel_id=str(channel["id"]),
            channel_name=str(channel.get("name") or channel["id"]),
            direction=_direction(channel.get("direction")),
            unit=str(channel.get("unit") or ""),
            event_public_id=events.get(key),
            created_on=None,
        )
        for key, channel in keys.items()
    ]


async def _channels(
    session: AsyncSession, instance: PluginInstance, reported: ReportedStatus | None
) -> list[ChannelMappingOut]:
    mappings = await channel_mappings.list_mappings(session, instance)
    listed = [ChannelMappingOut.of(m, event) for m, event in mappings]
    if reported is not None:
        mapped = {m.channel_id for m, _ in mappings}
        listed += await _reported_channels(session, instance, reported, mapped)
    return listed


async def channels_out(session: AsyncSession, instance: PluginInstance) -> list[ChannelMappingOut]:
    """The instance's mappings, and the channels its host reported without one."""
    reported = (await plugins.reported_status(session, [instance])).get(instance.id)
    return await _channels(session, instance, reported)


async def instance_out(session: AsyncSession, instance: PluginInstance) -> PluginInstanceOut:
    reported = (await plugins.reported_status(session, [instance])).get(instance.id)
    listed = await _channels(session, instance, reported)
    delivery = None
    if instance.device_id is not None:
        write = await plugins.last_delivery(session, instance.device_id)
        if write is not None:
            delivery = DeliveryOut(
                write_id=write.id, state=WriteState(write.state), detail=write.detail
            )
    owner = await session.get(User, instance.user_id) if instance.user_id else None
    return PluginInstanceOut(
        public_id=instance.public_id,
        plugin_id=instance.plugin_id,
        instance_name=instance.instance_name,
        demo_mode=instance.demo_mode,
        enabled=instance.enabled,
        status=_status(instance, reported),
        config_json=instance.config_json,
        error_message=(reported.error or None) if reported else None,
        created_on=instance.created_on,
        updated_on=instance.updated_on,
        user_public_id=owner.public_id if owner else None,
        channel_mappings=listed,
        device_id=instance.device_id,
        poll_interval_s=instance.poll_interval_s,
        delivery=delivery,
        reported=ReportedOut(
            state=reported.state,
            error=reported.error,
            restarts=reported.restarts,
            reported_at=reported.reported_at,
        )
        if reported
        else None,
    )
