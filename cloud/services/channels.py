"""The read side of device channels: which channels exist, their messages, their aggregate.

A channel exists for a device once it has a stored message or an aggregate; the uplink
creates both, so there is no channel table to keep in step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import ChannelAggregate, ChannelMessage
from cloud.services.devices import get_device
from cloud.services.errors import InvalidInputError, NotFoundError

__all__ = [
    "MAX_MESSAGES",
    "ChannelSummary",
    "channel_aggregate",
    "channel_messages",
    "list_channels",
]

MAX_MESSAGES = 1000


@dataclass(frozen=True, slots=True)
class ChannelSummary:
    channel: str
    message_count: int
    last_message_at: datetime | None
    last_seq: int | None
    aggregate_updated_at: datetime | None

    @property
    def updated_at(self) -> datetime | None:
        """The latest of the newest message's time and the aggregate's update."""
        moments = [m for m in (self.last_message_at, self.aggregate_updated_at) if m is not None]
        return max(moments, default=None)


async def list_channels(session: AsyncSession, device_id: uuid.UUID) -> list[ChannelSummary]:
    """Every channel of the device, by name, with message counts and last update times."""
    await get_device(session, device_id)
    counted = await session.execute(
        select(
            ChannelMessage.channel,
            func.count(),
            func.max(ChannelMessage.ts),
            func.max(ChannelMessage.seq),
        )
        .where(ChannelMessage.device_id == device_id)
        .group_by(ChannelMessage.channel)
    )
    messages: dict[str, tuple[int, datetime | None, int | None]] = {
        name: (int(count), last, seq) for name, count, last, seq in counted.all()
    }
    aggregates = dict(
        (
            await session.execute(
                select(ChannelAggregate.channel, ChannelAggregate.updated_at).where(
                    ChannelAggregate.device_id == device_id
                )
            )
        )
        .tuples()
        .all()
    )
    summaries = []
    for name in sorted(messages.keys() | aggregates.keys()):
        count, last, seq = messages.get(name, (0, None, None))
        summaries.append(ChannelSummary(name, count, last, seq, aggregates.get(name)))
    return summaries


async def _require_channel(session: AsyncSession, device_id: uuid.UUID, channel: str) -> None:
    await get_device(session, device_id)
    known = await session.scalar(
        select(
            or_(
                exists().where(
                    ChannelMessage.device_id == device_id, ChannelMessage.channel == channel
                ),
                exists().where(
                    ChannelAggregate.device_id == device_id, ChannelAggregate.channel == channel
                ),
            )
        )
    )
    if not known:
        raise NotFoundError(f"device {device_id} has no channel {channel!r}")


async def channel_messages(
    session: AsyncSession,
    device_id: uuid.UUID,
    channel: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
    before: datetime | None = None,
    before_seq: int | None = None,
) -> list[ChannelMessage]:
    """Messages in [start, end), newest first (by source time, then seq).

    Paging: pass the last message's ``ts`` as ``before`` and its ``seq`` as ``before_seq``
    to continue exactly after it, ties included. Either alone filters on that key only.
    """
    if not 1 <= limit <= MAX_MESSAGES:
        raise InvalidInputError(f"limit must be 1-{MAX_MESSAGES}")
    for label, bound in (("start", start), ("end", end), ("before", before)):
        if bound is not None and bound.tzinfo is None:
            raise InvalidInputError(f"{label} needs a timezone, e.g. 2026-01-01T00:00:00Z")
    if start is not None and end is not None and start >= end:
        raise InvalidInputError(
            f"start ({start.isoformat()}) must be before end ({end.isoformat()})"
        )
    await _require_channel(session, device_id, channel)
    query = select(ChannelMessage).where(
        ChannelMessage.device_id == device_id, ChannelMessage.channel == channel
    )
    if start is not None:
        query = query.where(ChannelMessage.ts >= start)
    if end is not None:
        query = query.where(ChannelMessage.ts < end)
    if before is not None and before_seq is not None:
        query = query.where(
            or_(
                ChannelMessage.ts < before,
                and_(ChannelMessage.ts == before, ChannelMessage.seq < before_seq),
            )
        )
    elif before is not None:
        query = query.where(ChannelMessage.ts < before)
    elif before_seq is not None:
        query = query.where(ChannelMessage.seq < before_seq)
    query = query.order_by(
        ChannelMessage.ts.desc(), ChannelMessage.seq.desc(), ChannelMessage.id.desc()
    )
    return list(await session.scalars(query.limit(limit)))


async def channel_aggregate(
    session: AsyncSession, device_id: uuid.UUID, channel: str
) -> ChannelAggregate:
    """The channel's current aggregate; NotFoundError if the channel has none (or is unknown)."""
    await _require_channel(session, device_id, channel)
    aggregate = await session.get(ChannelAggregate, (device_id, channel))
    if aggregate is None:
        raise NotFoundError(f"channel {channel!r} of device {device_id} has no aggregate yet")
    return aggregate
