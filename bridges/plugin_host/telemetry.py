"""The plugin host's link to the device agent: readings up, cloud commands down.

Each poll of instance ``NAME`` becomes one record on channel ``plugin.NAME``: the readings
as the message (so the cloud registers one sensor per channel) and, in the aggregate,
``{"readings": {...}}`` with the latest values. An instance's first record in each run of the
host also declares its channels' units and display names, ``{"$fields": {CHANNEL: {"unit",
"name"}}}`` in the aggregate (see :mod:`revlink.fields`), which the cloud puts on their
sensors. Polls never wait for the agent: records go
into a bounded outbox that one worker drains in order, retrying with the same idempotency
key while the agent is away. When the outbox is full the oldest record is dropped, counted
and logged; the agent, not this process, is where records are kept durably.

A cloud command on ``plugin.NAME`` of the form ``{"write": {"CHANNEL": VALUE, ...}}``
writes outputs; the outcome of each write lands in the aggregate under ``writes``. Outcomes
are bookkeeping, published with ``datapoints=False``: the cloud keeps them in the aggregate
and makes no sensors of their numbers. The
agent event id up to which an instance's commands were handled is kept on disk, and the
subscription resumes after it, so commands the agent received while this host was down are
carried out when it returns (those the agent still holds and that have not expired).

The status of a cloud-managed instance (see :mod:`bridges.plugin_host.managed`) goes up the
same way, as bookkeeping under ``status`` in the aggregate of ``plugin.NAME``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.errors import BridgeError, BridgeUnavailableError
from bridges.plugin_host.errors import InstanceNotFoundError
from bridges.plugin_host.host import PluginHost
from bridges.plugin_host.runner import Reading
from bridges.plugin_host.sdk import PluginError
from bridges.plugin_host.store import CommandCursors
from revlink.channels import CHANNEL_PATTERN
from revlink.fields import FIELDS_KEY, field_declarations

__all__ = ["MAX_WRITES_PER_COMMAND", "AgentLink", "channel_for"]

log = structlog.get_logger(__name__)

MAX_WRITES_PER_COMMAND = 64
CURSOR_CHECK_INTERVAL_S = 0.2


def channel_for(instance: str) -> str:
    return f"plugin.{instance}"


@dataclass(frozen=True, slots=True)
class _Record:
    instance: str
    message: dict[str, Any]
    aggregate: dict[str, Any]
    time: datetime
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    datapoints: bool = True  # False for bookkeeping (command outcomes)


def _utc(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC)


def _command_problem(writes: object) -> str:
    """Why a command's ``write`` member cannot be carried out; empty when it can."""
    if not isinstance(writes, Mapping) or not writes:
        return 'a plugin command must be {"write": {"CHANNEL": VALUE, ...}}'
    if len(writes) > MAX_WRITES_PER_COMMAND:
        return f"at most {MAX_WRITES_PER_COMMAND} writes per command, got {len(writes)}"
    return ""


