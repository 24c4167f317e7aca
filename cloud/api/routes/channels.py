"""``/api/v1/devices/{device_id}/channels``: a device's channels, messages and aggregates,
and writing an aggregate from the cloud (a channel write the device applies)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, State, commit_and_wake
from cloud.api.schemas import ChannelWriteOut
from cloud.db.base import MAX_BIGINT
from cloud.services import channel_writes, channels

__all__ = ["AggregateOut", "ChannelOut", "MessageOut", "MessagesOut", "router"]

router = APIRouter(prefix="/devices/{device_id}/channels", tags=["channels"])


class ChannelOut(BaseModel):
    channel: str
    message_count: int
    last_message_at: datetime | None
    last_seq: int | None
    aggregate_updated_at: datetime | None
    updated_at: datetime | None


class MessageOut(BaseModel):
    seq: int
    ts: datetime
    received_at: datetime
    payload: dict[str, Any]


class MessagesOut(BaseModel):
    """``next_before``/``next_before_seq`` are set when the page is full: pass both back."""

    device_id: uuid.UUID
    channel: str
    messages: list[MessageOut]
    next_before: datetime | None
    next_before_seq: int | None


class AggregateOut(BaseModel):
    device_id: uuid.UUID
    channel: str
    payload: dict[str, Any]
    seq: int
    updated_at: datetime


@router.get("")
async def list_channels(
    device_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> list[ChannelOut]:
    summaries = await channels.list_channels(session, device_id)
    return [
        ChannelOut(
            channel=s.channel,
            message_count=s.message_count,
            last_message_at=s.last_message_at,
            last_seq=s.last_seq,
            aggregate_updated_at=s.aggregate_updated_at,
            updated_at=s.updated_at,
        )
        for s in summaries
    ]


@router.get("/{channel}/messages")
async def list_messages(
    device_id: uuid.UUID,
    channel: str,
    user: CurrentUser,
    session: DbSession,
    start: Annotated[datetime | None, Query(description="inclusive")] = None,
    end: Annotated[datetime | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=channels.MAX_MESSAGES)] = 100,
    before: Annotated[datetime | None, Query(description="only messages older than this")] = None,
    before_seq: Annotated[
        int | None, Query(ge=0, le=MAX_BIGINT, description="with before: tie-break on seq")
    ] = None,
) -> MessagesOut:
    """Newest first (source time, then seq)."""
    found = await channels.channel_messages(
        session,
        device_id,
        channel,
        start=start,
        end=end,
        limit=limit,
        before=before,
        before_seq=before_seq,
    )
    full = len(found) == limit
    return MessagesOut(
        device_id=device_id,
        channel=channel,
        messages=[
            MessageOut(seq=m.seq, ts=m.ts, received_at=m.received_at, payload=m.payload)
            for m in found
        ],
        next_before=found[-1].ts if full else None,
        next_before_seq=found[-1].seq if full else None,
    )


@router.get("/{channel}/aggregate")
async def get_aggregate(
    device_id: uuid.UUID, channel: str, user: CurrentUser, session: DbSession
) -> AggregateOut:
    aggregate = await channels.channel_aggregate(session, device_id, channel)
    return AggregateOut(
        device_id=aggregate.device_id,
        channel=aggregate.channel,
        payload=aggregate.payload,
        seq=aggregate.seq,
        updated_at=aggregate.updated_at,
    )


AggregateBody = Annotated[
    dict[str, Any],
    Body(description="A JSON object", examples=[{"cmds": {"pump_station_start": True}}]),
]


async def _write(
    state: State,
    session: DbSession,
    user: OperatorUser,
    device_id: uuid.UUID,
    channel: str,
    body: dict[str, Any],
    *,
    replace: bool,
) -> ChannelWriteOut:
    write = await channel_writes.create_write(
        session,
        device_id,
        channel,
        body,
        replace=replace,
        created_by=user.email,
        now=datetime.now(UTC),
    )
    out = ChannelWriteOut.of(write)
    await commit_and_wake(session, state, device_id)
    return out


@router.patch("/{channel}/aggregate", status_code=status.HTTP_202_ACCEPTED)
async def patch_aggregate(
    device_id: uuid.UUID,
    channel: str,
    body: AggregateBody,
    user: OperatorUser,
    state: State,
    session: DbSession,
) -> ChannelWriteOut:
    """Merge-patch (RFC 7396) the channel's aggregate on the device.

    Kept in the cloud and delivered in order, exactly once, also after the device was
    offline. The device applies it where it stands in the device's own order of changes, and
    the result comes back up, so device and cloud end with the same aggregate; the last change
    applied on the device wins.
    """
    return await _write(state, session, user, device_id, channel, body, replace=False)


@router.put("/{channel}/aggregate", status_code=status.HTTP_202_ACCEPTED)
async def replace_aggregate(
    device_id: uuid.UUID,
    channel: str,
    body: AggregateBody,
    user: OperatorUser,
    state: State,
    session: DbSession,
) -> ChannelWriteOut:
    """Replace the channel's aggregate on the device (delivered like a PATCH)."""
    return await _write(state, session, user, device_id, channel, body, replace=True)
