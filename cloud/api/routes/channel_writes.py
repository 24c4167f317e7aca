"""``/api/v1/devices/{device_id}/channel-writes``: the cloud's writes to a device's channels."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from cloud.api.deps import CurrentUser, DbSession
from cloud.api.schemas import ChannelWriteOut
from cloud.models import WriteState
from cloud.services import channel_writes

__all__ = ["router"]

router = APIRouter(prefix="/devices/{device_id}/channel-writes", tags=["channels"])


@router.get("")
async def list_channel_writes(
    device_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    channel: str | None = None,
    state: Annotated[list[WriteState] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=channel_writes.MAX_WRITES_LISTED)] = 100,
) -> list[ChannelWriteOut]:
    """Newest first; ``state`` may be given more than once."""
    found = await channel_writes.list_writes(
        session, device_id, channel=channel, states=state or (), limit=limit
    )
    return [ChannelWriteOut.of(w) for w in found]


@router.get("/{write_id}")
async def get_channel_write(
    device_id: uuid.UUID, write_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> ChannelWriteOut:
    return ChannelWriteOut.of(await channel_writes.get_write(session, device_id, write_id))
