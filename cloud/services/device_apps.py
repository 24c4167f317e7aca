"""A device's apps as the dashboard sees them: manifest, UI, commands, config, pending writes.

Everything here is read from the channel aggregates the device sends up (pydoover's shapes):
``app_manifests`` ``{app_key: {display_name, config_schema}}`` (each app publishes its own
entry when it starts), ``ui_state`` ``{"state": {"children": {app_key: ui}}}``, ``ui_cmds``
``{"cmds": {name: value}}`` and ``deployment_config`` ``{"applications": {app_key: config}}``.
A person's config for an app is checked against the schema the app published, kept in
``app_configs`` and sent to the device as a ``deployment_config`` channel write.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import AppConfig, ChannelAggregate, ChannelWrite, WriteState
from cloud.services.channel_writes import create_write, list_writes
from cloud.services.devices import get_device
from cloud.services.errors import ConfigInvalidError, InvalidInputError, NotFoundError
from revlink.channels import merge_diff, merge_patch

__all__ = [
    "DEPLOYMENT_CHANNEL",
    "MANIFEST_CHANNEL",
    "RESERVED_CONFIG_KEYS",
    "UI_CMDS_CHANNEL",
    "UI_STATE_CHANNEL",
    "DeviceApp",
    "get_app",
    "list_apps",
    "set_app_config",
]

MANIFEST_CHANNEL = "app_manifests"
UI_STATE_CHANNEL = "ui_state"
UI_CMDS_CHANNEL = "ui_cmds"
DEPLOYMENT_CHANNEL = "deployment_config"
# Set by the deployment, not by a person: kept as they are when a person edits the config.
RESERVED_CONFIG_KEYS = frozenset({"APP_DISPLAY_NAME", "AGENT_ID"})
_CHANNELS = (MANIFEST_CHANNEL, UI_STATE_CHANNEL, UI_CMDS_CHANNEL, DEPLOYMENT_CHANNEL)


@dataclass(frozen=True, slots=True)
class DeviceApp:
    app_key: str
    display_name: str
    config_schema: dict[str, Any] | None
    config: dict[str, Any]
    ui: dict[str, Any] | None
    ui_cmds: dict[str, Any]
    ui_updated_at: datetime | None
    pending_writes: list[ChannelWrite]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class _Aggregates:
    payloads: dict[str, dict[str, Any]]
    updated: dict[str, datetime]

    def manifests(self) -> dict[str, Any]:
        return self.payloads.get(MANIFEST_CHANNEL, {})

    def ui_children(self) -> dict[str, Any]:
        state = _object(self.payloads.get(UI_STATE_CHANNEL, {}).get("state"))
        return _object(state.get("children"))

    def cmds(self) -> dict[str, Any]:
        return _object(self.payloads.get(UI_CMDS_CHANNEL, {}).get("cmds"))

    def deployment(self) -> dict[str, Any]:
        return _object(self.payloads.get(DEPLOYMENT_CHANNEL, {}).get("applications"))


async def _aggregates(session: AsyncSession, device_id: uuid.UUID) -> _Aggregates:
    await get_device(session, device_id)
    rows = await session.scalars(
        select(ChannelAggregate).where(
            ChannelAggregate.device_id == device_id, ChannelAggregate.channel.in_(_CHANNELS)
        )
    )
    found = list(rows)
    return _Aggregates(
        {row.channel: _object(row.payload) for row in found},
        {row.channel: row.updated_at for row in found},
    )


def _concerns(write: ChannelWrite, app_key: str) -> bool:
    """Whether a pending write is about this app (its commands, or its config)."""
    if write.channel == UI_CMDS_CHANNEL:
        names: Iterable[str] = _object(write.patch.get("cmds")).keys()
        return any(name.startswith(f"{app_key}_") for name in names)
    return app_key in _object(write.patch.get("applications"))


def _app(app_key: str, aggregates: _Aggregates, pending: list[ChannelWrite]) -> DeviceApp:
    manifest = _object(aggregates.manifests().get(app_key))
    section = _object(aggregates.deployment().get(app_key))
    schema = manifest.get("config_schema")
    ui = aggregates.ui_children().get(app_key)
    shown = _object(ui).get("displayString")
    # The deployment's name first, as pydoover shows it; then what the app's UI calls itself.
    name = section.get("APP_DISPLAY_NAME") or shown or manifest.get("display_name") or app_key
    return DeviceApp(
        app_key=app_key,
        display_name=str(name),
        config_schema=schema if isinstance(schema, dict) else None,
        config={k: v for k, v in section.items() if k not in RESERVED_CONFIG_KEYS},
        ui=ui if isinstance(ui, dict) else None,
        ui_cmds=aggregates.cmds(),
        ui_updated_at=aggregates.updated.get(UI_STATE_CHANNEL),
        pending_writes=[w for w in pending if _concerns(w, app_key)],
    )


async def _pending(session: AsyncSession, device_id: uuid.UUID) -> list[ChannelWrite]:
    unapplied = (WriteState.PENDING, WriteState.DELIVERED)
    writes: list[ChannelWrite] = []
    for channel in (UI_CMDS_CHANNEL, DEPLOYMENT_CHANNEL):
        writes += await list_writes(
            session, device_id, channel=channel, states=unapplied, limit=500, oldest_first=True
        )
    return sorted(writes, key=lambda w: w.seq)


async def list_apps(session: AsyncSession, device_id: uuid.UUID) -> list[DeviceApp]:
    """Every app the device has told about (manifest, UI or deployment entry), by key."""
    aggregates = await _aggregates(session, device_id)
    keys = aggregates.manifests().keys() | aggregates.ui_children().keys()
    keys |= aggregates.deployment().keys()
    pending = await _pending(session, device_id)
    return [_app(key, aggregates, pending) for key in sorted(keys)]


async def get_app(session: AsyncSession, device_id: uuid.UUID, app_key: str) -> DeviceApp:
    for app in await list_apps(session, device_id):
        if app.app_key == app_key:
            return app
    raise NotFoundError(f"device {device_id} has no app {app_key!r}")


def _problems(
    schema: dict[str, Any], config: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    try:
        validator = Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))
    except SchemaError as exc:  # the app published a schema that is not one
        raise InvalidInputError(f"the app's config schema is not valid: {exc.message}") from None
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for error in errors:
        problems.extend(_located(error))
    return problems


def _located(error: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    path = tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # Name the missing field itself, not the object that lacks it.
        required: Any = error.validator_value
        missing = [p for p in required if p not in error.instance]
        return [((*path, name), "is required") for name in missing]
    return [(path, error.message)]


async def set_app_config(
    session: AsyncSession,
    device_id: uuid.UUID,
    app_key: str,
    config: dict[str, Any],
    *,
    by: str | None,
    now: datetime,
) -> ChannelWrite:
    """Check ``config`` against the app's schema, keep it, and send it to the device."""
    aggregates = await _aggregates(session, device_id)
    manifest = _object(aggregates.manifests().get(app_key))
    schema = manifest.get("config_schema")
    if not manifest:
        raise NotFoundError(
            f"device {device_id} has no app {app_key!r} (an app announces itself when it starts)"
        )
    if not isinstance(schema, dict):
        raise InvalidInputError(f"app {app_key!r} has no config schema, so it takes no config")
    reserved = sorted(RESERVED_CONFIG_KEYS & config.keys())
    if reserved:
        raise ConfigInvalidError([((reserved[0],), "is set by the deployment, not here")])
    problems = _problems(schema, config)
    if problems:
        raise ConfigInvalidError(problems)
    section = _object(aggregates.deployment().get(app_key))
    stored = await session.get(AppConfig, (device_id, app_key))
    before = merge_patch(section, stored.config if stored else {})
    wanted = {**{k: v for k, v in before.items() if k in RESERVED_CONFIG_KEYS}, **config}
    patch = {"applications": {app_key: merge_diff(before, wanted)}}
    write = await create_write(
        session, device_id, DEPLOYMENT_CHANNEL, patch, created_by=by, now=now
    )
    if stored is None:
        session.add(
            AppConfig(
                device_id=device_id,
                app_key=app_key,
                config=config,
                updated_at=now,
                updated_by=by,
                write_id=write.id,
            )
        )
    else:
        stored.config, stored.updated_at, stored.updated_by = config, now, by
        stored.write_id = write.id
    await session.flush()
    return write
