"""What the webhook contract queues (``cloud.webhooks.events``) on real PostgreSQL: one
delivery per subscribed enabled webhook, inside the caller's transaction, with a JSON-safe
body; experiment events only for a real start or stop; the limit on webhooks; and the
retention of the delivery log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cloud.db.session import Database
from cloud.models import Experiment, WebhookAttempt, WebhookDelivery
from cloud.services.errors import ConflictError
from cloud.webhooks import service
from cloud.webhooks.dispatcher import WebhookDispatcher
from cloud.webhooks.events import (
    WebhookEvent,
    enqueue_event,
    enqueue_experiment,
    subscribed_events,
)
from tests.rig.webhooks import (
    ONLINE,
    Receiver,
    add_hook,
    database_url_fixture,
    db_fixture,
    emit,
    receiver_fixture,
    rows,
    settings,
)

__all__ = ["database_url_fixture", "db_fixture", "receiver_fixture"]  # fixtures, used by name


async def test_enqueue_follows_subscriptions_and_the_callers_transaction(
    db: Database, receiver: Receiver
) -> None:
    online = await add_hook(db, receiver.url("/a"), [ONLINE, WebhookEvent.DEVICE_OFFLINE])
    await add_hook(db, receiver.url("/b"), [ONLINE])
    async with db.sessions() as session:
        assert await subscribed_events(session) == {ONLINE, WebhookEvent.DEVICE_OFFLINE}
    assert await emit(db, event=WebhookEvent.COMMAND_REFUSED) == 0
    assert await emit(db, event=WebhookEvent.DEVICE_OFFLINE) == 1

    async def fails_after_queueing() -> None:
        async with db.transaction() as session:
            assert await enqueue_event(session, ONLINE, {}, datetime.now(UTC)) == 2
            raise RuntimeError("the caller's work failed")  # rolled back: nothing queued

    with pytest.raises(RuntimeError):
        await fails_after_queueing()
    async with db.transaction() as session:
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        ident = uuid.uuid4()
        data = {"at": when, "id": ident, "type": "overridden", "nested": {"list": (1, 2)}}
        assert await enqueue_event(session, ONLINE, data, when) == 2
    [offline, latest] = await rows(db, online)
    assert offline.event_type == "device.offline"
    assert latest.payload["type"] == "device.online"
    assert latest.payload["at"] == when.isoformat()
    assert latest.payload["id"] == str(ident)
    assert latest.payload["nested"] == {"list": [1, 2]}
    assert latest.payload["time"] == when.isoformat()
    async with db.transaction() as session:
        with pytest.raises(TypeError):
            await enqueue_event(session, ONLINE, {"x": object()}, when)


async def test_experiment_events_only_when_started_or_stopped_now(db: Database) -> None:
    hook = await add_hook(
        db,
        "https://example.com/e",
        [WebhookEvent.EXPERIMENT_STARTED, WebhookEvent.EXPERIMENT_STOPPED],
    )
    now = datetime.now(UTC)
    earlier = now - timedelta(minutes=1)
    async with db.transaction() as session:
        started = Experiment(name=f"e-{uuid.uuid4()}", started_at=now)
        again = Experiment(name=f"e-{uuid.uuid4()}", started_at=earlier)
        stopped = Experiment(name=f"e-{uuid.uuid4()}", started_at=earlier, stopped_at=now)
        for experiment in (started, again, stopped):
            session.add(experiment)
        await session.flush()
        assert await enqueue_experiment(session, started, now) == 1
        assert await enqueue_experiment(session, again, now) == 0
        assert await enqueue_experiment(session, stopped, now) == 1
        for experiment in (started, again, stopped):
            await session.delete(experiment)
    assert [d.event_type for d in await rows(db, hook)] == [
        "experiment.started",
        "experiment.stopped",
    ]


async def test_at_most_max_webhooks_exist(db: Database) -> None:
    async with db.transaction() as session:
        for n in range(service.MAX_WEBHOOKS):
            await service.create_webhook(
                session,
                url=f"https://hooks.example.com/{n}",
                secret=None,
                events=[ONLINE],
                enabled=False,
                user_public_id=None,
                allowed=(),
                now=datetime.now(UTC),
            )
    async with db.transaction() as session:
        with pytest.raises(ConflictError, match=f"there are {service.MAX_WEBHOOKS} webhooks"):
            await service.create_webhook(
                session,
                url="https://hooks.example.com/one-too-many",
                secret=None,
                events=[ONLINE],
                enabled=True,
                user_public_id=None,
                allowed=(),
                now=datetime.now(UTC),
            )


async def test_finished_deliveries_are_pruned_after_the_retention(db: Database) -> None:
    hook = await add_hook(db, "https://example.com/old")
    config = settings(webhook_retention_days=30)
    now = datetime.now(UTC)
    edge = now - timedelta(days=30)
    async with db.transaction() as session:
        for status, queued in (
            ("delivered", edge - timedelta(seconds=1)),  # past the retention: goes
            ("dead_letter", edge - timedelta(days=5)),  # goes
            ("failed", edge - timedelta(days=5)),  # goes
            ("pending", edge - timedelta(days=5)),  # still to deliver: stays
            ("delivered", edge + timedelta(seconds=1)),  # within the retention: stays
        ):
            row = WebhookDelivery(
                webhook_id=hook.id,
                event_type="device.online",
                payload={"status": status},
                status=status,
                attempts=1,
                created_on=queued,
                next_attempt_at=queued,
            )
            session.add(row)
            await session.flush()
            session.add(
                WebhookAttempt(delivery_id=row.id, attempt=1, outcome="x", started_at=queued)
            )
    assert await WebhookDispatcher(db, config).prune(now) == 3
    left = await rows(db, hook)
    assert sorted(d.status for d in left) == ["delivered", "pending"]
    async with db.sessions() as session:
        kept = (await session.scalars(select(WebhookAttempt.delivery_id))).all()
    assert sorted(kept) == sorted(d.id for d in left)  # the pruned ones' attempts went too
