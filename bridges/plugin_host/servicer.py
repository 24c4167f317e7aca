"""gRPC face of the plugin host: translates messages and maps errors to status codes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc

from bridges.plugin_host.discovery import DiscoveredPlugin
from bridges.plugin_host.errors import (
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidInstanceError,
    PluginUnavailableError,
)
from bridges.plugin_host.host import InstanceView, PluginHost, WatcherTooSlowError
from bridges.plugin_host.runner import InstanceState, PluginFaultError, Reading
from bridges.plugin_host.sdk import (
    Channel,
    ChannelNotWritableError,
    Direction,
    InvalidConfigError,
    UnknownChannelError,
)
from revlink.plugin_values import from_channel_value, to_channel_value
from revlink.plugins.v1 import plugins_pb2 as pb
from revlink.plugins.v1 import plugins_pb2_grpc as pb_grpc

__all__ = ["SERVICE_NAME", "PluginHostServicer"]

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["PluginHostService"].full_name

Context = grpc.aio.ServicerContext[Any, Any]

# Order matters: the first matching type wins.
_STATUS: list[tuple[type[Exception], grpc.StatusCode]] = [
    (InvalidConfigError, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidInstanceError, grpc.StatusCode.INVALID_ARGUMENT),
    (InstanceNotFoundError, grpc.StatusCode.NOT_FOUND),
    (UnknownChannelError, grpc.StatusCode.NOT_FOUND),
    (PluginUnavailableError, grpc.StatusCode.NOT_FOUND),
    (InstanceExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (ChannelNotWritableError, grpc.StatusCode.FAILED_PRECONDITION),
    (PluginFaultError, grpc.StatusCode.FAILED_PRECONDITION),
    (WatcherTooSlowError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
]

_STATES = {
    InstanceState.CONFIGURED: pb.INSTANCE_STATE_CONFIGURED,
    InstanceState.CONNECTING: pb.INSTANCE_STATE_CONNECTING,
    InstanceState.RUNNING: pb.INSTANCE_STATE_RUNNING,
    InstanceState.ERROR: pb.INSTANCE_STATE_ERROR,
    InstanceState.STOPPED: pb.INSTANCE_STATE_STOPPED,
}

_DIRECTIONS = {
    Direction.INPUT: pb.CHANNEL_DIRECTION_INPUT,
    Direction.OUTPUT: pb.CHANNEL_DIRECTION_OUTPUT,
    Direction.BIDIRECTIONAL: pb.CHANNEL_DIRECTION_BIDIRECTIONAL,
}


@asynccontextmanager
async def _status_codes(context: Context) -> AsyncIterator[None]:
    try:
        yield
    except Exception as exc:
        for kind, code in _STATUS:
            if isinstance(exc, kind):
                await context.abort(code, str(exc))
        raise


def _channel(channel: Channel) -> pb.ChannelDescriptor:
    descriptor = pb.ChannelDescriptor(
        id=channel.id,
        name=channel.name,
        direction=_DIRECTIONS[channel.direction],
        unit=channel.unit,
        min_value=channel.min_value,
        max_value=channel.max_value,
    )
    if channel.safe_value is not None:
        descriptor.safe_value.CopyFrom(to_channel_value(channel.safe_value))
    return descriptor


def _instance(view: InstanceView) -> pb.InstanceStatus:
    status = pb.InstanceStatus(
        name=view.spec.name,
        plugin_id=view.spec.plugin_id,
        state=_STATES[view.state],
        last_error=view.last_error,
        restart_count=view.restart_count,
        config_json=json.dumps(view.spec.config, sort_keys=True),
        channels=[_channel(channel) for channel in view.channels],
    )
    status.poll_interval.FromNanoseconds(round(view.spec.poll_interval_s * 1e9))
    if view.last_poll_ns is not None:
        status.last_poll_time.FromNanoseconds(view.last_poll_ns)
    return status


def _plugin(found: DiscoveredPlugin) -> pb.PluginInfo:
    info = pb.PluginInfo(
        id=found.id,
        distribution=found.distribution,
        entry_point=found.entry_point,
        load_error=found.load_error,
    )
    if found.plugin_class is not None:
        meta = found.plugin_class.meta
        info.name, info.version, info.description = meta.name, meta.version, meta.description
        info.config_schema_json = json.dumps(found.plugin_class.config_schema, sort_keys=True)
    return info


def _reading(reading: Reading) -> pb.ChannelReading:
    message = pb.ChannelReading(
        channel_id=reading.channel_id, value=to_channel_value(reading.value)
    )
    message.time.FromNanoseconds(reading.time_ns)
    return message


class PluginHostServicer(pb_grpc.PluginHostServiceServicer):
    def __init__(self, host: PluginHost) -> None:
        self.host = host

    async def ListPlugins(
        self, request: pb.ListPluginsRequest, context: Context
    ) -> pb.ListPluginsResponse:
        return pb.ListPluginsResponse(plugins=[_plugin(p) for p in self.host.list_plugins()])

    async def CreateInstance(
        self, request: pb.CreateInstanceRequest, context: Context
    ) -> pb.CreateInstanceResponse:
        interval = (
            request.poll_interval.ToNanoseconds() / 1e9
            if request.HasField("poll_interval")
            else None
        )
        async with _status_codes(context):
            view = await self.host.create(
                request.name,
                request.plugin_id,
                request.config_json,
                interval,
                start=request.start,
            )
        return pb.CreateInstanceResponse(instance=_instance(view))

    async def StartInstance(
        self, request: pb.StartInstanceRequest, context: Context
    ) -> pb.StartInstanceResponse:
        async with _status_codes(context):
            view = await self.host.start(request.name)
        return pb.StartInstanceResponse(instance=_instance(view))

    async def StopInstance(
        self, request: pb.StopInstanceRequest, context: Context
    ) -> pb.StopInstanceResponse:
        async with _status_codes(context):
            view = await self.host.stop(request.name)
        return pb.StopInstanceResponse(instance=_instance(view))

    async def RemoveInstance(
        self, request: pb.RemoveInstanceRequest, context: Context
    ) -> pb.RemoveInstanceResponse:
        async with _status_codes(context):
            await self.host.remove(request.name)
        return pb.RemoveInstanceResponse()

    async def ListInstances(
        self, request: pb.ListInstancesRequest, context: Context
    ) -> pb.ListInstancesResponse:
        return pb.ListInstancesResponse(
            instances=[_instance(view) for view in self.host.list_instances()]
        )

    async def GetInstanceStatus(
        self, request: pb.GetInstanceStatusRequest, context: Context
    ) -> pb.GetInstanceStatusResponse:
        async with _status_codes(context):
            view = self.host.status(request.name)
        return pb.GetInstanceStatusResponse(instance=_instance(view))

    async def ReadChannels(
        self, request: pb.ReadChannelsRequest, context: Context
    ) -> pb.ReadChannelsResponse:
        async with _status_codes(context):
            readings = self.host.read(request.instance, list(request.channel_ids))
        return pb.ReadChannelsResponse(readings=[_reading(r) for r in readings])

    async def WriteChannel(
        self, request: pb.WriteChannelRequest, context: Context
    ) -> pb.WriteChannelResponse:
        async with _status_codes(context):
            value = from_channel_value(request.value)
            written, clamped = await self.host.write(request.instance, request.channel_id, value)
        return pb.WriteChannelResponse(written=to_channel_value(written), clamped=clamped)

    async def WatchChannels(
        self, request: pb.WatchChannelsRequest, context: Context
    ) -> AsyncIterator[pb.WatchChannelsResponse]:
        async with (
            _status_codes(context),
            self.host.watch(request.instance, list(request.channel_ids)) as stream,
        ):
            async for name, readings in stream:
                yield pb.WatchChannelsResponse(
                    instance=name, readings=[_reading(r) for r in readings]
                )
