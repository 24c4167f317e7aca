"""``revlink cloud worker``: API replicas run with ``REVLINK_RUN_AUTOMATION=false`` evaluate
no rule and deliver no webhook; a worker process on the same PostgreSQL database does both,
and its rule notifications reach the replica's stream clients. SQLite refuses the split."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from websockets.asyncio.client import connect

from tests.rig.cloud import CloudServer, start_cloud, start_worker
from tests.rig.postgres import PostgresServer, own_database
from tests.rig.rule_api import create, entries, new_sensor, push, rule_body, telemetry
from tests.rig.stream import CONNECTED, notifications
from tests.rig.webhooks import FAST_ENV, Receiver, receiver_fixture

__all__ = ["receiver_fixture"]  # the receiver fixture, used by name

WORKER_ENV = {**FAST_ENV, "REVLINK_RULE_POLL_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def split(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CloudServer, str, Path]]:
    """An API replica without automation on a database of its own (and where to log)."""
    logs = Path(tmp_path_factory.mktemp("split"))
    env = {**FAST_ENV, "REVLINK_RUN_AUTOMATION": "false"}
    with own_database(postgres_server, "revlink_worker") as url, start_cloud(url, logs, env) as api:
        yield api, url, logs


async def test_the_worker_fires_rules_and_delivers_webhooks_for_the_replicas(
    split: tuple[CloudServer, str, Path], receiver: Receiver
) -> None:
    api, url, logs = split
    operator = api.user("operator")[1]
    sensor = new_sensor(api, operator)
    rule = create(api, operator, rule_body(sensor, action_type="notification", threshold=5))
    hooked = create(api, operator, rule_body(sensor, action_type="webhook", threshold=5))
    with api.http(api.admin_token()) as client:
        hook = {"url": receiver.url("/worker"), "events": ["sensor.threshold_exceeded"]}
        assert client.post("/api/v1/webhooks", json=hook).status_code == 201
    viewer = api.user("viewer")[1]
    query = f"token={viewer}&sensor=00000000-0000-0000-0000-000000000000"
    async with connect(f"{api.ws_url}/ws/datapoints/stream?{query}") as stream:
        assert await stream.recv() == CONNECTED
        async with telemetry(api, operator) as ws:
            await push(ws, sensor, 1.0)
            await push(ws, sensor, 7.5)
        # The replica stored the values but evaluates nothing itself.
        assert await notifications(stream, 3) == []
        assert entries(api, rule["name"]) == []
        assert receiver.on("/worker") == []

        with start_worker(url, logs, WORKER_ENV) as worker:
            got = await notifications(stream, 4)
            assert [(m["rule_public_id"], m["value"]) for m in got] == [(rule["public_id"], 7.5)]
            assert len(entries(api, rule["name"])) == 1
            assert len(entries(api, hooked["name"])) == 1
            for _ in range(50):
                if receiver.on("/worker"):
                    break
                await asyncio.sleep(0.1)
            delivered = receiver.on("/worker")
            assert len(delivered) == 1
            assert delivered[0].json()["rule_public_id"] == hooked["public_id"]
            async with httpx.AsyncClient(base_url=worker.base_url) as client:
                health = await client.get("/healthz")
                metrics = await client.get("/metrics")
            assert health.json() == {"status": "ok", "database": "postgresql"}
            assert "revlink_worker_loops_alive 1.0" in metrics.text
            # It yields the CPU to ingest (REVLINK_WORKER_NICE, default 10).
            assert psutil.Process(worker.process.pid).nice() == min(19, os.nice(0) + 10)


def run_revlink(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """A revlink command that must refuse to start; its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "revlink", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "REVLINK_DATA_DIR": str(tmp_path), **(env or {})},
    )
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_sqlite_refuses_a_worker_and_a_replica_without_automation(tmp_path: Path) -> None:
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    error = run_revlink(tmp_path, "cloud", "worker", "--database-url", sqlite)
    assert "revlink cloud worker needs PostgreSQL" in error
    error = run_revlink(
        tmp_path,
        "cloud",
        "serve",
        "--database-url",
        sqlite,
        env={"REVLINK_RUN_AUTOMATION": "false"},
    )
    assert "REVLINK_RUN_AUTOMATION=false needs PostgreSQL" in error
