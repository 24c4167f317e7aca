"""Instances the cloud manages: its desired set in, reconciled against the host, status out.

The cloud writes the whole set into the aggregate of channel :data:`MANAGED_CHANNEL` on each
change: ``{"managed": {NAME: {"public_id", "plugin_id", "config", "poll_interval_s",
"enabled", "demo_mode"}}, "revision": N}``. Each aggregate is parsed (:func:`parse_desired`),
compared with the host's instances (:func:`plan_changes`) and carried out
(:class:`ManagedInstances`). Only instances marked ``managed`` in the store are changed or
removed; the cloud's entry for a name made on the device is refused. An entry that cannot
be applied (malformed, outside the host's limits, unknown plugin, bad config) is refused
alone, a managed instance under its name removed so that nothing runs settings the cloud
no longer asks for, and it is tried again with the next aggregate. The same aggregate twice
changes nothing, so a subscription's replay after a restart leaves running instances alone.

Statuses go up under ``status`` in the aggregate of ``plugin.NAME``, after each reconcile
and on each change of a runner's state or error, only when they differ from the last one
sent. No gRPC here: the caller feeds aggregates in and gives a :class:`StatusReporter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import structlog

from bridges.plugin_host.errors import InstanceNotFoundError, InvalidInstanceError
from bridges.plugin_host.host import (
    InstanceView,
    PluginHost,
    check_name,
    check_poll_interval,
    parse_config,
)
from bridges.plugin_host.sdk import PluginError
from bridges.plugin_host.store import InstanceSpec

__all__ = [
    "MANAGED_CHANNEL",
    "DesiredInstance",
    "DesiredSet",
    "DesiredSetError",
    "Ids",
    "ManagedInstances",
    "Plan",
    "Refusal",
    "StatusReporter",
    "parse_desired",
    "plan_changes",
]

log = structlog.get_logger(__name__)

MANAGED_CHANNEL = "plugin-host"
REFUSED = "refused"
REMOVED = "removed"


class DesiredSetError(ValueError):
    """The aggregate as a whole is unusable (``managed`` is not an object)."""


class StatusReporter(Protocol):
    def report_status(self, name: str, status: Mapping[str, Any], time: datetime) -> None: ...


class Ids(NamedTuple):
    """What a status names an entry by, as the cloud gave it.

    ``demo_mode`` is carried and reported back only: revlink plugins have no demo mode, so
    it does not change how an instance runs.
    """

    public_id: str = ""
    plugin_id: str = ""
    demo_mode: bool = False


@dataclass(frozen=True, slots=True)
class DesiredInstance:
    """One entry of the cloud's set (see :class:`Ids` for ``demo_mode``)."""

    name: str
    public_id: str
    plugin_id: str
    config: dict[str, Any]
    poll_interval_s: float
    enabled: bool
    demo_mode: bool = False

    @property
    def ids(self) -> Ids:
        return Ids(self.public_id, self.plugin_id, self.demo_mode)

    def same_settings(self, spec: InstanceSpec) -> bool:
        """True when ``spec`` runs these settings; only ``enabled`` may differ."""
        have = (spec.plugin_id, spec.config, spec.poll_interval_s, spec.public_id)
        return have == (self.plugin_id, self.config, self.poll_interval_s, self.public_id)


@dataclass(frozen=True, slots=True)
class Refusal:
    """An entry the host will not run, and why; ids as far as the entry gave them."""

    name: str
    error: str
    ids: Ids


