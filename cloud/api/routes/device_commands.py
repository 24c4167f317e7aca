"""``/api/v1/devices/{device_id}/commands``: commands for a device, kept until it takes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, State, commit_and_wake
from cloud.models import CommandState, DeviceCommand
from cloud.services import commands

__all__ = ["CommandOut", "router"]

router = APIRouter(prefix="/devices", tags=["devices"])


class CommandCreate(BaseModel):
    channel: str
    payload: dict[str, Any]
    expires_in_seconds: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)


class CommandOut(BaseModel):
    """A command and what became of it: ``pending`` (kept until the device is connected),
    ``delivered`` (handed to the channel's subscribers), ``refused`` (``detail`` says why) or
    ``expired`` (its time ran out before the device acted on it)."""

    command_id: uuid.UUID
    device_id: uuid.UUID
    seq: int
    channel: str
    payload: dict[str, Any]
    state: CommandState
    detail: str | None
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    answered_at: datetime | None

    @classmethod
    def of(cls, command: DeviceCommand) -> CommandOut:
        return cls(
            command_id=command.id,
            device_id=command.device_id,
            seq=command.seq,
            channel=command.channel,
            payload=command.payload,
            state=CommandState(command.state),
            detail=command.detail,
            created_at=command.created_at,
            created_by=command.created_by,
            expires_at=command.expires_at,
            answered_at=command.answered_at,
        )


@router.post("/{device_id}/commands", status_code=status.HTTP_202_ACCEPTED)
async def send_command(
    device_id: uuid.UUID, body: CommandCreate, user: OperatorUser, state: State, session: DbSession
) -> CommandOut:
    """Send a command to the device: kept until it is connected (also across restarts), sent
    in order, and answered by the device (delivered, refused with why, or expired)."""
    ttl = timedelta(seconds=body.expires_in_seconds) if body.expires_in_seconds else None
    command = await commands.create_command(
        session,
        device_id,
        body.channel,
        body.payload,
        expires_in=ttl,
        created_by=user.email,
        now=datetime.now(UTC),
    )
    out = CommandOut.of(command)
    await commit_and_wake(session, state, device_id)
    return out


@router.get("/{device_id}/commands")
async def list_commands(
    device_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    state: Annotated[list[CommandState] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=commands.MAX_COMMANDS_LISTED)] = 50,
) -> list[CommandOut]:
    """Newest first; ``state`` may be given more than once."""
    found = await commands.list_commands(session, device_id, states=state or (), limit=limit)
    return [CommandOut.of(c) for c in found]


@router.get("/{device_id}/commands/{command_id}")
async def get_command(
    device_id: uuid.UUID, command_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> CommandOut:
    return CommandOut.of(await commands.get_command(session, device_id, command_id))
