"""Commands for devices: kept in the cloud, sent in order, answered by the device.

A command is stored with the device's next command ``seq`` and sent whenever the device is
connected (at once, or on its next connection), in seq order; the device notes each seq
before handing the command to the channel's subscribers, so one sent again (its receipt was
lost) is not delivered twice. A command whose ``expires_at`` passes before it is sent is
marked expired and never sent; the device refuses one that expired on the way.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import CommandState, Device, DeviceCommand
from cloud.services.devices import get_device
from cloud.services.errors import InvalidInputError, NotFoundError
from cloud.services.outgoing import encode_capped, next_device_seq
from revlink.channels import InvalidPayloadError, check_channel
from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = [
    "MAX_COMMANDS_LISTED",
    "MAX_COMMAND_BYTES",
    "DueCommands",
    "Outcome",
    "command_frame",
    "create_command",
    "due_commands",
    "get_command",
    "list_commands",
    "mark_delivered_up_to",
    "record_receipt",
]

MAX_COMMAND_BYTES = 64 * 1024
MAX_COMMANDS_LISTED = 500
_EXPIRED_UNSENT = "expired before it reached the device"


def _encode(payload: dict[str, Any]) -> str:
    return encode_capped(payload, MAX_COMMAND_BYTES, "the command payload")


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
    seq = await next_device_seq(session, device_id, Device.last_command_seq)
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


@dataclass(frozen=True)
class DueCommands:
    """The next pending commands of a device: those to send, and those that expired unsent
    (marked so by :func:`due_commands`)."""

    send: list[DeviceCommand]
    expired: list[Outcome]

    def __len__(self) -> int:
        return len(self.send) + len(self.expired)


async def due_commands(
    session: AsyncSession, device_id: uuid.UUID, after_seq: int, now: datetime, limit: int = 100
) -> DueCommands:
    """Pending commands above ``after_seq`` (those not sent on this connection), in seq order.
    Those whose time ran out are marked expired (the caller commits) instead of sent; with
    none of them this only reads, as it does on every idle look of a connected device."""
    pending = list(
        await session.scalars(
            select(DeviceCommand)
            .where(
                DeviceCommand.device_id == device_id,
                DeviceCommand.state == CommandState.PENDING.value,
                DeviceCommand.seq > after_seq,
            )
            .order_by(DeviceCommand.seq)
            .limit(limit)
        )
    )
    late = [c for c in pending if c.expires_at is not None and c.expires_at <= now]
    if late:
        await session.execute(
            update(DeviceCommand)
            .where(
                DeviceCommand.id.in_([c.id for c in late]),
                DeviceCommand.state == CommandState.PENDING.value,
            )
            .values(state=CommandState.EXPIRED.value, detail=_EXPIRED_UNSENT, answered_at=now)
        )
    return DueCommands(
        send=[c for c in pending if c not in late],
        expired=[Outcome(c.seq, c.channel, CommandState.EXPIRED, _EXPIRED_UNSENT) for c in late],
    )


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