@dataclass(frozen=True, slots=True)
class DesiredSet:
    entries: dict[str, DesiredInstance] = field(default_factory=dict)
    refused: dict[str, Refusal] = field(default_factory=dict)
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do, in this order: remove, replace (remove and create), create, stop, start."""

    remove: tuple[str, ...] = ()
    replace: tuple[DesiredInstance, ...] = ()
    create: tuple[DesiredInstance, ...] = ()
    stop: tuple[str, ...] = ()
    start: tuple[str, ...] = ()
    refuse: tuple[Refusal, ...] = ()

    @property
    def changes_instances(self) -> bool:
        return bool(self.remove or self.replace or self.create or self.stop or self.start)

    def summary(self) -> dict[str, list[str]]:
        """The names in each step, for a log line."""
        return {
            step.name: [getattr(item, "name", item) for item in getattr(self, step.name)]
            for step in fields(self)
        }


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return value if isinstance(value, str) else ""


def _entry(name: str, entry: object) -> DesiredInstance:
    """One entry, checked as the host checks its own requests (in its words, for limits)."""
    if not isinstance(entry, Mapping):
        raise InvalidInstanceError(f"entry {name} must be an object, not {type(entry).__name__}")
    check_name(name)
    public_id, plugin_id = entry.get("public_id"), entry.get("plugin_id")
    if not isinstance(public_id, str) or not public_id:
        raise InvalidInstanceError("public_id must be a non-empty string")
    if not isinstance(plugin_id, str) or not plugin_id:
        raise InvalidInstanceError("plugin_id must be a non-empty string")
    config = entry.get("config")
    if not isinstance(config, Mapping):
        raise InvalidInstanceError(f"config must be an object, not {type(config).__name__}")
    interval = entry.get("poll_interval_s")
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise InvalidInstanceError(
            f"poll_interval_s must be a number, not {type(interval).__name__}"
        )
    enabled, demo_mode = entry.get("enabled"), entry.get("demo_mode", False)
    if not isinstance(enabled, bool) or not isinstance(demo_mode, bool):
        raise InvalidInstanceError("enabled and demo_mode must be true or false")
    return DesiredInstance(
        name,
        public_id,
        plugin_id,
        parse_config(json.dumps(config)),  # the host's size limit, on what it would store
        check_poll_interval(float(interval)),
        enabled,
        demo_mode,
    )


def parse_desired(aggregate: Mapping[str, Any]) -> DesiredSet | None:
    """The cloud's set in the ``plugin-host`` aggregate; None before the cloud wrote one.

    Unknown keys, in the aggregate or in an entry, are ignored. A bad entry is refused
    alone; only ``managed`` that is not an object raises :class:`DesiredSetError`.
    """
    managed = aggregate.get("managed")
    if managed is None:
        return None
    if not isinstance(managed, Mapping):
        raise DesiredSetError(f"managed must be an object, not {type(managed).__name__}")
    revision = aggregate.get("revision")
    desired = DesiredSet(revision=revision if type(revision) is int else None)
    for name, entry in managed.items():
        try:
            desired.entries[name] = _entry(name, entry)
        except InvalidInstanceError as exc:
            given = entry if isinstance(entry, Mapping) else {}
            demo_mode = given.get("demo_mode") is True
            ids = Ids(_text(given, "public_id"), _text(given, "plugin_id"), demo_mode)
            desired.refused[name] = Refusal(name, str(exc), ids)
    return desired


def plan_changes(desired: DesiredSet, current: Iterable[InstanceSpec]) -> Plan:
    """What turns the host's instances (``current``) into the cloud's set."""
    specs = {spec.name: spec for spec in current}
    replace: list[DesiredInstance] = []
    create: list[DesiredInstance] = []
    stop: list[str] = []
    start: list[str] = []
    refuse = list(desired.refused.values())
    for name, want in sorted(desired.entries.items()):
        have = specs.get(name)
        if have is None:
            create.append(want)
        elif not have.managed:
            error = f"an instance named {name} was made on this device; the cloud cannot manage it"
            refuse.append(Refusal(name, error, want.ids))
        elif not want.same_settings(have):
            replace.append(want)
        elif have.enabled != want.enabled:
            (start if want.enabled else stop).append(name)
    # A refused entry's name is absent from entries: a managed instance under it goes too.
    remove = sorted(n for n, s in specs.items() if s.managed and n not in desired.entries)
    return Plan(
        tuple(remove), tuple(replace), tuple(create), tuple(stop), tuple(start), tuple(refuse)
    )


def _channels(view: InstanceView) -> list[dict[str, Any]]:
    return [
        {
            "id": channel.id,
            "name": channel.name,
            "direction": channel.direction.value,
            "unit": channel.unit,
            "min": _finite(channel.min_value),
            "max": _finite(channel.max_value),
        }
        for channel in view.channels
    ]


def _finite(bound: float | None) -> float | None:
    # A plugin may say "no bound" with an infinity, which JSON cannot carry.
    return bound if bound is not None and math.isfinite(bound) else None


def _status(
    state: str, error: str, restarts: int, ids: Ids, channels: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    # Every member every time: the record merges into the aggregate, so none may linger.
    return {"state": state, "error": error, "restarts": restarts, "managed": True} | {
        **ids._asdict(),
        "channels": channels or [],
    }


class ManagedInstances:
    """Keeps the host's managed instances on the cloud's set; reports their statuses.

    Give it each ``plugin-host`` aggregate (:meth:`on_aggregate` is a subscription
    callback) and run :meth:`run` until :meth:`close`. Aggregates are applied one at a time
    and only the newest waiting one counts, since each holds the whole set.
    """

    def __init__(self, host: PluginHost, reporter: StatusReporter) -> None:
        self.host = host
        self.reporter = reporter
        self._latest: Mapping[str, Any] | None = None
        self._wake = asyncio.Event()
        self._closed = False
        # No status goes up before the first set is applied: only it tells the demo_mode.
        self._ready = False
        self._reconciling = False
        self._desired: dict[str, DesiredInstance] = {}
        self._refused: dict[str, Refusal] = {}
        self._sent: dict[str, dict[str, Any]] = {}  # per name, the last status, without time
        self._dirty: set[str] = set()
        self._flush_due = False
        host.state_listeners.append(self._state_changed)

    async def on_aggregate(self, channel: str, aggregate: dict[str, Any]) -> None:
        """The subscription's callback; an aggregate not yet applied is superseded."""
        self._latest = aggregate
        self._wake.set()

    async def run(self) -> None:
        """Apply offered aggregates until :meth:`close`; a step under way is finished."""
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            aggregate, self._latest = self._latest, None
            if aggregate is None or self._closed:
                continue
            try:
                await self.reconcile(aggregate)
            except Exception:  # a bug here must not end cloud management until a restart
                log.exception("plugin.managed_reconcile_failed")

    def close(self) -> None:
        # Not a cancellation: one would be swallowed by a runner's stop under way and leave
        # the store between two steps.
        self._closed = True
        self._wake.set()

    async def reconcile(self, aggregate: Mapping[str, Any]) -> Plan | None:
        """Apply one ``plugin-host`` aggregate; the plan carried out, None if there was none."""
        try:
            desired = parse_desired(aggregate)
        except DesiredSetError as exc:
            log.warning("plugin.managed_set_refused", error=str(exc))
            return None
        if desired is None:
            return None
        before = {view.spec.name: view.spec for view in self.host.list_instances()}
        plan = plan_changes(desired, before.values())
        self._reconciling = True
        try:
            failed = await self._apply(plan)
        finally:
            self._reconciling = False
        self._desired = dict(desired.entries)
        self._refused = {refusal.name: refusal for refusal in plan.refuse} | failed
        self._ready = True
        names = set(self._sent) | set(before) | set(self._desired) | set(self._refused)
        self._dirty.clear()
        for name in sorted(names):
            self._send(name, before.get(name))
        if plan.changes_instances or self._refused:
            log.info("plugin.managed_reconciled", revision=desired.revision, **plan.summary())
        return plan

    async def _apply(self, plan: Plan) -> dict[str, Refusal]:
        failed: dict[str, Refusal] = {}
        for name in plan.remove:
            await self._remove(name)
        for want in plan.replace:  # the host has no update: the new settings start afresh
            await self._remove(want.name)
            await self._create(want, failed)
        for want in plan.create:
            await self._create(want, failed)
        for name in plan.stop:
            await self._switch(name, on=False)
        for name in plan.start:
            await self._switch(name, on=True)
        return failed

    async def _create(self, want: DesiredInstance, failed: dict[str, Refusal]) -> None:
        try:
            await self.host.create(
                want.name,
                want.plugin_id,
                json.dumps(want.config),
                want.poll_interval_s,
                start=want.enabled,
                managed=True,
                public_id=want.public_id,
            )
        except (PluginError, OSError) as exc:  # the host's refusal, or a store it cannot write
            failed[want.name] = Refusal(want.name, str(exc), want.ids)
            log.warning("plugin.managed_refused", instance=want.name, error=str(exc))

    async def _remove(self, name: str) -> None:
        with contextlib.suppress(InstanceNotFoundError):  # removed on the device meanwhile
            await self.host.remove(name)

    async def _switch(self, name: str, *, on: bool) -> None:
        try:
            await (self.host.start(name) if on else self.host.stop(name))
        except (PluginError, OSError) as exc:  # its plugin is gone: the status shows the error
            log.warning("plugin.managed_switch_failed", instance=name, start=on, error=str(exc))

    # -- statuses -----------------------------------------------------------------------------

    def _state_changed(self, name: str) -> None:
        self._dirty.add(name)
        if not self._flush_due:  # one report for the changes of one step of the loop
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        if self._reconciling or not self._ready:
            return  # the reconcile ends by reporting every name
        dirty, self._dirty = self._dirty, set()
        for name in sorted(dirty):
            self._send(name, None)

    def _send(self, name: str, spec: InstanceSpec | None) -> None:
        """Report ``name``'s status if it changed; ``spec`` is what it was before a removal."""
        status = self._status(name)
        if status is None:
            last = self._sent.pop(name, None)
            if last is not None:
                ids = Ids(last["public_id"], last["plugin_id"], last["demo_mode"])
            elif spec is not None and spec.managed:  # removed before anything was sent
                ids = Ids(spec.public_id, spec.plugin_id)
            else:
                return
            self._emit(name, _status(REMOVED, "", 0, ids))
            return
        if self._sent.get(name) != status:
            self._sent[name] = status
            self._emit(name, status)

    def _emit(self, name: str, status: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        self.reporter.report_status(name, {**status, "time": now.isoformat()}, now)

    def _status(self, name: str) -> dict[str, Any] | None:
        refusal = self._refused.get(name)
        if refusal is not None:
            return _status(REFUSED, refusal.error, 0, refusal.ids)
        try:
            view = self.host.status(name)
        except InstanceNotFoundError:
            return None
        if not view.spec.managed:
            return None
        want = self._desired.get(name)
        ids = Ids(view.spec.public_id, view.spec.plugin_id, want.demo_mode if want else False)
        return _status(view.state.value, view.last_error, view.restart_count, ids, _channels(view))
