"""Commands for devices: kept in the cloud, sent in order, answered by the device.

A command is stored with the device's next command ``seq`` and sent whenever the device is
connected (at once, or on its next connection), in seq order; the device notes each seq
before handing the command to the channel's subscribers, so one sent again (its receipt was
lost) is not delivered twice. A command whose ``expires_at`` passes before it is sent is
marked expired and never sent; the device refuses one that expired on the way.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import CommandState, Device, DeviceCommand
from cloud.services.devices import get_device
from cloud.services.errors import InvalidInputError, NotFoundError
from revlink.channels import InvalidPayloadError, check_channel
from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = [
    "MAX_COMMANDS_LISTED",
    "MAX_COMMAND_BYTES",
    "Outcome",
    "command_frame",
    "create_command",
    "get_command",
    "list_commands",
    "mark_delivered_up_to",
    "record_receipt",
    "sendable_after",
]

MAX_COMMAND_BYTES = 64 * 1024
MAX_COMMANDS_LISTED = 500
_EXPIRED_UNSENT = "expired before it reached the device"


def _encode(payload: dict[str, Any]) -> str:
    try:
        text = json.dumps(payload, allow_nan=False)
    except ValueError:
        raise InvalidInputError(
            "the payload holds NaN or Infinity, which JSON does not allow"
        ) from None
    if len(text.encode()) > MAX_COMMAND_BYTES:
        raise InvalidInputError(f"command payload exceeds {MAX_COMMAND_BYTES} bytes")
    return text


async def create_command(
    session: AsyncSession,
    device_id: uuid.UUID,
    channel: str,
    payload: dict[str, Any],
    *,
    expires_in: timedelta | None,
    created_by: str | None,
    now: datetime,
) -> DeviceCommand:
    """Store a command with the device's next command seq (the caller commits)."""
    try:
        check_channel(channel)
    except InvalidPayloadError as exc:
        raise InvalidInputError(str(exc)) from None
    _encode(payload)
    await get_device(session, device_id)
    seq = (
        await session.execute(
            update(Device)
            .where(Device.id == device_id)
            .values(last_command_seq=Device.last_command_seq + 1)
            .returning(Device.last_command_seq)
        )
    ).scalar_one()
    command = DeviceCommand(
        device_id=device_id,
        seq=seq,
        channel=channel,
        payload=payload,
        state=CommandState.PENDING.value,
        created_at=now,
        created_by=created_by,
        expires_at=now + expires_in if expires_in is not None else None,
    )
    session.add(command)
    await session.flush()
    return command


def command_frame(command: DeviceCommand) -> bytes:
    """The CloudFrame that carries ``command`` to the device."""
    message = pb.Command(
        command_id=str(command.id),
        channel=command.channel,
        payload_json=_encode(command.payload),
        seq=command.seq,
    )
    message.issue_time.FromDatetime(command.created_at)
    if command.expires_at is not None:
        message.expire_time.FromDatetime(command.expires_at)
    return pb.CloudFrame(command=message).SerializeToString()


async def sendable_after(
    session: AsyncSession,
    device_id: uuid.UUID,
    after_seq: int,
    now: datetime,
    limit: int = 100,
    expired: list[Outcome] | None = None,
) -> list[DeviceCommand]:
    """Pending commands above ``after_seq`` in seq order; those expired meanwhile are marked
    so (the caller commits), left out, and added to ``expired`` when it is given."""
    marked = await session.execute(
        update(DeviceCommand)
        .where(
            DeviceCommand.device_id == device_id,
            DeviceCommand.state == CommandState.PENDING.value,
            DeviceCommand.expires_at <= now,
        )
        .values(state=CommandState.EXPIRED.value, detail=_EXPIRED_UNSENT, answered_at=now)
        .returning(DeviceCommand.seq, DeviceCommand.channel)
    )
    if expired is not None:
        expired += [
            Outcome(row.seq, row.channel, CommandState.EXPIRED, _EXPIRED_UNSENT) for row in marked
        ]
    found = await session.scalars(
        select(DeviceCommand)
        .where(
            DeviceCommand.device_id == device_id,
            DeviceCommand.state == CommandState.PENDING.value,
            DeviceCommand.seq > after_seq,
            or_(DeviceCommand.expires_at.is_(None), DeviceCommand.expires_at > now),
        )
        .order_by(DeviceCommand.seq)
        .limit(limit)
    )
    return list(found)


@dataclass(frozen=True)
class Outcome:
    """How one command ended, for the event log."""

    seq: int
    channel: str
    state: CommandState
    detail: str | None


async def record_receipt(
    session: AsyncSession,
    device_id: uuid.UUID,
    receipt: pb.CommandReceipt,
    now: datetime,
) -> Outcome | None:
    """The device answered a command: delivered, refused (with why) or expired. The outcome
    when this answer settled it; None when it was settled already (or is not ours)."""
    try:
        command_id = uuid.UUID(receipt.command_id)
    except ValueError:
        return None  # not one of ours (a command from before commands were kept)
    if receipt.delivered:
        state, detail = CommandState.DELIVERED, None
    elif receipt.expired:
        state, detail = CommandState.EXPIRED, receipt.detail or "expired on the device"
    else:
        state, detail = CommandState.REFUSED, receipt.detail or "refused by the device"
    settled = await session.execute(
        update(DeviceCommand)
        .where(
            DeviceCommand.id == command_id,
            DeviceCommand.device_id == device_id,
            DeviceCommand.state == CommandState.PENDING.value,
        )
        .values(state=state.value, detail=detail, answered_at=now)
        .returning(DeviceCommand.seq, DeviceCommand.channel)
    )
    row = settled.first()
    return None if row is None else Outcome(row.seq, row.channel, state, detail)


async def mark_delivered_up_to(
    session: AsyncSession, device_id: uuid.UUID, up_to_seq: int, now: datetime
) -> list[Outcome]:
    """The device says it took every command up to ``up_to_seq`` (its receipts were lost);
    the outcomes of those this settled."""
    if up_to_seq < 1:
        return []
    settled = await session.execute(
        update(DeviceCommand)
        .where(
            DeviceCommand.device_id == device_id,
            DeviceCommand.seq <= up_to_seq,
            DeviceCommand.state == CommandState.PENDING.value,
        )
        .values(state=CommandState.DELIVERED.value, answered_at=now)
        .returning(DeviceCommand.seq, DeviceCommand.channel)
    )
    return [Outcome(row.seq, row.channel, CommandState.DELIVERED, None) for row in settled]


async def list_commands(
    session: AsyncSession,
    device_id: uuid.UUID,
    *,
    states: Sequence[CommandState] = (),
    limit: int = 50,
) -> list[DeviceCommand]:
    """Newest first."""
    if not 1 <= limit <= MAX_COMMANDS_LISTED:
        raise InvalidInputError(f"limit must be 1-{MAX_COMMANDS_LISTED}")
    await get_device(session, device_id)
    query = select(DeviceCommand).where(DeviceCommand.device_id == device_id)
    if states:
        query = query.where(DeviceCommand.state.in_([s.value for s in states]))
    return list(await session.scalars(query.order_by(DeviceCommand.seq.desc()).limit(limit)))


async def get_command(
    session: AsyncSession, device_id: uuid.UUID, command_id: uuid.UUID
) -> DeviceCommand:
    command = await session.get(DeviceCommand, command_id)
    if command is None or command.device_id != device_id:
        raise NotFoundError(f"device {device_id} has no command {command_id}")
    return command
