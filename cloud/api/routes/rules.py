"""``/api/v1/rules``: WebMACS's rule paths and shapes, with revlink's actions and state.

WebMACS's paths: ``GET``/``POST /rules`` (a ``{page, page_size, total, data}`` page, by
name), ``GET``/``PUT``/``DELETE /rules/{public_id}``; ``PUT`` changes only the fields given.
Writes answer WebMACS's ``{status, message}``, here with the ``rule`` as it is afterwards.
WebMACS's rule fields (``event_public_id`` is the sensor's public id; ``sensor_public_id``
is accepted and returned as the same value), plus the ``command``/``notification`` actions
and their fields, and ``armed`` (see cloud.rules.conditions for the semantics). Viewers read;
operators write (WebMACS lets only admins near rules).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field, model_validator

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, PageNumber, State
from cloud.api.schemas import StatusResponse
from cloud.models import RuleActionType, RuleOperator
from cloud.models.rule import CHANNEL_MAX, NAME_MAX
from cloud.rules import store
from cloud.rules.store import RuleView
from cloud.state import CloudState

__all__ = ["RuleOut", "router"]

router = APIRouter(prefix="/rules", tags=["rules"])

MAX_COOLDOWN_SECONDS = 7 * 24 * 3600
WEBHOOK_EVENT_MAX = 64

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
Threshold = Annotated[float, Field(allow_inf_nan=False)]
Cooldown = Annotated[int, Field(ge=0, le=MAX_COOLDOWN_SECONDS)]
Channel = Annotated[str, Field(min_length=1, max_length=CHANNEL_MAX)]
WebhookEventName = Annotated[str, Field(min_length=1, max_length=WEBHOOK_EVENT_MAX)]


class _SensorRef(BaseModel):
    event_public_id: uuid.UUID | None = None
    sensor_public_id: uuid.UUID | None = Field(
        default=None, description="revlink's name for event_public_id (give either)"
    )

    @model_validator(mode="after")
    def _same_sensor(self) -> _SensorRef:
        given = {self.event_public_id, self.sensor_public_id} - {None}
        if len(given) > 1:
            raise ValueError("event_public_id and sensor_public_id name different sensors")
        return self

    @property
    def sensor(self) -> uuid.UUID | None:
        return self.event_public_id or self.sensor_public_id


class RuleCreate(_SensorRef):
    name: Name
    operator: RuleOperator
    threshold: Threshold
    threshold_high: Threshold | None = None
    action_type: RuleActionType
    webhook_event_type: WebhookEventName | None = None
    command_device_id: uuid.UUID | None = None
    command_channel: Channel | None = None
    command_payload: dict[str, Any] | None = None
    enabled: bool = True
    cooldown_seconds: Cooldown = 60

    @model_validator(mode="after")
    def _has_sensor(self) -> RuleCreate:
        if self.sensor is None:
            raise ValueError("event_public_id (or sensor_public_id) is required")
        return self


class RuleUpdate(_SensorRef):
    name: Name | None = None
    operator: RuleOperator | None = None
    threshold: Threshold | None = None
    threshold_high: Threshold | None = None
    action_type: RuleActionType | None = None
    webhook_event_type: WebhookEventName | None = None
    command_device_id: uuid.UUID | None = None
    command_channel: Channel | None = None
    command_payload: dict[str, Any] | None = None
    enabled: bool | None = None
    cooldown_seconds: Cooldown | None = None


# Fields a PUT may set to null (the rest keep their value when null is sent).
_NULLABLE = frozenset(
    {
        "threshold_high",
        "webhook_event_type",
        "command_device_id",
        "command_channel",
        "command_payload",
    }
)


class RuleOut(BaseModel):
    """WebMACS's rule fields and revlink's (sensor, command fields, ``armed``)."""

    public_id: uuid.UUID
    name: str
    event_public_id: uuid.UUID
    sensor_public_id: uuid.UUID
    sensor_name: str
    operator: RuleOperator
    threshold: float
    threshold_high: float | None
    action_type: RuleActionType
    webhook_event_type: str | None
    command_device_id: uuid.UUID | None
    command_channel: str | None
    command_payload: dict[str, Any] | None
    enabled: bool
    cooldown_seconds: int
    armed: bool = Field(description="false after firing, until a value no longer matches")
    last_triggered_at: datetime | None
    created_on: datetime
    user_public_id: uuid.UUID | None

    @classmethod
    def of(cls, view: RuleView) -> RuleOut:
        rule = view.rule
        return cls(
            public_id=rule.public_id,
            name=rule.name,
            event_public_id=view.sensor_public_id,
            sensor_public_id=view.sensor_public_id,
            sensor_name=view.sensor_name,
            operator=RuleOperator(rule.operator),
            threshold=rule.threshold,
            threshold_high=rule.threshold_high,
            action_type=RuleActionType(rule.action_type),
            webhook_event_type=rule.webhook_event_type,
            command_device_id=rule.command_device_id,
            command_channel=rule.command_channel,
            command_payload=rule.command_payload,
            enabled=rule.enabled,
            cooldown_seconds=rule.cooldown_seconds,
            armed=rule.armed,
            last_triggered_at=rule.last_triggered_at,
            created_on=rule.created_on,
            user_public_id=rule.user_public_id,
        )


class RulePage(BaseModel):
    """WebMACS's page: ``page`` (from 1), ``page_size``, ``total`` and ``data``."""

    page: int
    page_size: int
    total: int
    data: list[RuleOut]


