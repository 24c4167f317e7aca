"""``/api/v1/health`` in WebMACS's shape, with no login, on a real cloud and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.cloud.test_datapoints import insert, make_sensor
from tests.rig.cloud import CloudServer
from tests.rig.postgres import PostgresDatabase


def test_health_answers_without_login_in_webmacs_shape(
    cloud: CloudServer, postgres_database: PostgresDatabase
) -> None:
    _, sensor_id = make_sensor(cloud, postgres_database, cloud.user("operator")[1])
    stored = datetime.now(UTC).replace(microsecond=0)
    insert(postgres_database.dsn, sensor_id, [(stored, 1.5)])
    with httpx.Client(base_url=cloud.base_url) as anonymous:
        first = anonymous.get("/api/v1/health")
        second = anonymous.get("/api/v1/health")
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"status", "version", "database", "last_datapoint", "uptime_seconds"}
    assert (body["status"], body["database"], body["version"]) == ("ok", "ok", "0.1.0")
    assert 0 < body["uptime_seconds"] <= second.json()["uptime_seconds"]
    # The newest datapoint of the whole database: ours, or a later one another test stored.
    assert datetime.fromisoformat(body["last_datapoint"]) >= stored