class AgentLink:
    """Registered as a host observer; :meth:`run` drains the outbox until cancelled."""

    def __init__(
        self,
        host: PluginHost,
        agent: DeviceAgentInterface,
        *,
        outbox_size: int = 10_000,
        retry_delay_s: float = 1.0,
        cursors: CommandCursors | None = None,
    ) -> None:
        self.host = host
        self.agent = agent
        self.cursors = cursors or CommandCursors(None)
        # Instances whose subscription has not yet told where it started (no cursor yet).
        self._unplaced: set[str] = set()
        self._placing = asyncio.Event()
        self.retry_delay_s = retry_delay_s
        self.outbox: deque[_Record] = deque()
        self.outbox_size = outbox_size
        self.dropped = 0
        self.published = 0
        # Instances whose field declaration is queued or sent in this run of the host.
        self._declared: set[str] = set()
        self._ready = asyncio.Event()

    # -- HostObserver -----------------------------------------------------------------------

    def instance_added(self, name: str) -> None:
        async def on_command(channel: str, payload: dict[str, Any]) -> None:
            await self.apply_command(name, payload)
            self.cursors.advance(name, self.agent.last_event_id(channel))

        cursor = self.cursors.get(name)
        self.agent.add_subscription(
            channel_for(name), on_command, events=("command",), after_event_id=cursor
        )
        if not cursor:
            self._unplaced.add(name)
            self._placing.set()

    def instance_removed(self, name: str) -> None:
        self.agent.remove_subscription(channel_for(name))
        self._unplaced.discard(name)
        self._declared.discard(name)
        self.cursors.forget(name)

    def readings(self, name: str, readings: list[Reading]) -> None:
        if not readings:
            return
        values = {reading.channel_id: reading.value for reading in readings}
        aggregate: dict[str, Any] = {"readings": values}
        if name not in self._declared:
            self._declared.add(name)
            aggregate |= self._declaration(name)
        self._enqueue(_Record(name, values, aggregate, _utc(max(r.time_ns for r in readings))))

    def _declaration(self, name: str) -> dict[str, Any]:
        """``{"$fields": ...}`` with the units and names of the instance's channels."""
        try:
            channels = self.host.status(name).channels
        except InstanceNotFoundError:  # removed meanwhile
            return {}
        declared, problems = field_declarations(
            {channel.id: {"unit": channel.unit, "name": channel.name} for channel in channels}
        )
        for problem in problems:  # a third-party plugin's; the rest still goes up
            log.warning("plugin.field_declaration_skipped", instance=name, problem=problem)
        if not declared:
            return {}
        return {FIELDS_KEY: {path: meta.as_json() for path, meta in declared.items()}}

    # -- commands ---------------------------------------------------------------------------

    async def apply_command(self, name: str, payload: Mapping[str, Any]) -> None:
        """Carry out ``{"write": {...}}``; every outcome, good or bad, is reported upward."""
        now = datetime.now(UTC)
        writes = payload.get("write")
        problem = _command_problem(writes)
        if problem or not isinstance(writes, Mapping):
            self._report(name, now, {"command_error": {"error": problem, "time": now.isoformat()}})
            log.warning("plugin.command_refused", instance=name, reason=problem)
            return
        outcomes: dict[str, Any] = {}
        for channel_id, value in writes.items():
            outcome: dict[str, Any] = {"requested": value, "time": now.isoformat()}
            try:
                written, clamped = await self.host.write(name, str(channel_id), value)
                outcome |= {"written": written, "clamped": clamped, "error": ""}
            except (PluginError, ValueError, TypeError) as exc:
                outcome |= {"written": None, "clamped": False, "error": str(exc)}
                log.warning("plugin.command_write_failed", instance=name, error=str(exc))
            outcomes[str(channel_id)] = outcome
        self._report(name, now, {"writes": outcomes})

    def report_status(self, name: str, status: Mapping[str, Any], time: datetime) -> None:
        """Put ``{"status": status}`` in the aggregate of ``plugin.NAME`` (no datapoints)."""
        if not CHANNEL_PATTERN.match(channel_for(name)):  # a refused entry's unusable name
            log.warning("plugin.status_unreportable", instance=name[:128])
            return
        self._report(name, time, {"status": dict(status)})

    def _report(self, name: str, time: datetime, aggregate: dict[str, Any]) -> None:
        self._enqueue(_Record(name, {}, aggregate, time, datapoints=False))

    # -- the outbox -------------------------------------------------------------------------

    def _enqueue(self, record: _Record) -> None:
        if len(self.outbox) >= self.outbox_size:
            lost = self.outbox.popleft()
            if FIELDS_KEY in lost.aggregate:  # declare again before the next readings
                self._declared.discard(lost.instance)
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("plugin.outbox_full", dropped=self.dropped, size=self.outbox_size)
        self.outbox.append(record)
        self._ready.set()

    async def run(self) -> None:
        """Drain the outbox and place new cursors until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._drain_outbox())
            group.create_task(self._place_cursors())

    async def _place_cursors(self) -> None:
        # A first cursor is where the subscription started, so that commands sent during a
        # later outage of this host are replayed even if none ever came before it.
        while True:
            await self._placing.wait()
            for name in list(self._unplaced):
                channel = channel_for(name)
                if self.agent.is_channel_synced(channel):
                    self._unplaced.discard(name)
                    if not self.cursors.get(name):
                        self.cursors.advance(name, self.agent.last_event_id(channel))
            if not self._unplaced:
                self._placing.clear()
            await asyncio.sleep(CURSOR_CHECK_INTERVAL_S)

    async def _drain_outbox(self) -> None:
        while True:
            while not self.outbox:
                self._ready.clear()
                await self._ready.wait()
            record = self.outbox[0]
            try:
                await self.agent.publish_to_channel_async(
                    channel_for(record.instance),
                    record.message or None,
                    aggregate=record.aggregate,
                    timestamp=record.time,
                    idempotency_key=record.key,
                    datapoints=record.datapoints,
                )
            except BridgeUnavailableError as exc:
                log.info("plugin.agent_unavailable", error=str(exc)[:200])
                await asyncio.sleep(self.retry_delay_s)
                continue  # the same record again, with the same key
            except BridgeError as exc:  # refused for good (too large, bad value): not retried
                log.warning("plugin.record_refused", instance=record.instance, error=str(exc))
            else:
                self.published += 1
            if self.outbox and self.outbox[0] is record:
                self.outbox.popleft()
