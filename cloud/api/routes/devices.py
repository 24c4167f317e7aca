"""``/api/v1/devices``: register (token shown once), list with online state, revoke."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel

from cloud.api.deps import AdminUser, CurrentUser, DbSession, State
from cloud.models import Device
from cloud.services import devices, event_log

router = APIRouter(prefix="/devices", tags=["devices"])


class DeviceCreate(BaseModel):
    name: str


class DeviceOut(BaseModel):
    id: uuid.UUID
    name: str
    online: bool
    last_seen: datetime | None
    last_committed_seq: int
    created_at: datetime
    revoked_at: datetime | None


class DeviceCreated(BaseModel):
    id: uuid.UUID
    name: str
    token: str


def _out(device: Device, online: bool) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        name=device.name,
        online=online,
        last_seen=device.last_seen,
        last_committed_seq=device.last_committed_seq,
        created_at=device.created_at,
        revoked_at=device.revoked_at,
    )


async def _one(device: Device, state: State) -> DeviceOut:
    return _out(device, bool(await state.presence.online_among([device.id])))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_device(body: DeviceCreate, admin: AdminUser, session: DbSession) -> DeviceCreated:
    """Register a device. The token is in this response only; it is stored hashed."""
    device, token = await devices.create_device(session, body.name)
    return DeviceCreated(id=device.id, name=device.name, token=token)


@router.get("")
async def list_devices(user: CurrentUser, state: State, session: DbSession) -> list[DeviceOut]:
    found = await devices.list_devices(session)
    online = await state.presence.online_among([d.id for d in found])
    return [_out(d, d.id in online) for d in found]


@router.get("/{device_id}")
async def get_device(
    device_id: uuid.UUID, user: CurrentUser, state: State, session: DbSession
) -> DeviceOut:
    return await _one(await devices.get_device(session, device_id), state)


@router.post("/{device_id}/revoke")
async def revoke_device(
    device_id: uuid.UUID, admin: AdminUser, state: State, session: DbSession
) -> DeviceOut:
    """Revoke the device's token; its live uplink is closed (1008) right away."""
    was_revoked = (await devices.get_device(session, device_id)).revoked_at is not None
    device = await devices.revoke_device(session, device_id)
    await session.commit()
    await state.devices.disconnect(device_id, 1008, "device token revoked")
    if not was_revoked:
        await state.event_log.write(event_log.device_revoked(device.id, device.name, admin))
    return await _one(device, state)
