"""The events webhooks subscribe to, and how the rest of the cloud queues them.

This module is the contract other parts code against (the rule evaluator, the event log,
experiments): :func:`enqueue_event` adds one ``webhook_deliveries`` row per enabled webhook
subscribed to the event, inside the caller's transaction, so an event is queued exactly when
the thing it reports is committed and never otherwise. Nothing here touches the network; the
dispatcher delivers the rows later (``cloud.webhooks.dispatcher``), so a slow or failing
target never slows or breaks the caller.

The body each target receives is built here once: WebMACS's ``{"type", "time", ...}`` with
the caller's ``data`` merged in at the top level (as WebMACS's ``build_payload`` merges
``extra``), plus ``event_id`` (the same for every webhook that gets this event, so a receiver
subscribed twice can tell). ``type``, ``time`` and ``event_id`` are ours and win over keys of
the same name in ``data``.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from cloud.models.experiment import Experiment
from cloud.models.webhook import DeliveryStatus, Webhook, WebhookDelivery

__all__ = [
    "WebhookEvent",
    "add_waker",
    "build_payload",
    "enqueue_event",
    "enqueue_events",
    "enqueue_experiment",
    "event_names",
    "remove_waker",
    "subscribed_events",
    "wake_after_commit",
]


class WebhookEvent(enum.StrEnum):
    """WebMACS's names where it has the event (its ``enums.py``), revlink's for the rest."""

    SENSOR_THRESHOLD_EXCEEDED = "sensor.threshold_exceeded"  # a rule fired
    SENSOR_READING = "sensor.reading"  # throttled readings (the rule evaluator emits them)
    EXPERIMENT_STARTED = "experiment.started"
    EXPERIMENT_STOPPED = "experiment.stopped"
    DEVICE_ONLINE = "device.online"
    DEVICE_OFFLINE = "device.offline"
    COMMAND_DELIVERED = "command.delivered"
    COMMAND_REFUSED = "command.refused"
    COMMAND_EXPIRED = "command.expired"


def event_names() -> list[str]:
    """Every event name, in declaration order (for the API and the dashboard)."""
    return [e.value for e in WebhookEvent]


def _jsonable(value: Any) -> Any:
    """``data`` as plain JSON: datetimes become ISO 8601, UUIDs and enums their strings.

    Callers hand over their own values (a reading's timestamp, a device's UUID); converting
    here keeps that convenient and keeps the stored body free of anything JSON cannot hold.
    """
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"webhook data value of type {type(value).__name__} is not JSON")


def build_payload(
    event: WebhookEvent, data: Mapping[str, Any], now: datetime, event_id: uuid.UUID
) -> dict[str, Any]:
    """The JSON body for ``event`` (see the module docstring for its shape)."""
    body: dict[str, Any] = _jsonable(data)
    body.update(type=event.value, time=now.isoformat(), event_id=str(event_id))
    return body


# In-process wake-ups: dispatchers register a callback; a commit that queued deliveries
# calls them, so a local delivery starts at once instead of at the next poll. Other
# replicas find the rows by polling; the database, not this set, is the queue.
_wakers: set[Callable[[], None]] = set()


def add_waker(wake: Callable[[], None]) -> None:
    _wakers.add(wake)


def remove_waker(wake: Callable[[], None]) -> None:
    _wakers.discard(wake)


def wake_after_commit(session: AsyncSession) -> None:
    """Wake this process's dispatchers once ``session`` commits (not before: they would
    look before the rows are visible; not on rollback: there would be nothing to find)."""

    def wake(_: Session) -> None:
        for waker in list(_wakers):
            waker()

    sa_event.listen(session.sync_session, "after_commit", wake, once=True)


async def enqueue_event(
    session: AsyncSession, event: WebhookEvent, data: dict[str, Any], now: datetime
) -> int:
    """Queue one delivery per enabled webhook subscribed to ``event``, inside the caller's
    transaction (the caller commits); returns how many were queued."""
    return await enqueue_events(session, [(event, data)], now)


async def enqueue_events(
    session: AsyncSession, events: Sequence[tuple[WebhookEvent, dict[str, Any]]], now: datetime
) -> int:
    """:func:`enqueue_event` for many events at once (the rule evaluator's pass): one look
    at the webhooks and one bulk insert, however many events."""
    if not events:
        return 0
    hooks = (await session.scalars(select(Webhook).where(Webhook.enabled.is_(True)))).all()
    rows: list[dict[str, Any]] = []
    for event, data in events:
        event = WebhookEvent(event)  # a plain string of a known name works too
        subscribed = [hook for hook in hooks if event.value in (hook.events or [])]
        if not subscribed:
            continue
        payload = build_payload(event, data, now, uuid.uuid4())
        rows.extend(
            {
                "public_id": uuid.uuid4(),
                "webhook_id": hook.id,
                "event_type": event.value,
                "payload": payload,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "created_on": now,
                "next_attempt_at": now,
            }
            for hook in subscribed
        )
    if rows:
        await session.execute(insert(WebhookDelivery), rows)
        wake_after_commit(session)
    return len(rows)


async def subscribed_events(session: AsyncSession) -> frozenset[WebhookEvent]:
    """The events at least one enabled webhook subscribes to."""
    lists = (await session.scalars(select(Webhook.events).where(Webhook.enabled.is_(True)))).all()
    known = set(event_names())
    return frozenset(WebhookEvent(name) for names in lists for name in names or [] if name in known)


async def enqueue_experiment(session: AsyncSession, experiment: Experiment, now: datetime) -> int:
    """Queue ``experiment.started``/``experiment.stopped`` if the caller's change, made at
    ``now``, started or stopped ``experiment`` (a repeated start or stop changes nothing and
    queues nothing)."""
    if experiment.stopped_at == now:
        event = WebhookEvent.EXPERIMENT_STOPPED
    elif experiment.started_at == now:
        event = WebhookEvent.EXPERIMENT_STARTED
    else:
        return 0
    data = {
        "experiment": experiment.public_id,
        "name": experiment.name,
        "started_on": experiment.started_at,
        "stopped_on": experiment.stopped_at,
        "user_public_id": experiment.user_public_id,
    }
    return await enqueue_event(session, event, data, now)
