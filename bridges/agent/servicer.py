"""gRPC face of the device agent: translates messages, maps errors to status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from bridges.agent.core import DeviceAgent
from bridges.agent.hub import ChannelEvent, SubscriberTooSlowError
from bridges.agent.queue.store import QueueFullError
from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from revlink.channels import InvalidPayloadError

__all__ = ["SERVICE_NAME", "AgentServicer"]

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["DeviceAgentService"].full_name

Context = grpc.aio.ServicerContext[Any, Any]


def _timestamp(ns: int | None) -> Timestamp | None:
    if not ns:
        return None
    stamp = Timestamp()
    stamp.FromNanoseconds(ns)
    return stamp


def _event(event: ChannelEvent) -> pb.SubscribeResponse:
    reply = pb.SubscribeResponse(event_id=event.event_id, channel=event.channel)
    if event.kind == "message":
        reply.message.message_json = event.payload_json
        reply.message.seq = event.seq
        reply.message.source_time.FromNanoseconds(event.time_ns)
    elif event.kind == "aggregate":
        reply.aggregate.aggregate_json = event.payload_json
        reply.aggregate.patch_json = event.patch_json
        reply.aggregate.update_time.FromNanoseconds(event.time_ns)
    else:
        reply.command.command_id = event.command_id
        reply.command.channel = event.channel
        reply.command.payload_json = event.payload_json
        reply.command.issue_time.FromNanoseconds(event.time_ns)
        if event.expire_time_ns:
            reply.command.expire_time.FromNanoseconds(event.expire_time_ns)
    return reply


class AgentServicer(pb_grpc.DeviceAgentServiceServicer):
    def __init__(self, agent: DeviceAgent) -> None:
        self.agent = agent

    async def Publish(self, request: pb.PublishRequest, context: Context) -> pb.PublishResponse:
        source_ns = request.source_time.ToNanoseconds() if request.HasField("source_time") else None
        try:
            result = await self.agent.publish(
                request.channel,
                request.message_json,
                request.aggregate_json,
                replace_aggregate=request.replace_aggregate,
                source_time_ns=source_ns,
                idempotency_key=request.idempotency_key,
                no_datapoints=request.no_datapoints,
            )
        except InvalidPayloadError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except QueueFullError as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        return pb.PublishResponse(
            seq=result.seq, duplicate=result.duplicate, aggregate_json=result.aggregate_json
        )

    async def GetAggregate(
        self, request: pb.GetAggregateRequest, context: Context
    ) -> pb.GetAggregateResponse:
        aggregate, updated_ns = await self.agent.aggregate(request.channel)
        return pb.GetAggregateResponse(
            channel=request.channel, aggregate_json=aggregate, update_time=_timestamp(updated_ns)
        )

    async def ListChannels(
        self, request: pb.ListChannelsRequest, context: Context
    ) -> pb.ListChannelsResponse:
        channels = await self.agent.channels()
        return pb.ListChannelsResponse(
            channels=[
                pb.ChannelInfo(
                    name=c.name,
                    message_count=c.message_count,
                    aggregate_json=c.aggregate_json if request.include_aggregates else "",
                    update_time=_timestamp(c.updated_at_ns),
                )
                for c in channels
            ]
        )

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: Context
    ) -> AsyncIterator[pb.SubscribeResponse]:
        try:
            # Fixed before the snapshot is read, so nothing emitted meanwhile is missed.
            start = self.agent.resume_point(request.after_event_id)
            events = self.agent.events(request.channel, start)
            if request.send_aggregate:
                aggregate, updated_ns = await self.agent.aggregate(request.channel)
                snapshot = pb.SubscribeResponse(event_id=start, channel=request.channel)
                snapshot.aggregate.aggregate_json = aggregate
                if updated_ns:
                    snapshot.aggregate.update_time.FromNanoseconds(updated_ns)
                yield snapshot
            async for event in events:
                yield _event(event)
        except InvalidPayloadError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except SubscriberTooSlowError as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))

    async def GetStatus(
        self, request: pb.GetStatusRequest, context: Context
    ) -> pb.GetStatusResponse:
        status = await self.agent.status()
        queue, uplink = status.queue, status.uplink
        reply = pb.GetStatusResponse(
            cloud_connected=uplink.connected,
            queue_depth=queue.depth,
            queue_bytes=queue.size_bytes,
            last_acked_seq=queue.last_acked_seq,
            last_enqueued_seq=queue.last_enqueued_seq,
            dropped_records=queue.dropped_records,
            refused_records=queue.refused_records,
            last_applied_write_seq=queue.last_applied_write_seq,
            cloud_url=uplink.cloud_url,
            last_error=uplink.last_error,
        )
        reply.oldest_unsent_age.FromNanoseconds(status.oldest_unsent_age_ns)
        return reply
