"""Plugin instances (WebMACS's ``/plugins``), and how a device's reach its plugin host.

An instance with a device is the cloud's to manage and the device's plugin host's to run:
every change to a device's instances stores one channel write of the whole set (replacing
the ``plugin-host`` channel's aggregate), so the device gets them in order through the
writes' own delivery and, once applied, reconciles its host to them. The host answers on each
instance's ``plugin.NAME`` channel with a ``status`` member, which :func:`reported_status`
reads back. An instance without a device is a WebMACS controller's, which reads the list and
runs it; revlink only keeps it.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import ChannelAggregate, ChannelWrite, PluginInstance, User
from cloud.services import channel_writes
from cloud.services.devices import get_device
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.paging import page_of_scalars

__all__ = [
    "MANAGED_CHANNEL",
    "MAX_CONFIG_BYTES",
    "InstanceChanges",
    "NewInstance",
    "ReportedStatus",
    "create_instance",
    "delete_instance",
    "get_instance",
    "instance_channel",
    "last_delivery",
    "list_instances",
    "reported_status",
    "update_instance",
]

MANAGED_CHANNEL = "plugin-host"
# The plugin host's instance names (they also name the ``plugin.NAME`` channel).
DEVICE_INSTANCE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The whole set travels in one channel write of at most 64 KiB.
MAX_CONFIG_BYTES = 16 * 1024
MIN_POLL_INTERVAL_S = 0.05
MAX_POLL_INTERVAL_S = 86_400.0


@dataclass(frozen=True, slots=True)
class NewInstance:
    plugin_id: str
    instance_name: str
    demo_mode: bool = False
    enabled: bool = True
    config_json: str | None = None
    device_id: uuid.UUID | None = None
    poll_interval_s: float = 1.0


@dataclass(frozen=True, slots=True)
class InstanceChanges:
    """Only what is not None changes."""

    instance_name: str | None = None
    demo_mode: bool | None = None
    enabled: bool | None = None
    config_json: str | None = None
    poll_interval_s: float | None = None


@dataclass(frozen=True, slots=True)
class ReportedStatus:
    """What the device's plugin host last said of an instance (its ``status`` member)."""

    state: str
    error: str
    restarts: int
    channels: tuple[Mapping[str, Any], ...]
    reported_at: datetime


def instance_channel(instance: PluginInstance) -> str:
    return f"plugin.{instance.instance_name}"


def _config(text: str | None) -> dict[str, Any]:
    if text is None or text == "":
        return {}
    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise InvalidInputError(f"config_json must be at most {MAX_CONFIG_BYTES} bytes")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"config_json is not JSON: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise InvalidInputError("config_json must be a JSON object")
    return parsed


def _check(instance: PluginInstance) -> None:
    _config(instance.config_json)
    interval = instance.poll_interval_s
    if not (math.isfinite(interval) and MIN_POLL_INTERVAL_S <= interval <= MAX_POLL_INTERVAL_S):
        raise InvalidInputError(
            f"poll_interval_s must be in {MIN_POLL_INTERVAL_S}..{MAX_POLL_INTERVAL_S}"
        )
    if instance.device_id is not None and not DEVICE_INSTANCE_NAME.match(instance.instance_name):
        raise InvalidInputError(
            "a device's instance_name must be 1-64 characters of [A-Za-z0-9_-]: it also "
            "names the instance's channel"
        )


def _scope(device_id: uuid.UUID | None) -> Select[PluginInstance]:
    query = select(PluginInstance)
    if device_id is None:
        return query.where(PluginInstance.device_id.is_(None))
    return query.where(PluginInstance.device_id == device_id)


async def _refuse_taken_name(session: AsyncSession, instance: PluginInstance) -> None:
    taken = await session.scalar(
        _scope(instance.device_id)
        .where(
            PluginInstance.instance_name == instance.instance_name,
            PluginInstance.id != (instance.id or 0),
        )
        .limit(1)
    )
    if taken is not None:
        where = f"device {instance.device_id}" if instance.device_id else "the controllers"
        raise ConflictError(f"{where} already has a plugin instance {instance.instance_name!r}")


async def list_instances(
    session: AsyncSession, device_id: uuid.UUID | None, page: int, page_size: int
) -> tuple[Sequence[PluginInstance], int]:
    """A device's instances, or (``None``) those without a device, oldest first."""
    if device_id is not None:
        await get_device(session, device_id)
    query = _scope(device_id).order_by(PluginInstance.created_on, PluginInstance.id)
    return await page_of_scalars(session, query, page, page_size)


async def get_instance(session: AsyncSession, public_id: uuid.UUID) -> PluginInstance:
    found = await session.scalar(
        select(PluginInstance).where(PluginInstance.public_id == public_id)
    )
    if found is None:
        raise NotFoundError("Plugin instance not found.")
    return found


