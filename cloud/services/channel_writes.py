"""Cloud → device channel writes: stored, numbered per device, delivered in order, tracked.

The one rule when the device and the cloud both change a channel: **the device's order
decides.** A cloud write is applied on the device when it arrives there, after every change
the device made before and before every change it makes after; the device sends the result
back up like any of its own records, and the cloud's aggregate is only ever built from the
device's records, in the device's order. So the last change *applied on the device* wins, and
both sides hold the same aggregate once the device's records are committed. A write the
device has not received yet leaves the cloud's aggregate as it is; it shows as pending.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import ChannelWrite, Device, WriteState
from cloud.services.devices import get_device
from cloud.services.errors import InvalidInputError, NotFoundError
from cloud.services.outgoing import encode_capped, next_device_seq
from revlink.channels import InvalidPayloadError, check_channel
from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = [
    "MAX_WRITES_LISTED",
    "MAX_WRITE_BYTES",
    "create_write",
    "get_write",
    "list_writes",
    "mark_applied",
    "mark_delivered",
    "mark_delivered_up_to",
    "undelivered_after",
    "write_frame",
]

# A write must fit the agent's record limit with room for the record's envelope.
MAX_WRITE_BYTES = 64 * 1024
MAX_WRITES_LISTED = 500


def _encode(patch: dict[str, Any]) -> str:
    return encode_capped(patch, MAX_WRITE_BYTES, "the write")


async def create_write(
    session: AsyncSession,
    device_id: uuid.UUID,
    channel: str,
    patch: dict[str, Any],
    *,
    replace: bool = False,
    created_by: str | None = None,
    now: datetime,
) -> ChannelWrite:
    """Store a write with the device's next write seq (the caller commits)."""
    try:
        check_channel(channel)
    except InvalidPayloadError as exc:
        raise InvalidInputError(str(exc)) from None
    _encode(patch)
    await get_device(session, device_id)
    seq = await next_device_seq(session, device_id, Device.last_write_seq)
    write = ChannelWrite(
        device_id=device_id,
        seq=seq,
        channel=channel,
        patch=patch,
        replace=replace,
        state=WriteState.PENDING.value,
        created_at=now,
        created_by=created_by,
    )
    session.add(write)
    await session.flush()
    return write


def write_frame(write: ChannelWrite) -> bytes:
    """The CloudFrame that carries ``write`` to the device."""
    message = pb.ChannelWrite(
        seq=write.seq,
        write_id=str(write.id),
        channel=write.channel,
        patch_json=_encode(write.patch),
        replace=write.replace,
    )
    message.issue_time.FromDatetime(write.created_at)
    return pb.CloudFrame(channel_write=message).SerializeToString()


async def undelivered_after(
    session: AsyncSession, device_id: uuid.UUID, after_seq: int, limit: int = 100
) -> list[ChannelWrite]:
    """Pending writes above ``after_seq``, in seq order (what the device has yet to get)."""
    found = await session.scalars(
        select(ChannelWrite)
        .where(
            ChannelWrite.device_id == device_id,
            ChannelWrite.state == WriteState.PENDING.value,
            ChannelWrite.seq > after_seq,
        )
        .order_by(ChannelWrite.seq)
        .limit(limit)
    )
    return list(found)


async def mark_delivered(
    session: AsyncSession,
    device_id: uuid.UUID,
    seq: int,
    *,
    refused: str = "",
    now: datetime,
) -> None:
    """The device answered write ``seq``: it has it (or refused it, saying why)."""
    state = WriteState.REFUSED if refused else WriteState.DELIVERED
    await session.execute(
        update(ChannelWrite)
        .where(
            ChannelWrite.device_id == device_id,
            ChannelWrite.seq == seq,
            ChannelWrite.state == WriteState.PENDING.value,
        )
        .values(state=state.value, delivered_at=now, detail=refused or None)
    )


async def mark_delivered_up_to(
    session: AsyncSession, device_id: uuid.UUID, up_to_seq: int, *, now: datetime
) -> None:
    """The device says it applied every write up to ``up_to_seq`` (its ack may have been lost)."""
    if up_to_seq < 1:
        return
    await session.execute(
        update(ChannelWrite)
        .where(
            ChannelWrite.device_id == device_id,
            ChannelWrite.seq <= up_to_seq,
            ChannelWrite.state == WriteState.PENDING.value,
        )
        .values(state=WriteState.DELIVERED.value, delivered_at=now)
    )


async def mark_applied(
    session: AsyncSession, device_id: uuid.UUID, seqs: Sequence[int], *, now: datetime
) -> None:
    """The device's records of these writes are committed (same transaction as the records)."""
    if not seqs:
        return
    for state, values in (
        (WriteState.PENDING, {"delivered_at": now}),  # its ack is still on the way
        (WriteState.DELIVERED, {}),
    ):
        await session.execute(
            update(ChannelWrite)
            .where(
                ChannelWrite.device_id == device_id,
                ChannelWrite.seq.in_(list(seqs)),
                ChannelWrite.state == state.value,
            )
            .values(state=WriteState.APPLIED.value, applied_at=now, **values)
        )


async def list_writes(
    session: AsyncSession,
    device_id: uuid.UUID,
    *,
    channel: str | None = None,
    states: Sequence[WriteState] = (),
    limit: int = 100,
    oldest_first: bool = False,
) -> list[ChannelWrite]:
    if not 1 <= limit <= MAX_WRITES_LISTED:
        raise InvalidInputError(f"limit must be 1-{MAX_WRITES_LISTED}")
    await get_device(session, device_id)
    query = select(ChannelWrite).where(ChannelWrite.device_id == device_id)
    if channel is not None:
        query = query.where(ChannelWrite.channel == channel)
    if states:
        query = query.where(ChannelWrite.state.in_([s.value for s in states]))
    order = ChannelWrite.seq.asc() if oldest_first else ChannelWrite.seq.desc()
    return list(await session.scalars(query.order_by(order).limit(limit)))


async def get_write(
    session: AsyncSession, device_id: uuid.UUID, write_id: uuid.UUID
) -> ChannelWrite:
    write = await session.get(ChannelWrite, write_id)
    if write is None or write.device_id != device_id:
        raise NotFoundError(f"device {device_id} has no channel write {write_id}")
    return write
