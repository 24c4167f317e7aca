"""Devices: registration with a one-time token, lookup by token, revocation."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.core.security import hash_device_token, new_device_token
from cloud.models import Device
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = [
    "connection_gen",
    "create_device",
    "device_for_token",
    "get_device",
    "list_devices",
    "mark_seen",
    "revoke_device",
    "take_connection",
]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


async def create_device(session: AsyncSession, name: str) -> tuple[Device, str]:
    """Register a device; returns it with its token, which is never retrievable again."""
    if not NAME_PATTERN.match(name):
        raise InvalidInputError(
            f"device name {name!r} must be 1-128 characters of letters, digits, '_', '.', '-'"
        )
    token = new_device_token()
    device = Device(name=name, token_hash=hash_device_token(token))
    session.add(device)
    try:
        await session.flush()
    except IntegrityError:
        raise ConflictError(f"a device named {name!r} exists already") from None
    return device, token


async def device_for_token(session: AsyncSession, token: str) -> Device | None:
    """The live (not revoked) device this token belongs to."""
    device = await session.scalar(
        select(Device).where(Device.token_hash == hash_device_token(token))
    )
    if device is None or device.revoked_at is not None:
        return None
    return device


async def take_connection(session: AsyncSession, device_id: uuid.UUID) -> int:
    """A new connection of the device's: its number, higher than every earlier one's."""
    taken = await session.execute(
        update(Device)
        .where(Device.id == device_id)
        .values(connection_gen=Device.connection_gen + 1)
        .returning(Device.connection_gen)
    )
    return int(taken.scalar_one())


async def connection_gen(session: AsyncSession, device_id: uuid.UUID) -> int:
    """The number of the device's newest connection (0: never connected)."""
    found = await session.scalar(select(Device.connection_gen).where(Device.id == device_id))
    return int(found or 0)


async def get_device(session: AsyncSession, device_id: uuid.UUID) -> Device:
    device = await session.get(Device, device_id)
    if device is None:
        raise NotFoundError(f"no device {device_id}")
    return device


async def list_devices(session: AsyncSession) -> list[Device]:
    return list(await session.scalars(select(Device).order_by(Device.name)))


async def revoke_device(session: AsyncSession, device_id: uuid.UUID) -> Device:
    device = await get_device(session, device_id)
    if device.revoked_at is None:
        device.revoked_at = datetime.now(UTC)
    return device


async def mark_seen(session: AsyncSession, device_id: uuid.UUID, at: datetime) -> None:
    """The device was heard from at ``at`` (it connected or left), data or not."""
    await session.execute(update(Device).where(Device.id == device_id).values(last_seen=at))
