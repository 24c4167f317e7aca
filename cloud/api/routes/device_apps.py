"""``/api/v1/devices/{device_id}/apps``: each app's UI, commands and config, and setting it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, status
from pydantic import BaseModel

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, State, commit_and_wake
from cloud.api.schemas import ChannelWriteOut
from cloud.live.observers import OBSERVERS_CHANNEL, observer_patch
from cloud.services import device_apps
from cloud.services.channel_writes import create_write
from cloud.services.devices import get_device

__all__ = ["AppOut", "router"]

router = APIRouter(prefix="/devices/{device_id}/apps", tags=["apps"])


class AppOut(BaseModel):
    app_key: str
    display_name: str
    config_schema: dict[str, Any] | None
    config: dict[str, Any]
    ui: dict[str, Any] | None
    ui_cmds: dict[str, Any]
    ui_updated_at: datetime | None
    pending_writes: list[ChannelWriteOut]


def _out(app: device_apps.DeviceApp) -> AppOut:
    return AppOut(
        app_key=app.app_key,
        display_name=app.display_name,
        config_schema=app.config_schema,
        config=app.config,
        ui=app.ui,
        ui_cmds=app.ui_cmds,
        ui_updated_at=app.ui_updated_at,
        pending_writes=[ChannelWriteOut.of(w) for w in app.pending_writes],
    )


@router.get("")
async def list_apps(device_id: uuid.UUID, user: CurrentUser, session: DbSession) -> list[AppOut]:
    return [_out(app) for app in await device_apps.list_apps(session, device_id)]


@router.get("/{app_key}")
async def get_app(
    device_id: uuid.UUID, app_key: str, user: CurrentUser, session: DbSession
) -> AppOut:
    return _out(await device_apps.get_app(session, device_id, app_key))


@router.post("/observe", status_code=status.HTTP_204_NO_CONTENT)
async def observe(
    device_id: uuid.UUID, user: CurrentUser, state: State, session: DbSession
) -> None:
    """Heartbeat of a page showing the device's apps (every few seconds while it is open):
    the apps' ``is_being_observed()`` is true until ``REVLINK_OBSERVER_TTL_SECONDS`` after
    the last one. Viewers count too: watching is not acting."""
    await get_device(session, device_id)
    observer = str(user.public_id)
    if not state.observers.knows(device_id, observer):
        await create_write(
            session,
            device_id,
            OBSERVERS_CHANNEL,
            observer_patch(observer, present=True),
            now=datetime.now(UTC),
        )
        # Counted as watching only once written, so a failed write is tried again.
        await commit_and_wake(session, state, device_id)
    state.observers.heartbeat(device_id, observer, asyncio.get_running_loop().time())


@router.put("/{app_key}/config", status_code=status.HTTP_202_ACCEPTED)
async def set_config(
    device_id: uuid.UUID,
    app_key: str,
    config: Annotated[dict[str, Any], Body()],
    user: OperatorUser,
    state: State,
    session: DbSession,
) -> ChannelWriteOut:
    """Check the config against the app's published schema (422 names each bad field) and
    send it to the device through ``deployment_config``; a running app gets it live."""
    write = await device_apps.set_app_config(
        session, device_id, app_key, config, by=user.email, now=datetime.now(UTC)
    )
    out = ChannelWriteOut.of(write)
    await commit_and_wake(session, state, device_id)
    return out
