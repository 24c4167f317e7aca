"""pydoover 0.x's ``UIManager``: an app's UI kept in step with the ``ui_state``,
``ui_cmds`` and ``ui_observers`` channels of the device agent.

- ``ui_state`` holds every app's UI, ``{"state": {"children": {<app_key>: <UI dict>}}}``.
  :meth:`UIManager.push` publishes only what differs from what the channel holds (the
  element diff, wrapped in that shape), so an unchanged UI costs nothing.
- ``ui_cmds`` holds the interactions' values, ``{"cmds": {"<app_key>_<name>": value}}``;
  the cloud writes a person's input there and the app its own ``coerce``\\ d values. Each new
  aggregate is compared with the previous one, and the callbacks of the interactions whose
  value changed run with the new value (so each input runs its callback once).
- ``ui_observers`` (``{"connections": {<id>: true}}``), written by the cloud while someone
  has the app's page open, answers :meth:`UIManager.is_being_observed`.

Both UI channels are published without datapoints: UI values are not sensor readings.
``max_age`` arguments are pydoover's hint for how long the Doover cloud may hold a push
back; revlink's agent streams every record in order, so they are accepted and ignored. A
push whose ``record_log`` is False only merges into the aggregate; a logged one is also
kept as a channel message (the first push, critical changes, one every
``min_ui_update_period`` seconds).

The plain names (``push``, ``pull``, ``handle_comms``, ``clear_ui``, ``publish_to_channel``)
answer in the app's style: awaitable from a coroutine in an async app, blocking otherwise.
"""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import datetime
from typing import Any

import structlog

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.runtime import call_hook, maybe_async, sdk_loop
from apps.sdk.ui.interaction import SlimCommand
from apps.sdk.ui.payload import (
    UI_CHANNELS,
    UI_CMDS,
    UI_OBSERVERS,
    UI_STATE,
    find_object_with_key,
    json_safe,
    wrap_ui_state,
)
from apps.sdk.ui.registry import UIRegistry
from apps.sdk.ui.variable import Variable
from revlink.channels import merge_patch

__all__ = ["UIManager"]

log = structlog.get_logger(__name__)


