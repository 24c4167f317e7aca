"""Rules and webhooks in-process on the evaluator's own PostgreSQL database: a webhook rule
queues a ``sensor.threshold_exceeded`` delivery, and ``sensor.reading`` events are throttled
per sensor with the throttle shared by every evaluator (replica)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cloud.db.session import Database
from cloud.models import RuleInbox, RuleReadingThrottle
from cloud.models.webhook import Webhook, WebhookDelivery
from tests.rig.rules import (
    SETTINGS,
    db,
    engine_on,
    new_rule,
    new_sensor,
    own_postgres,
    send,
)

__all__ = ["db", "own_postgres"]  # the fixtures, used by name


async def new_webhook(db: Database, *events: str) -> Webhook:
    async with db.transaction() as session:
        hook = Webhook(url="https://example.com/hook", events=list(events), enabled=True)
        session.add(hook)
    return hook


async def deliveries(db: Database, hook: Webhook) -> list[WebhookDelivery]:
    async with db.sessions() as session:
        found = await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id)
        )
        return list(found)


async def inbox_points(db: Database) -> list[list[object]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(RuleInbox.points).order_by(RuleInbox.id))
        return [[sensor_id, value] for points in rows for sensor_id, _, value in points]


async def test_a_ruled_sensor_keeps_every_value_beside_readings(db: Database) -> None:
    await new_webhook(db, "sensor.reading")
    engine = engine_on(db)
    ruled = await new_sensor(db)
    await new_rule(db, ruled)
    await engine.refresh()
    await send(db, ruled, 1.0, 2.0, 3.0)
    assert await inbox_points(db) == [[ruled.id, 1.0], [ruled.id, 2.0], [ruled.id, 3.0]]


async def test_a_webhook_rule_queues_a_threshold_event(db: Database) -> None:
    hook = await new_webhook(db, "sensor.threshold_exceeded")
    engine = engine_on(db)
    sensor = await new_sensor(db)
    rule = await new_rule(db, sensor, action_type="webhook", threshold=20.0)
    await engine.refresh()
    assert not engine.inbox.everything  # no one subscribes to sensor.reading
    await send(db, sensor, 25.0, 30.0)
    assert await engine.evaluate_once() == 1
    [delivery] = await deliveries(db, hook)
    assert delivery.event_type == "sensor.threshold_exceeded"
    body = delivery.payload
    assert body["type"] == "sensor.threshold_exceeded"
    assert (body["sensor"], body["value"]) == (str(sensor.public_id), 25.0)
    assert (body["rule"], body["operator"], body["threshold"]) == (rule.name, "gt", 20.0)


async def test_sensor_readings_are_throttled_per_sensor_across_evaluators(db: Database) -> None:
    hook = await new_webhook(db, "sensor.reading")
    first, second = engine_on(db), engine_on(Database(db.url))
    sensor, other = await new_sensor(db), await new_sensor(db)
    for engine in (first, second):
        await engine.refresh()
        assert engine.inbox.everything  # every value may be a reading now: all are watched
    await send(db, sensor, 1.0, 2.0)
    await send(db, other, 7.0)
    # A sensor without a rule puts only its batch's latest value in the inbox.
    assert await inbox_points(db) == [[sensor.id, 2.0], [other.id, 7.0]]
    assert await first.evaluate_once() == 2
    await send(db, sensor, 3.0)
    assert await second.evaluate_once() == 1  # another replica: the throttle is shared
    found = await deliveries(db, hook)
    assert sorted((d.payload["sensor"], d.payload["value"]) for d in found) == sorted(
        [(str(sensor.public_id), 2.0), (str(other.public_id), 7.0)]
    )
    # Once the interval has passed (moved back here, not waited for) the next value goes.
    async with db.transaction() as session:
        throttle = await session.get(RuleReadingThrottle, sensor.id)
        assert throttle is not None
        throttle.sent_at -= timedelta(seconds=SETTINGS.webhook_reading_interval_seconds)
    await send(db, sensor, 4.0)
    assert await first.evaluate_once() == 1
    assert [d.payload["value"] for d in await deliveries(db, hook)][-1] == 4.0
    await second.db.dispose()