async def create_instance(
    session: AsyncSession, new: NewInstance, user: User, now: datetime
) -> PluginInstance:
    if new.device_id is not None:
        await get_device(session, new.device_id)
    instance = PluginInstance(
        plugin_id=new.plugin_id,
        instance_name=new.instance_name.strip(),
        demo_mode=new.demo_mode,
        enabled=new.enabled,
        config_json=new.config_json,
        device_id=new.device_id,
        poll_interval_s=new.poll_interval_s,
        user_id=user.id,
        created_on=now,
        updated_on=now,
    )
    _check(instance)
    await _refuse_taken_name(session, instance)
    session.add(instance)
    await session.flush()
    await _deliver(session, instance.device_id, user, now)
    return instance


async def update_instance(
    session: AsyncSession,
    public_id: uuid.UUID,
    changes: InstanceChanges,
    user: User,
    now: datetime,
) -> PluginInstance:
    """Change an instance. A device's instance keeps its name: the name is its identity on
    the device (its channel and its data), so renaming is refused rather than half-done."""
    instance = await get_instance(session, public_id)
    name = changes.instance_name.strip() if changes.instance_name is not None else None
    if name is not None and name != instance.instance_name:
        if instance.device_id is not None:
            raise InvalidInputError(
                "a device's plugin instance cannot be renamed; create a new one instead"
            )
        instance.instance_name = name
    for field in ("demo_mode", "enabled", "config_json", "poll_interval_s"):
        value = getattr(changes, field)
        if value is not None:
            setattr(instance, field, value)
    _check(instance)
    await _refuse_taken_name(session, instance)
    instance.updated_on = now
    await session.flush()
    await _deliver(session, instance.device_id, user, now)
    return instance


async def delete_instance(
    session: AsyncSession, public_id: uuid.UUID, user: User, now: datetime
) -> PluginInstance:
    """Delete an instance and its mappings; a device's host is told to remove it. The events
    it fed keep their data."""
    instance = await get_instance(session, public_id)
    await session.delete(instance)
    await session.flush()
    await _deliver(session, instance.device_id, user, now)
    return instance


def _desired(instances: Sequence[PluginInstance]) -> dict[str, Any]:
    return {
        instance.instance_name: {
            "public_id": str(instance.public_id),
            "plugin_id": instance.plugin_id,
            "config": _config(instance.config_json),
            "poll_interval_s": instance.poll_interval_s,
            "enabled": instance.enabled,
            "demo_mode": instance.demo_mode,
        }
        for instance in instances
    }


async def _deliver(
    session: AsyncSession, device_id: uuid.UUID | None, user: User, now: datetime
) -> None:
    """Queue the device's whole set as one replacing write (the caller commits and wakes)."""
    if device_id is None:
        return
    instances = (await session.scalars(_scope(device_id).order_by(PluginInstance.id))).all()
    write = await channel_writes.create_write(
        session,
        device_id,
        MANAGED_CHANNEL,
        {"managed": _desired(instances)},
        replace=True,
        created_by=user.email,
        now=now,
    )
    # A number that only grows lets the host (and a person reading the aggregate) tell sets
    # apart without comparing them.
    write.patch = {**write.patch, "revision": write.seq}
    await session.flush()


async def last_delivery(session: AsyncSession, device_id: uuid.UUID) -> ChannelWrite | None:
    """The newest write of the device's set: whether the device has it yet."""
    query = (
        select(ChannelWrite)
        .where(ChannelWrite.device_id == device_id, ChannelWrite.channel == MANAGED_CHANNEL)
        .order_by(ChannelWrite.seq.desc())
        .limit(1)
    )
    found: ChannelWrite | None = await session.scalar(query)
    return found


async def reported_status(
    session: AsyncSession, instances: Sequence[PluginInstance]
) -> dict[int, ReportedStatus]:
    """By instance id, what each device instance's host last reported (none reported: absent)."""
    wanted = {(i.device_id, instance_channel(i)): i for i in instances if i.device_id}
    if not wanted:
        return {}
    rows = await session.scalars(
        select(ChannelAggregate).where(
            ChannelAggregate.device_id.in_({device for device, _ in wanted}),
            ChannelAggregate.channel.in_({channel for _, channel in wanted}),
        )
    )
    found: dict[int, ReportedStatus] = {}
    for row in rows:
        instance = wanted.get((row.device_id, row.channel))
        status = row.payload.get("status") if isinstance(row.payload, dict) else None
        if instance is None or not isinstance(status, dict):
            continue
        if status.get("public_id") not in (None, str(instance.public_id)):
            continue  # an earlier instance of the same name: not this one's state
        channels = status.get("channels")
        found[instance.id] = ReportedStatus(
            state=str(status.get("state", "")),
            error=str(status.get("error") or ""),
            restarts=int(status.get("restarts") or 0),
            channels=tuple(c for c in channels if isinstance(c, dict))
            if isinstance(channels, list)
            else (),
            reported_at=row.updated_at,
        )
    return found
