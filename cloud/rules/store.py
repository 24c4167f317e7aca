"""Rules CRUD, free of HTTP: validation across fields, unique names, and re-arming on edits.

A rule names its sensor by public id (WebMACS's ``event_public_id``). Between/not_between
need ``threshold_high >= threshold`` (WebMACS's check, also after a partial update); a
``command`` rule needs its device, channel and payload (checked as a command to that device
would be); the other actions ignore the command fields, which are cleared. Enabling a rule,
or changing its sensor or condition, re-arms it (see :mod:`cloud.rules.conditions`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import Rule, RuleActionType, RuleOperator, Sensor
from cloud.rules.conditions import RANGE_OPERATORS, TriggerState, after_edit
from cloud.services.commands import MAX_COMMAND_BYTES
from cloud.services.devices import get_device
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.outgoing import encode_capped
from cloud.services.paging import MAX_PAGE_SIZE, page_of_rows
from cloud.webhooks.events import WebhookEvent
from revlink.channels import InvalidPayloadError, check_channel

__all__ = [
    "MAX_PAGE_SIZE",
    "RULE_WEBHOOK_EVENTS",
    "RuleView",
    "create_rule",
    "delete_rule",
    "get_rule",
    "list_rules",
    "update_rule",
    "watched_sensor_ids",
]

# The events a rule may send: the sensor ones (device or experiment events from a rule
# would tell a receiver something that did not happen).
RULE_WEBHOOK_EVENTS = frozenset(
    {WebhookEvent.SENSOR_THRESHOLD_EXCEEDED, WebhookEvent.SENSOR_READING}
)
_EVENTS = frozenset(e.value for e in RULE_WEBHOOK_EVENTS)
_COMMAND_FIELDS = ("command_device_id", "command_channel", "command_payload")


@dataclass(frozen=True)
class RuleView:
    """A rule with its sensor's public id and name, as the API shows it."""

    rule: Rule
    sensor_public_id: uuid.UUID
    sensor_name: str


def _joined() -> Any:
    return select(Rule, Sensor.public_id, Sensor.name).join(Sensor, Sensor.id == Rule.sensor_id)


async def list_rules(
    session: AsyncSession, *, page: int, page_size: int
) -> tuple[list[RuleView], int]:
    """One page, by name, and how many rules there are."""
    rows, total = await page_of_rows(
        session, _joined().order_by(Rule.name, Rule.id), page, page_size
    )
    return [RuleView(*row) for row in rows], total


async def get_rule(session: AsyncSession, public_id: uuid.UUID) -> RuleView:
    row = (await session.execute(_joined().where(Rule.public_id == public_id))).first()
    if row is None:
        raise NotFoundError(f"no rule {public_id}")
    return RuleView(*row)


async def _sensor(session: AsyncSession, public_id: uuid.UUID) -> Sensor:
    sensor = await session.scalar(select(Sensor).where(Sensor.public_id == public_id))
    if sensor is None:
        raise NotFoundError(f"no sensor (event) {public_id}")
    return sensor


async def _check(session: AsyncSession, rule: Rule) -> None:
    """The checks that span fields, on the rule as it would be stored."""
    if RuleOperator(rule.operator) in RANGE_OPERATORS:
        if rule.threshold_high is None:
            raise InvalidInputError("threshold_high is required for between/not_between")
        if rule.threshold_high < rule.threshold:
            raise InvalidInputError("threshold_high must be >= threshold")
    if rule.action_type != RuleActionType.WEBHOOK:
        rule.webhook_event_type = None
    elif rule.webhook_event_type is not None and rule.webhook_event_type not in _EVENTS:
        raise InvalidInputError(f"webhook_event_type must be one of {', '.join(sorted(_EVENTS))}")
    if rule.action_type != RuleActionType.COMMAND:
        rule.command_device_id = rule.command_channel = rule.command_payload = None
        return
    missing = [name for name in _COMMAND_FIELDS if getattr(rule, name) is None]
    if missing:
        raise InvalidInputError(f"a command rule needs {', '.join(missing)}")
    try:
        check_channel(rule.command_channel or "")
    except InvalidPayloadError as exc:
        raise InvalidInputError(f"command_channel: {exc}") from None
    encode_capped(rule.command_payload or {}, MAX_COMMAND_BYTES, "command_payload")
    assert rule.command_device_id is not None
    await get_device(session, rule.command_device_id)


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ConflictError(f"a rule named {name!r} exists already") from None


async def create_rule(
    session: AsyncSession,
    fields: Mapping[str, Any],
    sensor_public_id: uuid.UUID,
    user_public_id: uuid.UUID | None,
) -> RuleView:
    """Store a rule from ``fields`` (the Rule columns the API takes), armed."""
    sensor = await _sensor(session, sensor_public_id)
    rule = Rule(public_id=uuid.uuid4(), sensor_id=sensor.id, user_public_id=user_public_id)
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.armed = True
    await _check(session, rule)
    session.add(rule)
    await _flush_unique(session, rule.name)
    return RuleView(rule, sensor.public_id, sensor.name)


async def update_rule(
    session: AsyncSession,
    public_id: uuid.UUID,
    changes: Mapping[str, Any],
    sensor_public_id: uuid.UUID | None = None,
) -> RuleView:
    """Apply the fields given (WebMACS's partial PUT) and check the result as a whole."""
    found = await get_rule(session, public_id)
    rule, sensor_name = found.rule, found.sensor_name
    sensor_public = found.sensor_public_id
    changed = dict(changes)
    if sensor_public_id is not None and sensor_public_id != found.sensor_public_id:
        sensor = await _sensor(session, sensor_public_id)
        changed["sensor_id"] = sensor.id
        sensor_public, sensor_name = sensor.public_id, sensor.name
    edited = [name for name, value in changed.items() if getattr(rule, name) != value]
    for name, value in changed.items():
        setattr(rule, name, value)
    rule.armed = after_edit(TriggerState(rule.armed, rule.last_triggered_at), edited).armed
    await _check(session, rule)
    await _flush_unique(session, rule.name)
    return RuleView(rule, sensor_public, sensor_name)


async def delete_rule(session: AsyncSession, public_id: uuid.UUID) -> None:
    rule = await session.scalar(select(Rule).where(Rule.public_id == public_id))
    if rule is None:
        raise NotFoundError(f"no rule {public_id}")
    await session.delete(rule)
    await session.flush()


async def watched_sensor_ids(session: AsyncSession) -> Sequence[int]:
    """The sensors that have an enabled rule."""
    found = await session.scalars(select(Rule.sensor_id).where(Rule.enabled).distinct())
    return list(found)
