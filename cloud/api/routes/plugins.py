"""``/api/v1/plugins``: plugin instances and their channel mappings, with WebMACS's paths and
shapes.

Without ``device_id`` the list holds the instances bound to no device: the ones a WebMACS
controller reads every 10 s and runs itself (so it never picks up a device's). With
``device_id`` it holds that device's, which its plugin host runs: creating, changing or
deleting one is delivered to the device as a channel write, ``delivery`` says how far that
got, and ``status``/``error_message`` come from what the host reports (WebMACS's
``inactive``/``connected``/``error``/``demo``; ``reported`` has the host's own words).
Anyone logged in reads; admins write (as in WebMACS).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import AdminUser, CurrentUser, DbSession, PageNumber, State, commit_and_wake
from cloud.api.routes.plugin_shapes import (
    ChannelMappingOut,
    PluginInstanceOut,
    PluginStatusOut,
    channels_out,
    instance_out,
)
from cloud.models import ChannelDirection
from cloud.services import channel_mappings, plugins
from cloud.services.paging import MAX_PAGE_SIZE

__all__ = ["router"]

router = APIRouter(prefix="/plugins", tags=["plugins"])

Name = Annotated[str, Field(min_length=1, max_length=255)]


class PluginInstanceCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    plugin_id: str = Field(min_length=1, max_length=100)
    instance_name: Name
    demo_mode: bool = False
    enabled: bool = True
    auto_create_events: bool = Field(
        default=True,
        description="WebMACS's; a device's channels register their events with their first "
        "values either way",
    )
    config_json: str | None = Field(default=None, description="a JSON object, as text")
    device_id: uuid.UUID | None = Field(default=None, description="revlink's: who runs it")
    poll_interval_s: float = Field(default=1.0, description="revlink's")


class PluginInstanceUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    instance_name: Name | None = None
    demo_mode: bool | None = None
    enabled: bool | None = None
    config_json: str | None = None
    poll_interval_s: float | None = None


class PluginPage(BaseModel):
    page: int
    page_size: int
    total: int
    data: list[PluginInstanceOut]


class ChannelMappingCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    channel_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    channel_name: Name
    direction: ChannelDirection
    unit: str = Field(default="", max_length=50)
    event_public_id: uuid.UUID | None = None


class ChannelMappingUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_public_id: uuid.UUID | None = None


class MappingStatus(BaseModel):
    status: Literal["success"] = "success"
    message: str
    public_id: uuid.UUID
    channel_mapping: ChannelMappingOut


class Done(BaseModel):
    status: Literal["success"] = "success"
    message: str


def _now() -> datetime:
    return datetime.now(UTC)


async def _settle(session: DbSession, state: State, device_id: uuid.UUID | None) -> None:
    """A device's set changed: commit the write before waking its link to send it."""
    if device_id is not None:
        await commit_and_wake(session, state, device_id)


@router.get("")
async def list_plugin_instances(
    user: CurrentUser,
    session: DbSession,
    device_id: Annotated[uuid.UUID | None, Query(description="revlink's")] = None,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
) -> PluginPage:
    found, total = await plugins.list_instances(session, device_id, page, page_size)
    data = [await instance_out(session, instance) for instance in found]
    return PluginPage(page=page, page_size=page_size, total=total, data=data)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_plugin_instance(
    body: PluginInstanceCreate, user: AdminUser, session: DbSession, state: State
) -> PluginStatusOut:
    new = plugins.NewInstance(
        plugin_id=body.plugin_id,
        instance_name=body.instance_name,
        demo_mode=body.demo_mode,
        enabled=body.enabled,
        config_json=body.config_json,
        device_id=body.device_id,
        poll_interval_s=body.poll_interval_s,
    )
    instance = await plugins.create_instance(session, new, user, _now())
    out = await instance_out(session, instance)
    await _settle(session, state, instance.device_id)
    return PluginStatusOut(
        message="Plugin instance created.", public_id=instance.public_id, plugin_instance=out
    )


@router.get("/{public_id}")
async def get_plugin_instance(
    public_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> PluginInstanceOut:
    return await instance_out(session, await plugins.get_instance(session, public_id))


@router.put("/{public_id}")
async def update_plugin_instance(
    public_id: uuid.UUID,
    body: PluginInstanceUpdate,
    user: AdminUser,
    session: DbSession,
    state: State,
) -> PluginStatusOut:
    changes = plugins.InstanceChanges(**body.model_dump(exclude_none=True))
    instance = await plugins.update_instance(session, public_id, changes, user, _now())
    out = await instance_out(session, instance)
    await _settle(session, state, instance.device_id)
    return PluginStatusOut(
        message="Plugin instance updated.", public_id=instance.public_id, plugin_instance=out
    )


@router.delete("/{public_id}")
async def delete_plugin_instance(
    public_id: uuid.UUID, user: AdminUser, session: DbSession, state: State
) -> Done:
    instance = await plugins.delete_instance(session, public_id, user, _now())
    await _settle(session, state, instance.device_id)
    return Done(message="Plugin instance successfully deleted.")


@router.get("/{public_id}/channels")
async def list_channel_mappings(
    public_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> list[ChannelMappingOut]:
    """The instance's mappings; for a device's instance also the channels its host reported
    that have none yet (``public_id`` null, ``event_public_id`` the sensor their values
    register under)."""
    return await channels_out(session, await plugins.get_instance(session, public_id))


@router.post("/{public_id}/channels", status_code=status.HTTP_201_CREATED)
async def create_channel_mapping(
    public_id: uuid.UUID, body: ChannelMappingCreate, user: AdminUser, session: DbSession
) -> MappingStatus:
    instance = await plugins.get_instance(session, public_id)
    mapping, event = await channel_mappings.create_mapping(
        session,
        instance,
        channel_id=body.channel_id,
        channel_name=body.channel_name,
        direction=body.direction,
        unit=body.unit,
        event_public_id=body.event_public_id,
        now=_now(),
    )
    return MappingStatus(
        message="Channel mapping created.",
        public_id=mapping.public_id,
        channel_mapping=ChannelMappingOut.of(mapping, event),
    )


@router.put("/{public_id}/channels/{mapping_id}")
async def update_channel_mapping(
    public_id: uuid.UUID,
    mapping_id: uuid.UUID,
    body: ChannelMappingUpdate,
    user: AdminUser,
    session: DbSession,
) -> MappingStatus:
    instance = await plugins.get_instance(session, public_id)
    mapping, event = await channel_mappings.update_mapping(
        session, instance, mapping_id, body.event_public_id
    )
    return MappingStatus(
        message="Channel mapping updated.",
        public_id=mapping.public_id,
        channel_mapping=ChannelMappingOut.of(mapping, event),
    )


@router.delete("/{public_id}/channels/{mapping_id}")
async def delete_channel_mapping(
    public_id: uuid.UUID, mapping_id: uuid.UUID, user: AdminUser, session: DbSession
) -> Done:
    instance = await plugins.get_instance(session, public_id)
    await channel_mappings.delete_mapping(session, instance, mapping_id)
    return Done(message="Channel mapping successfully deleted.")
