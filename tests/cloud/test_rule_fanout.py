"""A rule's notification reaches the stream clients of every replica, exactly once, whichever
replica evaluated it: two cloud processes on one PostgreSQL database of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.postgres import PostgresServer, own_database
from tests.rig.rule_api import create, new_sensor, push, rule_body, telemetry
from tests.rig.stream import CONNECTED, notifications


@pytest.fixture(scope="module")
def replicas(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CloudServer, CloudServer]]:
    logs = Path(tmp_path_factory.mktemp("replicas"))
    with (
        own_database(postgres_server, "revlink_fanout") as url,
        start_cloud(url, logs / "a") as first,
        start_cloud(url, logs / "b") as second,
    ):
        yield first, second


async def test_every_replica_shows_a_notification_once(
    replicas: tuple[CloudServer, CloudServer],
) -> None:
    first, second = replicas
    operator = first.user("operator")[1]
    sensor = new_sensor(first, operator)
    rule = create(first, operator, rule_body(sensor, action_type="notification", threshold=5))
    await asyncio.sleep(2.5)  # past REVLINK_RULE_REFRESH_SECONDS: the other replica watches too
    viewer = second.user("viewer")[1]
    query = f"token={viewer}&sensor=00000000-0000-0000-0000-000000000000"  # no datapoints
    async with (
        connect(f"{first.ws_url}/ws/datapoints/stream?{query}") as on_first,
        connect(f"{second.ws_url}/ws/datapoints/stream?{query}") as on_second,
    ):
        assert await on_first.recv() == CONNECTED
        assert await on_second.recv() == CONNECTED
        for replica in (first, second):  # a value through each door: two firings
            async with telemetry(replica, operator) as ws:
                await push(ws, sensor, 1.0)
                await push(ws, sensor, 7.5)
                await asyncio.sleep(1.0)
        got_first = await notifications(on_first, 4)
        got_second = await notifications(on_second, 1)
    for got in (got_first, got_second):
        assert [(m["rule_public_id"], m["value"]) for m in got] == [(rule["public_id"], 7.5)] * 2
