"""The rig the rule tests share: an evaluator on a PostgreSQL database of the module's own
(``own_postgres`` and ``db`` fixtures, imported by name), and sensors, rules, devices and
WebMACS-door batches made in-process."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import delete

from cloud.core.config import CloudSettings
from cloud.db.session import Database
from cloud.live.hub import LiveHub
from cloud.models import Device, Rule, RuleInbox, Sensor
from cloud.models.webhook import Webhook
from cloud.rules import store
from cloud.rules.evaluator import RuleEngine
from cloud.services import telemetry
from cloud.uplink.signals import DeviceSignals
from tests.rig.postgres import PostgresServer, own_database

__all__ = [
    "SETTINGS",
    "db",
    "engine_on",
    "new_device",
    "new_rule",
    "new_sensor",
    "own_postgres",
    "send",
]

SETTINGS = CloudSettings(rule_poll_seconds=60, rule_refresh_seconds=60)


@pytest.fixture(scope="module")
def own_postgres(postgres_server: PostgresServer) -> Iterator[str]:
    """A database no cloud process runs on, so no other evaluator takes its inbox rows."""
    with own_database(postgres_server, "revlink_rules") as url:
        yield url


def engine_on(db: Database, live: LiveHub | None = None) -> RuleEngine:
    engine = RuleEngine(db, live or LiveHub(), DeviceSignals(), SETTINGS)
    engine.inbox.attach(db)
    return engine


@pytest.fixture
async def db(own_postgres: str) -> AsyncIterator[Database]:
    database = Database(own_postgres)
    async with database.transaction() as session:  # every test starts from an empty inbox
        await session.execute(delete(RuleInbox))  # and with no webhook subscribed
        await session.execute(delete(Webhook))
    yield database
    await database.dispose()


async def new_sensor(db: Database) -> Sensor:
    async with db.transaction() as session:
        sensor = Sensor(public_id=uuid.uuid4(), name=f"s-{secrets.token_hex(3)}", unit="°C")
        session.add(sensor)
    return sensor


async def new_rule(db: Database, sensor: Sensor, **fields: Any) -> Rule:
    spec: dict[str, Any] = {
        "name": f"r-{secrets.token_hex(4)}",
        "operator": "gt",
        "threshold": 10.0,
        "action_type": "log",
        "cooldown_seconds": 0,
        "enabled": True,
        **fields,
    }
    async with db.transaction() as session:
        view = await store.create_rule(session, spec, sensor.public_id, None)
    return view.rule


async def new_device(db: Database) -> Device:
    async with db.transaction() as session:
        device = Device(name=f"d-{secrets.token_hex(3)}", token_hash=secrets.token_hex(16))
        session.add(device)
    return device


async def send(db: Database, sensor: Sensor, *values: float) -> None:
    """One WebMACS-door batch, committed, as the telemetry door stores it."""
    items = [{"value": v, "event_public_id": str(sensor.public_id)} for v in values]
    batch = telemetry.parse_message(json.dumps({"datapoints": items}))
    async with db.transaction() as session:
        result = await telemetry.ingest(session, batch)
    assert result.stored == len(values)