class UIManager(UIRegistry):
    def __init__(
        self,
        app_key: str | None = None,
        client: DeviceAgentInterface | None = None,
        auto_start: bool = False,
        min_ui_update_period: float = 600,
        min_observed_update_period: float = 4,
        is_async: bool | None = None,
    ) -> None:
        super().__init__(app_key)
        self._is_async = is_async
        self.client = client
        self._subscriptions_ready = False
        self.last_ui_state: dict[str, Any] = {}  # this app's part of the ui_state aggregate
        self.last_ui_state_update: float | None = None
        self.last_ui_state_wss_connections: dict[str, Any] = {}  # the ui_observers aggregate
        self.last_ui_state_wss_connections_update: float | None = None
        self.last_ui_cmds: dict[str, Any] = {}
        self.last_ui_cmds_update: float | None = None
        self.min_ui_update_period = min_ui_update_period
        self.min_observed_update_period = min_observed_update_period
        self._last_pushed_time: float | None = None
        self._last_push_and_log_time: float | None = None
        self._waiting_logged = False
        # The loop the UI callbacks run on: the app's (set by start_comms or the app).
        self.loop: asyncio.AbstractEventLoop | None = None
        if auto_start:
            self.start_comms()

    # -- connection ---------------------------------------------------------------------------

    def start_comms(self) -> None:
        """Subscribe to the UI channels (once); their callbacks run on :attr:`loop`.

        From a worker thread (a sync app's hook) the subscriptions are made on the app's
        loop, which the Application gives the manager before ``setup()``.
        """
        if self._subscriptions_ready:
            return
        if self.client is None:
            log.warning("ui.no_client", app_key=self.app_key)
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is not sdk_loop.loop:
            self.loop = running
            self._setup_subscriptions()
        elif running is None and self.loop is not None:
            asyncio.run_coroutine_threadsafe(self._subscribe_async(), self.loop).result()
        else:
            raise RuntimeError(
                "start the UI comms from async code, or give the UIManager its app's loop "
                "(UIManager.loop) first"
            )

    async def _subscribe_async(self) -> None:
        self._setup_subscriptions()

    def _setup_subscriptions(self) -> None:
        assert self.client is not None
        self._subscriptions_ready = True
        self.client.add_subscription(UI_STATE, self.on_state_update, events=("aggregate",))
        self.client.add_subscription(UI_OBSERVERS, self.on_state_wss_update, events=("aggregate",))
        self.client.add_subscription(UI_CMDS, self.on_command_update_async, events=("aggregate",))

    async def await_comms_sync(self, timeout: float = 5) -> bool:
        """True once each UI channel's aggregate has arrived, False after ``timeout``."""
        if self.client is None or not self._subscriptions_ready:
            return False
        return await self.client.wait_for_channels_sync_async(
            [UI_STATE, UI_CMDS, UI_OBSERVERS], timeout=timeout
        )

    def _is_conn_ready(self) -> bool:
        return self.client is not None and self._subscriptions_ready

    def is_connected(self) -> bool:
        """The agent reaches the cloud (its cached status)."""
        return self._is_conn_ready() and self.client is not None and self.client.get_is_dda_online()

    get_is_connected = is_connected

    def has_been_connected(self) -> bool:
        return self.client is not None and self.client.get_has_dda_been_online()

    get_has_been_connected = has_been_connected

    def is_being_observed(self) -> bool:
        """Someone has this device's apps open: ``ui_observers`` lists a connection (other
        than this device's own agent, as pydoover discounts it)."""
        connections = self.last_ui_state_wss_connections.get("connections")
        if not isinstance(connections, dict):
            return False
        own = self.client.agent_id if self.client is not None else None
        return any(value and key != own for key, value in connections.items())

    # -- what arrives -------------------------------------------------------------------------

    async def on_state_update(self, _: str | None, aggregate: dict[str, Any]) -> None:
        self._set_new_ui_state(aggregate)

    async def on_state_wss_update(self, _: str | None, aggregate: dict[str, Any]) -> None:
        self.last_ui_state_wss_connections = aggregate if isinstance(aggregate, dict) else {}
        self.last_ui_state_wss_connections_update = time.time()

    async def on_command_update_async(self, _: str | None, aggregate: dict[str, Any]) -> None:
        """A new ``ui_cmds`` aggregate: the callbacks of every changed command run with its
        new value (an interaction's own, then the matching ``@ui.callback`` ones). A
        callback that raises is logged; the others still run."""
        previous = self.last_ui_cmds
        commands = self._set_new_ui_cmds(aggregate)
        for name in commands:
            if name not in self._interactions:  # another app's, or not declared yet
                self._interactions[name] = SlimCommand(name)
        for subscriber in self._cmds_subscriptions:
            await self._run_callback(subscriber, "cmds_subscription")
        changed = {k: v for k, v in commands.items() if v != previous.get(k)}
        for name, value in changed.items():
            command = self.get_command(name)
            if command is not None:
                try:
                    await command._handle_new_value_async(value)
                except Exception:
                    log.exception("ui.callback_failed", command=name)
            for pattern, callback in self._command_callbacks:
                if pattern.match(name):
                    await self._run_callback(callback, name, command, value)

    async def _run_callback(self, callback: Any, name: str, *args: Any) -> None:
        try:
            await call_hook(callback, *args)
        except Exception:
            log.exception("ui.callback_failed", command=name, callback=repr(callback))

    on_command_update = maybe_async(on_command_update_async)

    def _set_new_ui_cmds(self, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            payload = {}
        commands = payload.get("cmds", payload)
        commands = commands if isinstance(commands, dict) else {}
        self.last_ui_cmds = copy.deepcopy(commands)
        self.last_ui_cmds_update = time.time()
        return commands

    def _set_new_ui_state(self, payload: Any) -> None:
        state = payload.get("state", payload) if isinstance(payload, dict) else {}
        children = state.get("children") if isinstance(state, dict) else None
        mine = children.get(self.app_key) if isinstance(children, dict) else None
        self.last_ui_state = mine if isinstance(mine, dict) else {}
        self.last_ui_state_update = time.time()
        self._restore_from(self.last_ui_state)

    def _restore_from(self, state: dict[str, Any]) -> None:
        """Let each element see its dict in the channel (a variable without a value takes
        the one kept there)."""
        for key, value in state.items():
            if isinstance(value, dict):
                element = self.get_element(key)
                if element is not None:
                    element.recv_ui_state_update(value)
                else:
                    self._restore_from(value)

    def get_from_ui_state(self, element_name: str) -> Any:
        return find_object_with_key(self.last_ui_state, element_name)

    # -- what is sent ---------------------------------------------------------------------------

    def _get_max_age(self, force_update: bool = False) -> tuple[bool, float]:
        """(whether the push is kept as a message, pydoover's max_age hint)."""
        observed = self.is_being_observed()
        period = self.min_observed_update_period if observed else self.min_ui_update_period
        if force_update or self._has_critical_interaction_pending:
            return True, 1
        if self._last_pushed_time is None or self._last_push_and_log_time is None:
            return True, 1
        if any(v.has_pending_log_request() for v in self._variables()):
            return True, period
        if time.time() - self._last_push_and_log_time > self.min_ui_update_period:
            return True, period
        return False, period

    def set_min_ui_update_period(self, period: float) -> None:
        """How often (seconds) an unchanged-urgency push is kept as a message."""
        self.min_ui_update_period = period

    def _variables(self) -> list[Variable]:
        elements = self._base_container.get_all_elements(Variable)
        return [e for e in elements if isinstance(e, Variable)]

    async def handle_comms_async(self, force_log: bool = False) -> None:
        """The app's per-loop UI step: push what changed (logged when due)."""
        record_log, max_age = self._get_max_age(force_log)
        await self.push_async(record_log, max_age)

    async def publish_to_channel_async(
        self,
        /,
        channel_name: str,
        data: dict[str, Any],
        record_log: bool = True,
        max_age: float | None = None,
        timestamp: datetime | None = None,
        **kwargs: Any,
    ) -> bool:
        """Publish through the app's agent interface; UI channels without datapoints.
        ``max_age`` is ignored (see the module docstring)."""
        if self.client is None:
            raise RuntimeError("this UIManager has no device agent client")
        return await self.client.publish_to_channel_async(
            channel_name,
            json_safe(data),
            record_log,
            timestamp=timestamp,
            datapoints=channel_name not in UI_CHANNELS,
        )

    async def pull_async(self) -> None:
        """Read both UI aggregates now (running the callbacks of changed commands)."""
        if self.client is None:
            return
        commands = await self.client.get_channel_aggregate_async(UI_CMDS)
        state = await self.client.get_channel_aggregate_async(UI_STATE)
        self._set_new_ui_state(state)
        await self.on_command_update_async(None, commands)

    def _check_dda_ready(self) -> bool:
        """Subscribed, and both aggregates arrived: a diff against nothing would resend the
        whole UI and could clear other apps' commands. (pydoover also waited for the
        agent to have been online; revlink's agent keeps what it is given offline.)"""
        ready = self._is_conn_ready() and None not in (
            self.last_ui_state_update,
            self.last_ui_cmds_update,
        )
        if not ready and not self._waiting_logged:
            log.warning("ui.push_waiting_for_sync", app_key=self.app_key)
        self._waiting_logged = not ready
        return ready

    def _wrap_ui_state(self, data: dict[str, Any] | None, clear: bool = False) -> dict[str, Any]:
        return wrap_ui_state(self.app_key, data, clear)

    async def push_async(
        self,
        record_log: bool = True,
        max_age: float | None = None,
        should_remove: bool = True,
        timestamp: datetime | None = None,
        even_if_empty: bool = False,
        only_channels: list[str] | None = None,
        publish_fields: list[str] | None = None,
    ) -> bool:
        """Publish what changed: the app's changed commands to ``ui_cmds``, its UI diff to
        ``ui_state``. False (nothing sent) until the channels are synced."""
        fields = publish_fields or []
        if not self._check_dda_ready():
            return False
        changed = set(self._changed_interactions)
        commands = self._get_commands_update(publish_fields=fields)
        if commands is not None and (only_channels is None or UI_CMDS in only_channels):
            try:
                await self.publish_to_channel_async(
                    UI_CMDS, {"cmds": commands}, True, max_age, timestamp
                )
            except Exception:
                self._changed_interactions |= changed  # sent with the next push instead
                raise
        state = self._get_ui_state_update(should_remove=should_remove, retain_fields=fields)
        wanted = only_channels is None or UI_STATE in only_channels
        if even_if_empty or (state is not None and wanted):
            await self.publish_to_channel_async(
                UI_STATE, self._wrap_ui_state(state), record_log, max_age, timestamp
            )
            # What the channel holds now; the aggregate that follows says the same.
            self.last_ui_state = merge_patch(self.last_ui_state, json_safe(state or {}))
        self._last_pushed_time = time.time()
        if record_log:
            self._last_push_and_log_time = self._last_pushed_time
            for variable in self._variables():
                variable.clear_log_request()
        self._has_critical_interaction_pending = False
        return True

    async def clear_ui_async(self) -> None:
        """Remove this app's whole UI from ``ui_state`` (the app does it at start, before
        publishing its UI afresh)."""
        log.info("ui.clear", app_key=self.app_key)
        await self.publish_to_channel_async(
            UI_STATE, self._wrap_ui_state(None, clear=True), record_log=False, max_age=-1
        )
        self.last_ui_state = {}

    def _get_commands_update(
        self, publish_fields: list[str] | None = None, only_local_changes: bool = True
    ) -> dict[str, Any] | None:
        fields = publish_fields or []
        cloud = self.last_ui_cmds
        local = {k: v._json_safe_current_value() for k, v in self._interactions.items()}
        result = {
            name: value
            for name, value in local.items()
            if name in fields
            or not only_local_changes
            or (cloud.get(name) != value and name in self._changed_interactions)
        }
        self._changed_interactions.clear()
        # A command this app removed (remove_children) is removed from the channel too.
        result.update({name: None for name in cloud if name not in local})
        return result or None

    def _get_ui_state_update(
        self, should_remove: bool = True, retain_fields: list[str] | None = None
    ) -> dict[str, Any] | None:
        return self._base_container.get_diff(
            self.last_ui_state, remove=should_remove, retain_fields=retain_fields or []
        )

    handle_comms = maybe_async(handle_comms_async)
    publish_to_channel = maybe_async(publish_to_channel_async)
    pull = maybe_async(pull_async)
    push = maybe_async(push_async)
    clear_ui = maybe_async(clear_ui_async)
