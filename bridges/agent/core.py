"""The agent's domain core: publish into the durable queue, fan out locally, report state.

No gRPC and no WebSocket in here: the servicer translates requests into these calls and the
uplink reads the queue and reports through :class:`UplinkState`. Queue calls run in worker
threads (SQLite fsyncs), so the event loop keeps serving streams while a publish commits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bridges.agent.committer import GroupCommitter
from bridges.agent.hub import ChannelEvent, ChannelHub
from bridges.agent.queue.store import (
    ChannelState,
    DurableQueue,
    PublishItem,
    PublishResult,
    QueueFullError,
    QueueStats,
)
from revlink.channels import InvalidPayloadError, check_channel

__all__ = [
    "MAX_RECORD_BYTES",
    "AgentStatus",
    "CloudWriteOutcome",
    "CommandOutcome",
    "DeviceAgent",
    "UplinkState",
]

# A record must fit in one uplink frame with room to spare, or it could never be delivered
# and would block everything queued behind it.
MAX_RECORD_BYTES = 256 * 1024


@dataclass
class UplinkState:
    """What the uplink loop reports about the cloud connection."""

    enabled: bool = False
    connected: bool = False
    device_id: str = ""
    last_error: str = ""
    cloud_url: str = ""


@dataclass(frozen=True, slots=True)
class AgentStatus:
    queue: QueueStats
    uplink: UplinkState
    now_ns: int

    @property
    def oldest_unsent_age_ns(self) -> int:
        oldest = self.queue.oldest_enqueued_at_ns
        return max(0, self.now_ns - oldest) if oldest is not None else 0


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What became of a cloud command: handed to subscribers, or why not."""

    delivered: bool
    detail: str = ""
    expired: bool = False


@dataclass(frozen=True, slots=True)
class CloudWriteOutcome:
    """What became of a cloud write: applied now, applied before (a resend), or refused."""

    duplicate: bool = False
    refused: str = ""  # why, when refused


class DeviceAgent:
    def __init__(self, queue: DurableQueue, hub: ChannelHub | None = None) -> None:
        self.queue = queue
        self.committer = GroupCommitter(queue)
        self.hub = hub or ChannelHub()
        self.uplink = UplinkState()
        self.queue_changed = asyncio.Event()  # wakes the uplink sender

    async def publish(
        self,
        channel: str,
        message_json: str = "",
        aggregate_json: str = "",
        *,
        replace_aggregate: bool = False,
        source_time_ns: int | None = None,
        idempotency_key: str = "",
        no_datapoints: bool = False,
    ) -> PublishResult:
        check_channel(channel)
        size = len(message_json.encode()) + len(aggregate_json.encode())
        if size > MAX_RECORD_BYTES:
            raise InvalidPayloadError(
                f"record of {size} bytes exceeds the limit of {MAX_RECORD_BYTES} bytes"
            )
        result = await self.committer.publish(
            PublishItem(
                channel,
                message_json,
                aggregate_json,
                replace_aggregate,
                source_time_ns,
                idempotency_key,
                no_datapoints,
            )
        )
        if not result.duplicate:
            if message_json:
                self.hub.emit(channel, "message", message_json, seq=result.seq)
            if aggregate_json:
                self.hub.emit(
                    channel, "aggregate", result.aggregate_json, patch_json=aggregate_json
                )
            self.queue_changed.set()
        return result

    async def aggregate(self, channel: str) -> tuple[str, int | None]:
        return await asyncio.to_thread(self.queue.aggregate, channel)

    async def channels(self) -> list[ChannelState]:
        return await asyncio.to_thread(self.queue.channels)

    async def status(self) -> AgentStatus:
        stats = await asyncio.to_thread(self.queue.stats)
        return AgentStatus(stats, self.uplink, time.time_ns())

    def resume_point(self, after_event_id: int = 0) -> int:
        return self.hub.resume_point(after_event_id)

    def events(self, channel: str, after_event_id: int = 0) -> AsyncIterator[ChannelEvent]:
        check_channel(channel)
        return self.hub.events(channel, after_event_id)

    async def deliver_command(
        self,
        command_id: str,
        channel: str,
        payload_json: str,
        expire_time_ns: int = 0,
        seq: int = 0,
    ) -> CommandOutcome:
        """Hand a cloud command to the channel's subscribers, once per ``seq``.

        The seq is noted durably before the hand-over, so a command the cloud sends again
        (its receipt was lost) is answered as delivered without a second delivery; an agent
        killed between the two loses that one command rather than doubling it.
        """
        if expire_time_ns and expire_time_ns < time.time_ns():
            return CommandOutcome(False, "expired before it reached the device", expired=True)
        if seq and not await asyncio.to_thread(self.queue.take_command, seq):
            return CommandOutcome(True, "delivered before")
        listeners = self.hub.subscriber_count(channel)
        self.hub.emit(
            channel,
            "command",
            payload_json,
            command_id=command_id,
            expire_time_ns=expire_time_ns,
        )
        if not listeners:
            return CommandOutcome(False, f"no subscriber on channel {channel!r}")
        return CommandOutcome(True)

    async def apply_cloud_write(
        self, write_seq: int, channel: str, patch_json: str, *, replace: bool = False
    ) -> CloudWriteOutcome:
        """Apply a cloud write to the channel's aggregate, exactly once, and tell subscribers.

        The change is queued for the cloud like any publish (no datapoints: a setting, not a
        reading), so both sides apply it in the same order. A refusal (bad payload, queue
        full) is final for this write: the cloud records it and does not send it again.
        """
        item = PublishItem(
            channel,
            aggregate_json=patch_json,
            replace_aggregate=replace,
            no_datapoints=True,
            channel_write_seq=write_seq,
        )
        try:
            check_channel(channel)
            if len(patch_json.encode()) > MAX_RECORD_BYTES:
                raise InvalidPayloadError(
                    f"write of {len(patch_json.encode())} bytes exceeds the limit of "
                    f"{MAX_RECORD_BYTES} bytes"
                )
            result = await asyncio.to_thread(self.queue.apply_cloud_write, item)
        except (InvalidPayloadError, QueueFullError) as exc:
            return CloudWriteOutcome(refused=str(exc))
        if result.duplicate:
            return CloudWriteOutcome(duplicate=True)
        self.hub.emit(channel, "aggregate", result.aggregate_json, patch_json=patch_json)
        self.queue_changed.set()
        return CloudWriteOutcome()
