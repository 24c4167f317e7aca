"""What a firing rule does, written in the evaluator's transaction.

Every firing writes an event-log entry (source ``rule``, kind ``rule.fired``, naming the
rule, sensor and value), then the rule's action:

- ``log`` (WebMACS's): that entry is the log; a structlog warning goes beside it.
- ``webhook`` (WebMACS's): a ``sensor.threshold_exceeded`` event (or the rule's
  ``webhook_event_type``) queued for the subscribed webhooks.
- ``command``: a durable command to the rule's device (as ``POST /devices/{id}/commands``
  would store it), sent when the device is connected.
- ``notification``: an entry of kind ``rule.notification`` and, after the commit, a
  ``{"type": "notification", ...}`` message to every open ``/ws/datapoints/stream``.

An action that cannot be carried out (the device's channel refuses the command, say) runs in
a savepoint: it is rolled back alone and a ``rule.action_failed`` entry says why, so one bad
rule never holds up the inbox or the other rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import LoggingType, Rule, RuleActionType, Sensor
from cloud.rules.conditions import RANGE_OPERATORS
from cloud.services import event_log
from cloud.services.commands import create_command
from cloud.services.errors import ServiceError
from cloud.webhooks.events import WebhookEvent, enqueue_events
from revlink.channels import InvalidPayloadError

__all__ = ["AfterCommit", "Firing", "WebhookEvents", "describe", "take_action"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Firing:
    """One rule firing on one stored value."""

    rule: Rule
    sensor: Sensor
    value: float
    ts: str  # the value's own timestamp (ISO 8601), as the inbox holds it
    received_at: datetime


@dataclass
class AfterCommit:
    """What may only happen once the evaluator's transaction committed."""

    notifications: list[dict[str, Any]] = field(default_factory=list)
    devices: set[uuid.UUID] = field(default_factory=set)


@dataclass
class WebhookEvents:
    """A pass's webhook events, queued together (one bulk insert) before it commits."""

    pending: list[tuple[WebhookEvent, dict[str, Any]]] = field(default_factory=list)

    async def queue(self, session: AsyncSession, now: datetime) -> int:
        queued = await enqueue_events(session, self.pending, now)
        self.pending.clear()
        return queued


def describe(rule: Rule) -> str:
    """The condition in words, e.g. ``gt 80`` or ``between 10..20``."""
    if rule.operator in RANGE_OPERATORS:
        return f"{rule.operator} {rule.threshold:g}..{rule.threshold_high:g}"
    return f"{rule.operator} {rule.threshold:g}"


def _reading(firing: Firing) -> str:
    unit = f" {firing.sensor.unit}" if firing.sensor.unit else ""
    return f"{firing.sensor.name} = {firing.value:g}{unit}"


def _payload(firing: Firing) -> dict[str, Any]:
    """WebMACS's threshold payload (sensor, value, rule, operator, threshold) and revlink's
    ids and times."""
    rule = firing.rule
    return {
        "sensor": str(firing.sensor.public_id),
        "sensor_name": firing.sensor.name,
        "value": firing.value,
        "timestamp": firing.ts,
        "rule": rule.name,
        "rule_public_id": str(rule.public_id),
        "operator": rule.operator,
        "threshold": rule.threshold,
        "threshold_high": rule.threshold_high,
    }


_WRITES_ELSEWHERE = frozenset({RuleActionType.COMMAND})


async def take_action(
    session: AsyncSession,
    firing: Firing,
    now: datetime,
    after: AfterCommit,
    webhooks: WebhookEvents,
) -> None:
    rule, sensor = firing.rule, firing.sensor
    fired = f"Rule '{rule.name}' fired: {_reading(firing)} ({describe(rule)})"
    event_log.add_entry(
        session, event_log.rule_entry("rule.fired", fired, device_id=sensor.device_id), now
    )
    action = RuleActionType(rule.action_type)
    try:
        if action in _WRITES_ELSEWHERE:
            # A savepoint, so a refused write (e.g. a command to a device just deleted) undoes
            # only itself; the others add nothing that could fail alone, and skip its round trips.
            async with session.begin_nested():
                await _act(session, action, firing, now, after, webhooks)
        else:
            await _act(session, action, firing, now, after, webhooks)
    except (ServiceError, InvalidPayloadError) as exc:
        failed = f"Rule '{rule.name}': its {action.value} action failed: {exc}"
        entry = event_log.rule_entry("rule.action_failed", failed, LoggingType.ERROR)
        event_log.add_entry(session, entry, now)
    except SQLAlchemyError:
        raise  # the database itself failed: the whole pass rolls back and is retried
    except Exception as exc:
        # A bug in one action must not hold every later value in the inbox forever.
        log.exception("rules.action_crashed", rule=rule.name, action=action.value)
        failed = f"Rule '{rule.name}': its {action.value} action failed: internal error"
        entry = event_log.rule_entry(
            "rule.action_failed", f"{failed} ({type(exc).__name__})", LoggingType.ERROR
        )
        event_log.add_entry(session, entry, now)


async def _act(
    session: AsyncSession,
    action: RuleActionType,
    firing: Firing,
    now: datetime,
    after: AfterCommit,
    webhooks: WebhookEvents,
) -> None:
    rule = firing.rule
    match action:
        case RuleActionType.LOG:
            log.warning("rule.triggered", **_payload(firing))
        case RuleActionType.WEBHOOK:
            kind = WebhookEvent(rule.webhook_event_type or WebhookEvent.SENSOR_THRESHOLD_EXCEEDED)
            webhooks.pending.append((kind, _payload(firing)))
        case RuleActionType.COMMAND:
            assert rule.command_device_id is not None
            assert rule.command_channel is not None
            await create_command(
                session,
                rule.command_device_id,
                rule.command_channel,
                rule.command_payload or {},
                expires_in=None,
                created_by=f"rule:{rule.name}"[:320],
                now=now,
            )
            after.devices.add(rule.command_device_id)
        case RuleActionType.NOTIFICATION:
            message = f"Rule '{rule.name}': {_reading(firing)} ({describe(rule)})"
            entry = event_log.rule_entry(
                "rule.notification", message, device_id=firing.sensor.device_id
            )
            event_log.add_entry(session, entry, now)
            after.notifications.append(
                {
                    "type": "notification",
                    "level": "warning",
                    "message": message,
                    "rule_public_id": str(rule.public_id),
                    "rule_name": rule.name,
                    "event_public_id": str(firing.sensor.public_id),
                    "sensor_name": firing.sensor.name,
                    "value": firing.value,
                    "timestamp": firing.ts,
                }
            )