class RuleStatus(StatusResponse):
    rule: RuleOut


_SENSOR_FIELDS = {"event_public_id", "sensor_public_id"}


async def _changed(state: CloudState) -> None:
    """After the commit: this replica watches the new set of sensors at once."""
    if state.rules is not None:
        await state.rules.refresh()


@router.get("")
async def list_rules(
    user: CurrentUser,
    session: DbSession,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=store.MAX_PAGE_SIZE)] = 25,
) -> RulePage:
    found, total = await store.list_rules(session, page=page, page_size=page_size)
    return RulePage(
        page=page, page_size=page_size, total=total, data=[RuleOut.of(v) for v in found]
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_rule(
    body: RuleCreate, user: OperatorUser, state: State, session: DbSession
) -> RuleStatus:
    """Create it, armed. 404 for an unknown sensor or command device, 409 for a taken name,
    422 for fields that do not fit together (e.g. between without threshold_high)."""
    assert body.sensor is not None
    fields = body.model_dump(exclude=_SENSOR_FIELDS)
    view = await store.create_rule(session, fields, body.sensor, user.public_id)
    await session.commit()
    await _changed(state)
    return RuleStatus(status="success", message="Rule successfully created.", rule=RuleOut.of(view))


@router.get("/{public_id}")
async def get_rule(public_id: uuid.UUID, user: CurrentUser, session: DbSession) -> RuleOut:
    return RuleOut.of(await store.get_rule(session, public_id))


@router.put("/{public_id}")
async def update_rule(
    public_id: uuid.UUID, body: RuleUpdate, user: OperatorUser, state: State, session: DbSession
) -> RuleStatus:
    """Change the fields given; enabling it, or changing its sensor or condition, re-arms it."""
    given = body.model_dump(exclude_unset=True, exclude=_SENSOR_FIELDS)
    changes = {k: v for k, v in given.items() if v is not None or k in _NULLABLE}
    view = await store.update_rule(session, public_id, changes, body.sensor)
    await session.commit()
    await _changed(state)
    return RuleStatus(status="success", message="Rule successfully updated.", rule=RuleOut.of(view))


@router.delete("/{public_id}")
async def delete_rule(
    public_id: uuid.UUID, user: OperatorUser, state: State, session: DbSession
) -> StatusResponse:
    await store.delete_rule(session, public_id)
    await session.commit()
    await _changed(state)
    return StatusResponse(status="success", message="Rule successfully deleted.")
