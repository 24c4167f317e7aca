"""The device agent from an app: publish, aggregates, subscriptions (pydoover's names).

Every publish carries a fresh idempotency key and its retries reuse it, so a Publish whose
reply was lost (agent restarting) is stored once. Subscriptions resume by themselves after
the agent restarts, from the last event they saw.

``publish_to_channel`` keeps pydoover's channel model: a published payload is merged into
the channel aggregate, and ``record_log`` only decides whether it is also kept as a message;
subscribers get the merged aggregate. :meth:`DeviceAgentInterface.publish` is the plain
record call underneath, with the message and the aggregate patch given apart.

:meth:`DeviceAgentInterface.declare_fields` gives a channel's fields their units and display
names; the cloud puts them on the fields' sensors (see :mod:`revlink.fields`). A publish with
``datapoints=False`` is bookkeeping: stored and shown, but no sensors or datapoints.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from apps.sdk.client import BridgeClient
from apps.sdk.errors import BridgeError, BridgeUnavailableError
from apps.sdk.runtime import callback_loop, dispatch, maybe_async
from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from revlink.fields import FIELDS_KEY, check_fields

__all__ = [
    "DEFAULT_EVENTS",
    "AgentStatus",
    "DeviceAgentInterface",
    "FieldDeclarations",
    "channel_payload",
]


SubscriptionCallback = Callable[[str, dict[str, Any]], Any]
# {"level": {"unit": "%", "name": "Tank level"}}: field path -> unit and/or display name.
FieldDeclarations = Mapping[str, Mapping[str, str]]
ALL_EVENTS = frozenset({"message", "aggregate", "command"})
# pydoover's callbacks see the merged aggregate after each change; raw messages are opt-in.
DEFAULT_EVENTS = frozenset({"aggregate", "command"})
# Where a payload that is not a JSON object goes: the channel keeps it as {"message": text}.
TEXT_KEY = "message"

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AgentStatus:
    cloud_connected: bool
    queue_depth: int
    last_acked_seq: int
    last_enqueued_seq: int
    dropped_records: int


@dataclass
class _Subscription:
    channel: str
    callback: SubscriptionCallback
    events: frozenset[str]
    loop: asyncio.AbstractEventLoop | None
    last_event: int = 0
    follower: asyncio.Task[None] | None = None
    # Set from the SDK loop, read from any thread: a threading.Event, not an asyncio one.
    synced: threading.Event = field(default_factory=threading.Event)


def _expired(command: pb.Command) -> bool:
    return command.HasField("expire_time") and command.expire_time.ToNanoseconds() <= time.time_ns()


def _json(value: Mapping[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, allow_nan=False)


def channel_payload(message: Mapping[str, Any] | str | None) -> Mapping[str, Any] | None:
    """A payload as pydoover takes it: a mapping, a JSON object in a string, or any other
    text, which is kept as ``{"message": text}`` (a channel holds JSON objects)."""
    if message is None or isinstance(message, Mapping):
        return message
    try:
        parsed = json.loads(message)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {TEXT_KEY: message}


class DeviceAgentInterface(BridgeClient):
    name = "device agent"
    stub_class = pb_grpc.DeviceAgentServiceStub
    # Publish always carries an idempotency key, and its retries reuse it.
    idempotent_methods = frozenset({"Publish", "GetAggregate", "ListChannels", "GetStatus"})

    default_uri = "localhost:50051"

    def __init__(
        self,
        app_key: str = "",
        dda_uri: str = default_uri,
        is_async: bool | None = None,
        dda_timeout: float = 7.0,
        max_conn_attempts: int = 5,
        time_between_connection_attempts: float = 10.0,
        **kwargs: Any,
    ):
        """pydoover's arguments in its order; ``dda_timeout`` is each call's deadline.

        ``max_conn_attempts`` and ``time_between_connection_attempts`` are kept for
        pydoover's sake: revlink retries an unavailable agent for ``retry_for`` seconds
        (default 10) with backoff instead.
        """
        kwargs.setdefault("timeout", dda_timeout)
        super().__init__(dda_uri, app_key=app_key, is_async=is_async, **kwargs)
        self.dda_timeout = dda_timeout
        self.max_connection_attempts = max_conn_attempts
        self.time_between_connection_attempts = time_between_connection_attempts
        self._subscriptions: dict[str, list[_Subscription]] = {}
        # pydoover's cached status, kept by every call and stream event and by
        # refresh_status (the application refreshes it every few seconds).
        self.is_dda_available = False
        self.is_dda_online = False
        self.has_dda_been_online = False
        self.agent_id: str | None = None
        self.last_channel_message_ts: dict[str, float] = {}

    async def _call(self, method: str, request: Any, *, timeout: float | None = None) -> Any:
        try:
            reply = await super()._call(method, request, timeout=timeout)
        except BridgeUnavailableError:
            self.is_dda_available = self.is_dda_online = False
            raise
        self.is_dda_available = True
        return reply

    async def publish_async(
        self,
        channel_name: str,
        message: Mapping[str, Any] | None = None,
        *,
        aggregate: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        idempotency_key: str | None = None,
        datapoints: bool = True,
    ) -> int:
        """Store one record: a channel message and/or a merge patch of the aggregate, each
        only when given; returns the record's seq.

        Retries inside this call reuse one idempotency key; pass your own
        ``idempotency_key`` to make a retry of the whole call safe as well.
        ``datapoints=False`` marks the record's numbers as bookkeeping, not readings: the
        cloud keeps the message and aggregate but makes no sensors or datapoints of them.
        """
        request = pb.PublishRequest(
            channel=channel_name,
            message_json=_json(message),
            aggregate_json=_json(aggregate),
            idempotency_key=idempotency_key or uuid.uuid4().hex,
            app_key=self.app_key,
            no_datapoints=not datapoints,
        )
        if timestamp is not None:
            request.source_time.FromDatetime(timestamp)
        reply = await self._call("Publish", request)
        return int(reply.seq)

    async def publish_to_channel_async(
        self,
        channel_name: str,
        message: Mapping[str, Any] | str | None = None,
        record_log: bool = True,
        max_age: float | None = None,
        *,
        aggregate: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        idempotency_key: str | None = None,
        datapoints: bool = True,
    ) -> bool:
        """Publish as pydoover does: ``message`` is merged into the channel aggregate and, with
        ``record_log`` (the default), also kept as a channel message. True once stored;
        failures raise typed errors rather than answering False.

        ``message`` may be a mapping or a string (see :func:`channel_payload`). ``aggregate``
        (revlink's addition) merges that patch instead of the message; ``datapoints`` is
        :meth:`publish_async`'s. ``max_age`` is accepted for pydoover compatibility; every
        record is sent in order.
        """
        payload = channel_payload(message)
        await self.publish_async(
            channel_name,
            payload if record_log else None,
            aggregate=aggregate if aggregate is not None else payload,
            timestamp=timestamp,
            idempotency_key=idempotency_key,
            datapoints=datapoints,
        )
        return True

    async def declare_fields_async(
        self,
        channel_name: str,
        fields: FieldDeclarations,
        *,
        idempotency_key: str | None = None,
    ) -> int:
        """Declare units and display names of a channel's fields; returns the record's seq.

        ``fields`` maps a field path, as in the sensor key ``<channel>.<path>`` (nested
        fields joined by dots), to ``{"unit": ..., "name": ...}``, either may be left out:
        ``declare_fields("tank_level", {"level_percent": {"unit": "%", "name": "Tank
        level"}})``. The cloud sets them on the fields' sensors, now or when they first
        appear, except where a person has edited that unit or name. Declarations merge into
        the channel aggregate under ``$fields`` (a later one for a field replaces what it
        names); the record itself carries no readings. Call it at start-up, before or after
        the first publish; a bad declaration raises ``ValueError`` before anything is sent.
        """
        declarations = {
            path: dict(meta) if isinstance(meta, Mapping) else meta for path, meta in fields.items()
        }
        check_fields({FIELDS_KEY: declarations})  # InvalidPayloadError is a ValueError
        return await self.publish_async(
            channel_name,
            aggregate={FIELDS_KEY: declarations},
            idempotency_key=idempotency_key,
            datapoints=False,
        )

    async def get_channel_aggregate_async(self, channel_name: str) -> dict[str, Any]:
        reply = await self._call("GetAggregate", pb.GetAggregateRequest(channel=channel_name))
        aggregate: dict[str, Any] = json.loads(reply.aggregate_json or "{}")
        return aggregate

    async def get_status_async(self) -> AgentStatus:
        s = await self._call("GetStatus", pb.GetStatusRequest())
        self.is_dda_online = s.cloud_connected
        self.has_dda_been_online = self.has_dda_been_online or s.cloud_connected
        return AgentStatus(
            s.cloud_connected,
            s.queue_depth,
            s.last_acked_seq,
            s.last_enqueued_seq,
            s.dropped_records,
        )

    async def get_is_dda_online_async(self) -> bool:
        """Whether the agent reaches the cloud now (a call; the plain name is the cache)."""
        return (await self.get_status_async()).cloud_connected

    async def get_is_dda_available_async(self) -> bool:
        """True when the agent answers (online or not); a probe, never an exception."""
        self.is_dda_available = await self.health_async()
        if not self.is_dda_available:
            self.is_dda_online = False
        return self.is_dda_available

    async def refresh_status_async(self) -> None:
        """Update the cached status (``is_dda_available``, ``is_dda_online``) from one probe
        and, when the agent answers, one status call; never raises."""
        if not await self.get_is_dda_available_async():
            return
        try:
            await self.get_status_async()
        except BridgeError as exc:
            log.debug("sdk.status_refresh_failed", reason=str(exc))

    async def await_dda_available_async(self, timeout: float = 10) -> bool:
        """Wait until the agent answers, at most ``timeout`` seconds; False if it did not."""
        deadline = time.monotonic() + timeout
        while not await self.get_is_dda_available_async():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    # pydoover's status getters are plain methods answering from the cache, never awaitable
    # and never raising; the ``_async`` methods above ask the agent.

    def get_is_dda_available(self) -> bool:
        return self.is_dda_available

    def get_is_dda_online(self) -> bool:
        return self.is_dda_online

    def get_has_dda_been_online(self) -> bool:
        return self.has_dda_been_online

    def add_subscription(
        self,
        channel_name: str,
        callback: SubscriptionCallback,
        events: Collection[str] = DEFAULT_EVENTS,
        *,
        after_event_id: int = 0,
    ) -> None:
        """Call ``callback(channel, data)`` for the channel's events.

        ``data`` is the merged aggregate (first its current value, then after each change),
        a cloud command's payload, or, when ``events`` asks for ``"message"``, each raw
        message. A command past its expiry time is logged and not delivered. An
        ``async def`` callback runs on the loop that registered it, a plain one in a worker
        thread. Every callback subscribed to a channel is called, each from its own stream.

        ``after_event_id`` (a :meth:`last_event_id` kept from an earlier run) first replays
        the events after it that the agent still holds, so a process that was down misses
        nothing the agent kept.
        """
        unknown = set(events) - ALL_EVENTS
        if unknown:
            raise ValueError(f"unknown events {sorted(unknown)}; choose from {sorted(ALL_EVENTS)}")
        subscription = _Subscription(
            channel_name, callback, frozenset(events), callback_loop(callback), after_event_id
        )
        self._subscriptions.setdefault(channel_name, []).append(subscription)

        def request() -> pb.SubscribeRequest:
            # After a reconnect, resume after the last event seen: nothing twice, nothing lost
            # that the agent still holds.
            return pb.SubscribeRequest(
                channel=channel_name, send_aggregate=True, after_event_id=subscription.last_event
            )

        subscription.follower = self._follow(
            "Subscribe", request, lambda event: self._deliver(subscription, event)
        )

    def remove_subscription(
        self, channel_name: str, callback: SubscriptionCallback | None = None
    ) -> None:
        """Stop calling ``callback`` (every callback when None) for the channel's events; a
        no-op when there is none."""
        subscriptions = self._subscriptions.get(channel_name, [])
        leaving = [s for s in subscriptions if callback is None or s.callback == callback]
        for subscription in leaving:
            subscriptions.remove(subscription)
            if subscription.follower is not None:
                self._unfollow(subscription.follower)
        if not subscriptions:
            self._subscriptions.pop(channel_name, None)

    def last_event_id(self, channel_name: str) -> int:
        """The resume point of the channel's subscriptions: the newest event one has reached."""
        return max((s.last_event for s in self._subscriptions.get(channel_name, [])), default=0)

    def _deliver(self, sub: _Subscription, event: pb.SubscribeResponse) -> None:
        # Not max(): a stream's ids only grow, and its first (the snapshot's) is where the
        # agent really started it, which can be lower after its clock was set back.
        if event.event_id:
            sub.last_event = event.event_id
        self.is_dda_available = True
        kind = event.WhichOneof("event")
        if kind in ("aggregate", "message"):
            self.last_channel_message_ts[sub.channel] = time.time()
        if kind == "aggregate":
            data = json.loads(event.aggregate.aggregate_json or "{}")
            sub.synced.set()
        elif kind == "message":
            data = json.loads(event.message.message_json)
        elif kind == "command":
            if _expired(event.command) and kind in sub.events:
                log.warning(
                    "sdk.command_expired",
                    channel=sub.channel,
                    command_id=event.command.command_id,
                    expired=event.command.expire_time.ToJsonString(),
                )
                return
            data = json.loads(event.command.payload_json)
        else:
            return
        if kind in sub.events:
            dispatch(sub.callback, sub.loop, sub.channel, data)

    def is_channel_synced(self, channel_name: str) -> bool:
        """True once every subscription to the channel has received its aggregate."""
        subscriptions = self._subscriptions.get(channel_name, [])
        return bool(subscriptions) and all(s.synced.is_set() for s in subscriptions)

    async def wait_for_channels_sync_async(
        self, channel_names: Collection[str], timeout: float = 5.0, inter_wait: float = 0.05
    ) -> bool:
        """True once every named subscription has received its channel's aggregate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.is_channel_synced(name) for name in channel_names):
                return True
            await asyncio.sleep(inter_wait)
        return False

    publish = maybe_async(publish_async)
    publish_to_channel = maybe_async(publish_to_channel_async)
    declare_fields = maybe_async(declare_fields_async)
    get_channel_aggregate = maybe_async(get_channel_aggregate_async)
    get_status = maybe_async(get_status_async)
    refresh_status = maybe_async(refresh_status_async)
    await_dda_available = maybe_async(await_dda_available_async)
    wait_for_channels_sync = maybe_async(wait_for_channels_sync_async)
