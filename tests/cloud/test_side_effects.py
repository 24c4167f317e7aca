"""Side effects never slow or break ingest: 100 active rules and webhooks whose targets fail
or hang, while a device streams through the real uplink door of a real cloud process.

Every batch is acknowledged whole, every value is stored, every rule fires exactly as the
edge-triggered semantics say (counted by an independent oracle), every webhook-action firing
becomes one delivery per subscribed webhook, the healthy target gets each of them, and the
device's link is still good afterwards. (How fast ingest is with them is measured by
``tests/bench/bench_side_effects.py``.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.rig.cloud import CloudServer, start_cloud, unique
from tests.rig.postgres import PostgresServer
from tests.rig.uplink import record, uplink_client
from tests.rig.webhooks import FAST_ENV, Receiver, fresh_database, serving

RULES = 100
CYCLES = 5  # the level rises 0, 1, …, 99 and falls back to 0, this many times
WEBHOOK_EVERY = 10  # every tenth rule's action is a webhook, the others write the log
BATCH = 250


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with serving() as found:
        found.set("/fail", status=500)
        found.set("/slow", delay=3.0)  # past the 1 s timeout of FAST_ENV
        yield found


@pytest.fixture(scope="module")
def busy_cloud(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CloudServer, str]]:
    """A cloud of its own (rules and webhooks are global) and its database's asyncpg DSN."""
    with (
        fresh_database(postgres_server) as url,
        start_cloud(url, Path(tmp_path_factory.mktemp("busy")), env=FAST_ENV) as server,
    ):
        yield server, url.replace("postgresql+asyncpg://", "postgresql://")


def fires(threshold: float, values: list[float]) -> int:
    """The oracle: how often a ``gt threshold`` rule with no cooldown fires on ``values``."""
    armed, count = True, 0
    for value in values:
        if value > threshold and armed:
            count, armed = count + 1, False
        elif value <= threshold:
            armed = True
    return count


async def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def until_inbox_empty(dsn: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (await fetch(dsn, "SELECT count(*) AS n FROM rule_inbox"))[0]["n"]:
        assert time.monotonic() < deadline, "the rule evaluator did not work off its inbox"
        await asyncio.sleep(0.1)


async def test_failing_and_hanging_webhooks_and_100_rules_leave_ingest_whole(
    busy_cloud: tuple[CloudServer, str], receiver: Receiver
) -> None:
    cloud, dsn = busy_cloud
    device_id, token = cloud.device(unique("busy"))
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        ack, errors = await link.batch(record(1, message={"level": 0.0}))
        assert errors == []
        assert ack is not None
        assert ack.up_to_seq == 1

        with cloud.http(cloud.admin_token()) as client:
            sensors = client.get(f"/api/v1/devices/{device_id}/sensors").json()
            level = next(s["public_id"] for s in sensors if s["key"] == "tank.level")
            names = {}
            for i in range(RULES):
                names[i] = f"busy-{i:03d}-{unique('r')}"
                reply = client.post(
                    "/api/v1/rules",
                    json={
                        "name": names[i],
                        "event_public_id": level,
                        "operator": "gt",
                        "threshold": float(i),
                        "action_type": "webhook" if i % WEBHOOK_EVERY == 0 else "log",
                        "cooldown_seconds": 0,
                    },
                )
                assert reply.status_code == 201, reply.text
            for path in ("/fail", "/slow", "/ok"):
                hook = {"url": receiver.url(path), "events": ["sensor.threshold_exceeded"]}
                reply = client.post("/api/v1/webhooks", json=hook)
                assert reply.status_code == 201, reply.text

        values = [float(v) for _ in range(CYCLES) for v in range(100)]
        for first in range(0, len(values), BATCH):
            chunk = values[first : first + BATCH]
            records = [record(2 + first + n, message={"level": v}) for n, v in enumerate(chunk)]
            ack, errors = await link.batch(*records)
            assert errors == []
            assert ack is not None
            assert ack.up_to_seq == 1 + first + len(chunk)

        await until_inbox_empty(dsn)
        stored = await fetch(
            dsn,
            "SELECT count(*) AS n FROM datapoints d JOIN sensors s ON s.id = d.sensor_id"
            " WHERE s.public_id = $1",
            uuid.UUID(level),
        )
        assert stored[0]["n"] == 1 + len(values)

        entries = [
            row["content"]
            for row in await fetch(dsn, "SELECT content FROM log_entries WHERE kind = 'rule.fired'")
        ]
        for i, name in names.items():
            got = sum(f"'{name}'" in content for content in entries)
            assert got == fires(float(i), values), f"rule {i} (gt {i}) fired {got} times"

        webhook_firings = sum(fires(float(i), values) for i in range(0, RULES, WEBHOOK_EVERY))
        assert webhook_firings > 0
        per_hook = await fetch(
            dsn,
            "SELECT w.url, count(d.id) AS n FROM webhooks w"
            " LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id GROUP BY w.url",
        )
        assert {row["url"]: row["n"] for row in per_hook} == {
            receiver.url(path): webhook_firings for path in ("/fail", "/slow", "/ok")
        }

        deadline = time.monotonic() + 60
        while len(receiver.on("/ok")) < webhook_firings:
            assert time.monotonic() < deadline, f"{len(receiver.on('/ok'))} reached /ok"
            await asyncio.sleep(0.2)
        assert len(receiver.on("/ok")) == webhook_firings
        assert receiver.on("/fail")
        assert receiver.on("/slow")

        # The link is as good as new after all of it.
        ack, errors = await link.batch(record(2 + len(values), message={"level": 0.0}))
        assert errors == []
        assert ack is not None
        assert ack.up_to_seq == 2 + len(values)
