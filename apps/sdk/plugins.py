"""The plugin host from an app (or the CLI): plugins, instances, their channels.

Reading is what apps mostly do: ``read_channels("boiler")`` returns the instance's latest
values by channel id. Managing instances (create, start, stop, remove) is here too, so the
``revlink plugins`` commands and an app that sets up its own devices use one client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.sdk.client import BridgeClient
from apps.sdk.runtime import callback_loop, dispatch, maybe_async
from revlink.plugin_values import ChannelScalar, from_channel_value, to_channel_value
from revlink.plugins.v1 import plugins_pb2 as pb
from revlink.plugins.v1 import plugins_pb2_grpc as pb_grpc

__all__ = [
    "ChannelInfo",
    "InstanceInfo",
    "PluginInfo",
    "PluginsInterface",
    "WriteResult",
]

ReadingsCallback = Callable[[str, dict[str, ChannelScalar]], Any]

_STATES = {
    pb.INSTANCE_STATE_CONFIGURED: "configured",
    pb.INSTANCE_STATE_CONNECTING: "connecting",
    pb.INSTANCE_STATE_RUNNING: "running",
    pb.INSTANCE_STATE_ERROR: "error",
    pb.INSTANCE_STATE_STOPPED: "stopped",
}
_DIRECTIONS = {
    pb.CHANNEL_DIRECTION_INPUT: "input",
    pb.CHANNEL_DIRECTION_OUTPUT: "output",
    pb.CHANNEL_DIRECTION_BIDIRECTIONAL: "bidirectional",
}


@dataclass(frozen=True, slots=True)
class PluginInfo:
    id: str
    name: str
    version: str
    description: str
    config_schema: dict[str, Any]
    distribution: str
    entry_point: str
    load_error: str

    @classmethod
    def from_pb(cls, info: pb.PluginInfo) -> PluginInfo:
        schema = json.loads(info.config_schema_json) if info.config_schema_json else {}
        return cls(
            info.id,
            info.name,
            info.version,
            info.description,
            schema,
            info.distribution,
            info.entry_point,
            info.load_error,
        )


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: str
    name: str
    direction: str
    unit: str
    min_value: float | None
    max_value: float | None
    safe_value: ChannelScalar | None

    @classmethod
    def from_pb(cls, channel: pb.ChannelDescriptor) -> ChannelInfo:
        return cls(
            channel.id,
            channel.name,
            _DIRECTIONS.get(channel.direction, "unspecified"),
            channel.unit,
            channel.min_value if channel.HasField("min_value") else None,
            channel.max_value if channel.HasField("max_value") else None,
            from_channel_value(channel.safe_value) if channel.HasField("safe_value") else None,
        )


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    name: str
    plugin_id: str
    state: str
    last_error: str
    restart_count: int
    config: dict[str, Any]
    poll_interval: float
    last_poll_time: datetime | None
    channels: tuple[ChannelInfo, ...]

    @classmethod
    def from_pb(cls, status: pb.InstanceStatus) -> InstanceInfo:
        return cls(
            status.name,
            status.plugin_id,
            _STATES.get(status.state, "unspecified"),
            status.last_error,
            status.restart_count,
            json.loads(status.config_json or "{}"),
            status.poll_interval.ToNanoseconds() / 1e9,
            status.last_poll_time.ToDatetime(tzinfo=UTC)
            if status.HasField("last_poll_time")
            else None,
            tuple(ChannelInfo.from_pb(c) for c in status.channels),
        )


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: ChannelScalar
    clamped: bool


class PluginsInterface(BridgeClient):
    name = "plugin host"
    stub_class = pb_grpc.PluginHostServiceStub
    idempotent_methods = frozenset(
        {
            "ListPlugins",
            "ListInstances",
            "GetInstanceStatus",
            "ReadChannels",
            "WriteChannel",
            "StartInstance",
            "StopInstance",
        }
    )

    default_uri = "localhost:50055"

    def __init__(
        self,
        app_key: str = "",
        plugins_uri: str = default_uri,
        is_async: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(plugins_uri, app_key=app_key, is_async=is_async, **kwargs)

    async def list_plugins_async(self) -> list[PluginInfo]:
        reply = await self._call("ListPlugins", pb.ListPluginsRequest())
        return [PluginInfo.from_pb(p) for p in reply.plugins]

    async def list_instances_async(self) -> list[InstanceInfo]:
        reply = await self._call("ListInstances", pb.ListInstancesRequest())
        return [InstanceInfo.from_pb(i) for i in reply.instances]

    async def get_instance_status_async(self, name: str) -> InstanceInfo:
        reply = await self._call("GetInstanceStatus", pb.GetInstanceStatusRequest(name=name))
        return InstanceInfo.from_pb(reply.instance)

    async def read_channels_async(
        self, instance: str, channel_ids: Collection[str] = ()
    ) -> dict[str, ChannelScalar]:
        """Latest values of the instance's channels (all, or those named) by channel id."""
        reply = await self._call(
            "ReadChannels", pb.ReadChannelsRequest(instance=instance, channel_ids=channel_ids)
        )
        return {r.channel_id: from_channel_value(r.value) for r in reply.readings}

    async def read_channel_async(self, instance: str, channel_id: str) -> ChannelScalar | None:
        """One channel's latest value; None before the instance first read it."""
        return (await self.read_channels_async(instance, [channel_id])).get(channel_id)

    async def write_channel_async(
        self, instance: str, channel_id: str, value: ChannelScalar
    ) -> WriteResult:
        """Write an output; the value is clamped to its min/max (``clamped`` says so)."""
        reply = await self._call(
            "WriteChannel",
            pb.WriteChannelRequest(
                instance=instance, channel_id=channel_id, value=to_channel_value(value)
            ),
        )
        return WriteResult(from_channel_value(reply.written), reply.clamped)

    async def create_instance_async(
        self,
        name: str,
        plugin_id: str,
        config: Mapping[str, Any] | None = None,
        poll_interval: float | None = None,
        *,
        start: bool = False,
    ) -> InstanceInfo:
        request = pb.CreateInstanceRequest(
            name=name, plugin_id=plugin_id, config_json=json.dumps(config or {}), start=start
        )
        if poll_interval is not None:
            request.poll_interval.FromNanoseconds(round(poll_interval * 1e9))
        reply = await self._call("CreateInstance", request)
        return InstanceInfo.from_pb(reply.instance)

    async def start_instance_async(self, name: str) -> InstanceInfo:
        reply = await self._call("StartInstance", pb.StartInstanceRequest(name=name))
        return InstanceInfo.from_pb(reply.instance)

    async def stop_instance_async(self, name: str) -> InstanceInfo:
        reply = await self._call("StopInstance", pb.StopInstanceRequest(name=name))
        return InstanceInfo.from_pb(reply.instance)

    async def remove_instance_async(self, name: str) -> None:
        await self._call("RemoveInstance", pb.RemoveInstanceRequest(name=name))

    def add_readings_callback(
        self, callback: ReadingsCallback, instance: str = "", channel_ids: Collection[str] = ()
    ) -> None:
        """Call ``callback(instance, {channel: value})`` after each poll (of one instance or
        all); it resumes by itself after the plugin host restarts. An ``async def`` callback
        runs on the loop that registered it, a plain one in a worker thread."""
        loop = callback_loop(callback)

        def request() -> pb.WatchChannelsRequest:
            return pb.WatchChannelsRequest(instance=instance, channel_ids=channel_ids)

        def handle(reply: pb.WatchChannelsResponse) -> None:
            values = {r.channel_id: from_channel_value(r.value) for r in reply.readings}
            dispatch(callback, loop, reply.instance, values)

        self._follow("WatchChannels", request, handle)

    list_plugins = maybe_async(list_plugins_async)
    list_instances = maybe_async(list_instances_async)
    get_instance_status = maybe_async(get_instance_status_async)
    read_channels = maybe_async(read_channels_async)
    read_channel = maybe_async(read_channel_async)
    write_channel = maybe_async(write_channel_async)
    create_instance = maybe_async(create_instance_async)
    start_instance = maybe_async(start_instance_async)
    stop_instance = maybe_async(stop_instance_async)
    remove_instance = maybe_async(remove_instance_async)
