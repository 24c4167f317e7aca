"""The rule inbox and evaluator in-process, on a PostgreSQL database of their own (and a
SQLite smoke test): what ingest adds, once-only firing with several evaluators, the pass
bound, a rolled-back pass losing nothing, and values whose rule or sensor has gone.
Webhook events are in test_rule_webhooks.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from cloud.db.migrate import upgrade
from cloud.db.session import Database
from cloud.live.hub import LiveHub, Subscriber
from cloud.models import (
    DeviceCommand,
    LogEntry,
    Rule,
    RuleInbox,
    Sensor,
)
from cloud.rules import store
from cloud.rules.evaluator import INBOX_BATCH_ROWS, evaluate_rows
from cloud.services import telemetry
from tests.rig.rules import (
    db,
    engine_on,
    new_device,
    new_rule,
    new_sensor,
    own_postgres,
    send,
)

__all__ = ["db", "own_postgres"]  # the rig's fixtures, used by name


async def inbox_rows(db: Database) -> list[list[list[Any]]]:
    async with db.sessions() as session:
        return list(await session.scalars(select(RuleInbox.points).order_by(RuleInbox.id)))


async def fired(db: Database, rule: Rule, kind: str = "rule.fired") -> list[str]:
    async with db.sessions() as session:
        found = await session.scalars(
            select(LogEntry.content)
            .where(LogEntry.kind == kind, LogEntry.content.contains(f"'{rule.name}'"))
            .order_by(LogEntry.id)
        )
        return list(found)


async def test_ingest_without_rules_writes_no_inbox_row(db: Database) -> None:
    engine = engine_on(db)
    await engine.refresh()
    assert engine.inbox.loaded
    assert not engine.inbox.everything
    sensor = await new_sensor(db)
    await send(db, sensor, 1.0, 2.0, 3.0)
    assert await inbox_rows(db) == []


async def test_one_row_per_batch_holding_only_the_watched_values(db: Database) -> None:
    engine = engine_on(db)
    watched, other = await new_sensor(db), await new_sensor(db)
    await new_rule(db, watched)
    await engine.refresh()
    await send(db, other, 50.0)
    assert await inbox_rows(db) == []
    items = [
        {"value": v, "event_public_id": str(s.public_id)}
        for s, v in [(watched, 1.0), (other, 2.0), (watched, 3.0)]
    ]
    async with db.transaction() as session:
        await telemetry.ingest(session, telemetry.parse_message(json.dumps({"datapoints": items})))
    [row] = await inbox_rows(db)
    assert [(p[0], p[2]) for p in row] == [(watched.id, 1.0), (watched.id, 3.0)]
    datetime.fromisoformat(row[0][1])  # the value's timestamp travels with it


async def test_before_the_first_refresh_every_sensor_is_watched(db: Database) -> None:
    engine_on(db)  # attached, never refreshed: nothing may be missed meanwhile
    sensor = await new_sensor(db)
    await send(db, sensor, 5.0)
    assert len(await inbox_rows(db)) == 1


async def test_an_ingest_commit_wakes_the_evaluator_and_a_rollback_adds_nothing(
    db: Database,
) -> None:
    engine = engine_on(db)
    sensor = await new_sensor(db)
    await new_rule(db, sensor)
    await engine.refresh()
    engine._wake.clear()
    batch = telemetry.parse_message(
        json.dumps({"datapoints": [{"value": 20.0, "event_public_id": str(sensor.public_id)}]})
    )

    async def failing_batch() -> None:
        async with db.transaction() as session:
            await telemetry.ingest(session, batch)
            raise RuntimeError("the batch fails after the inbox write")

    with pytest.raises(RuntimeError):
        await failing_batch()
    assert not engine._wake.is_set()
    assert await inbox_rows(db) == []
    await send(db, sensor, 20.0)
    assert engine._wake.is_set()


async def test_three_evaluators_on_one_database_fire_each_crossing_once(db: Database) -> None:
    engines = [engine_on(Database(db.url)) for _ in range(3)]
    sensor = await new_sensor(db)
    rule = await new_rule(db, sensor)
    for engine in engines:
        await engine.refresh()
    crossings = 0
    for round_ in range(8):
        # Fires on the first value, not the second (disarmed); the third re-arms it.
        await send(engines[0].db, sensor, 20.0 + round_, 21.0)
        await send(engines[1].db, sensor, 0.0)
        crossings += 1
        consumed = await asyncio.gather(*(e.evaluate_once() for e in engines))
        while await inbox_rows(db):  # a pass that lost the lease leaves the rows to the next
            consumed += await asyncio.gather(*(e.evaluate_once() for e in engines))
        assert sum(consumed) == 2
    assert len(await fired(db, rule)) == crossings
    for engine in engines:
        await engine.db.dispose()


async def test_a_pass_takes_at_most_the_batch_bound_of_rows(db: Database) -> None:
    engine = engine_on(db)
    sensor = await new_sensor(db)
    rule = await new_rule(db, sensor)
    await engine.refresh()
    now = datetime.now(UTC)
    async with db.transaction() as session:
        session.add_all(
            RuleInbox(received_at=now, points=[[sensor.id, now.isoformat(), float(i % 2) * 50]])
            for i in range(INBOX_BATCH_ROWS + 1)
        )
    assert await engine.evaluate_once() == INBOX_BATCH_ROWS
    assert len(await inbox_rows(db)) == 1
    assert await engine.evaluate_once() == 1
    assert await engine.evaluate_once() == 0
    # 0, 50, 0, 50, ...: every other value crosses, cooldown 0.
    assert len(await fired(db, rule)) == (INBOX_BATCH_ROWS + 1) // 2


async def test_a_rolled_back_pass_loses_nothing_and_does_nothing(db: Database) -> None:
    engine = engine_on(db)
    sensor = await new_sensor(db)
    rule = await new_rule(db, sensor)
    await engine.refresh()
    await send(db, sensor, 99.0)

    async def crashing_pass() -> None:
        async with db.transaction() as session:
            rows = list(await session.scalars(select(RuleInbox)))
            await evaluate_rows(session, rows, datetime.now(UTC), 5.0)
            raise RuntimeError("crash after evaluating, before the commit")

    with pytest.raises(RuntimeError):
        await crashing_pass()
    assert len(await inbox_rows(db)) == 1
    assert await fired(db, rule) == []
    async with db.sessions() as session:
        assert (await session.get(Rule, rule.id)).armed  # type: ignore[union-attr]
    assert await engine.evaluate_once() == 1
    assert len(await fired(db, rule)) == 1


async def test_values_whose_rule_or_sensor_has_gone_are_dropped_quietly(db: Database) -> None:
    engine = engine_on(db)
    kept_sensor, gone_sensor, ruleless = [await new_sensor(db) for _ in range(3)]
    kept = await new_rule(db, kept_sensor)
    await new_rule(db, gone_sensor)
    deleted = await new_rule(db, ruleless)
    await engine.refresh()
    for sensor in (kept_sensor, gone_sensor, ruleless):
        await send(db, sensor, 30.0)
    async with db.transaction() as session:
        await store.delete_rule(session, deleted.public_id)
        await session.execute(delete(Sensor).where(Sensor.id == gone_sensor.id))
    assert await engine.evaluate_once() == 3
    assert await inbox_rows(db) == []
    assert len(await fired(db, kept)) == 1
    assert await fired(db, deleted) == []


async def test_a_disabled_rule_does_not_fire(db: Database) -> None:
    engine = engine_on(db)
    sensor = await new_sensor(db)
    rule = await new_rule(db, sensor, enabled=False)
    await engine.refresh()
    assert sensor.id not in engine.inbox.sensor_ids
    engine.inbox.watch([sensor.id], everything=False)  # as if still watched from before
    await send(db, sensor, 50.0)
    assert await engine.evaluate_once() == 1
    assert await fired(db, rule) == []


async def test_command_and_notification_actions(db: Database) -> None:
    live = LiveHub()
    listener = live.subscribe(Subscriber(sensors=[uuid.uuid4()]))  # a filter matching nothing
    engine = engine_on(db, live)
    sensor = await new_sensor(db)
    device = await new_device(db)
    commanding = await new_rule(
        db,
        sensor,
        action_type="command",
        command_device_id=device.id,
        command_channel="pump",
        command_payload={"on": False},
    )
    notifying = await new_rule(db, sensor, action_type="notification", threshold=40.0)
    await engine.refresh()
    await send(db, sensor, 42.5)
    assert await engine.evaluate_once() == 1
    async with db.sessions() as session:
        [command] = list(
            await session.scalars(select(DeviceCommand).where(DeviceCommand.device_id == device.id))
        )
    assert (command.channel, command.payload, command.state) == ("pump", {"on": False}, "pending")
    assert command.created_by == f"rule:{commanding.name}"
    [note] = await fired(db, notifying, "rule.notification")
    assert sensor.name in note
    assert "42.5" in note
    message = json.loads(listener.queue.get_nowait())
    assert message["type"] == "notification"
    assert (message["rule_name"], message["value"]) == (notifying.name, 42.5)
    assert message["event_public_id"] == str(sensor.public_id)


async def test_a_failing_action_is_logged_and_does_not_block_the_others(db: Database) -> None:
    engine = engine_on(db)
    sensor = await new_sensor(db)
    device = await new_device(db)
    bad = await new_rule(
        db,
        sensor,
        action_type="command",
        command_device_id=device.id,
        command_channel="pump",
        command_payload={"on": True},
    )
    good = await new_rule(db, sensor)
    async with db.transaction() as session:  # a channel a command cannot have
        await session.execute(
            Rule.__table__.update()  # type: ignore[attr-defined]
            .where(Rule.id == bad.id)
            .values(command_channel="bad channel!")
        )
    await engine.refresh()
    await send(db, sensor, 11.0)
    assert await engine.evaluate_once() == 1
    assert len(await fired(db, good)) == 1
    assert len(await fired(db, bad)) == 1
    [failure] = await fired(db, bad, "rule.action_failed")
    assert "command action failed" in failure


async def test_sqlite_smoke(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    try:
        engine = engine_on(database)
        sensor = await new_sensor(database)
        rule = await new_rule(database, sensor, cooldown_seconds=3600)
        await engine.refresh()
        await send(database, sensor, 11.0, 5.0, 12.0)  # fires, re-arms, in cooldown
        assert await engine.evaluate_once() == 1
        assert len(await fired(database, rule)) == 1
        async with database.sessions() as session:
            stored = await session.get(Rule, rule.id)
            assert stored is not None
            assert stored.armed
            assert stored.last_triggered_at is not None
            assert datetime.now(UTC) - stored.last_triggered_at < timedelta(minutes=1)
            assert await session.scalar(select(func.count()).select_from(RuleInbox)) == 0
    finally:
        await database.dispose()
