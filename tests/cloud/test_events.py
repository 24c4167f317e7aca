"""``/api/v1/events``: WebMACS's events over revlink's sensors, on a real cloud and PostgreSQL.

The shapes are checked the way WebMACS's controller reads them (its event model needs both
bounds as numbers and a known type), and an event is the same thing as a sensor."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import asyncpg
import pytest

from tests.rig.cloud import CloudServer, unique
from tests.rig.postgres import PostgresDatabase

BASE = "/api/v1/events"
WEBMACS_FIELDS = {"public_id", "name", "min_value", "max_value", "unit", "type", "user_public_id"}
TYPES = {"sensor", "actuator", "range", "cmd_button", "cmd_opened", "cmd_closed"}


@pytest.fixture
def operator(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


def call(cloud: CloudServer, token: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    with cloud.http(token) as client:
        reply = client.request(method, path, **kw)
    return reply.status_code, reply.json()


def webmacs_event(item: dict[str, Any]) -> None:
    """What WebMACS's controller requires of each event before it starts."""
    assert set(item) >= WEBMACS_FIELDS, item
    assert isinstance(item["min_value"], float), item
    assert isinstance(item["max_value"], float), item
    assert item["type"] in TYPES, item
    assert isinstance(item["unit"], str), item


def test_create_read_update_delete_an_event_in_webmacs_shapes(
    cloud: CloudServer, operator: str
) -> None:
    name = unique("valve")
    body = {"name": name, "min_value": 0, "max_value": 1, "unit": "%", "type": "actuator"}
    code, created = call(cloud, operator, "POST", BASE, json=body)
    assert code == 201, created
    assert (created["status"], created["message"]) == ("success", "Event successfully created.")
    event_id = created["public_id"]

    code, event = call(cloud, operator, "GET", f"{BASE}/{event_id}")
    assert code == 200
    webmacs_event(event)
    assert (event["name"], event["type"], event["min_value"], event["max_value"]) == (
        name,
        "actuator",
        0.0,
        1.0,
    )
    # One concept, two names: the event is a sensor too.
    code, sensor = call(cloud, operator, "GET", f"/api/v1/sensors/{event_id}")
    assert (code, sensor["name"], sensor["unit"]) == (200, name, "%")

    code, again = call(cloud, operator, "POST", BASE, json=body)
    assert code == 409, again

    code, changed = call(cloud, operator, "PUT", f"{BASE}/{event_id}", json={"max_value": 100})
    assert (code, changed["status"]) == (200, "success"), changed
    assert changed["event"]["max_value"] == 100.0
    assert changed["event"]["unit"] == "%"
    code, refused = call(cloud, operator, "PUT", f"{BASE}/{event_id}", json={"min_value": 500})
    assert code == 422
    assert "greater than max_value" in refused["detail"], refused
    code, _ = call(cloud, operator, "PUT", f"{BASE}/{event_id}", json={"type": "door"})
    assert code == 422

    code, pushed = call(
        cloud,
        operator,
        "POST",
        "/api/v1/datapoints",
        json={"event_public_id": event_id, "value": 4},
    )
    assert code == 201, pushed
    code, deleted = call(cloud, operator, "DELETE", f"{BASE}/{event_id}")
    assert (code, deleted["message"]) == (200, "Event successfully deleted.")
    assert call(cloud, operator, "GET", f"{BASE}/{event_id}")[0] == 404
    assert call(cloud, operator, "GET", f"/api/v1/sensors/{event_id}")[0] == 404
    code, _ = call(
        cloud,
        operator,
        "POST",
        "/api/v1/datapoints",
        json={"event_public_id": event_id, "value": 5},
    )
    assert code == 404


def test_the_list_is_a_webmacs_page_and_unbounded_sensors_read_as_numbers(
    cloud: CloudServer, operator: str
) -> None:
    # A sensor made without bounds (as devices register them) still parses as an event.
    code, sensor = call(cloud, operator, "POST", "/api/v1/sensors", json={"name": unique("raw")})
    assert code == 201
    code, event = call(cloud, operator, "GET", f"{BASE}/{sensor['public_id']}")
    webmacs_event(event)
    assert (event["min_value"], event["max_value"]) == (-sys.float_info.max, sys.float_info.max)
    assert event["type"] == "sensor"

    for _ in range(3):
        assert call(cloud, operator, "POST", BASE, json={"name": unique("p")})[0] == 201
    code, page = call(cloud, operator, "GET", BASE, params={"page": 1, "page_size": 2})
    assert code == 200
    assert set(page) == {"page", "page_size", "total", "data"}
    assert (page["page"], page["page_size"], len(page["data"])) == (1, 2, 2)
    assert page["total"] >= 4
    for item in page["data"]:
        webmacs_event(item)
    code, last = call(cloud, operator, "GET", BASE, params={"page": page["total"], "page_size": 1})
    assert code == 200
    assert len(last["data"]) == 1
    code, past = call(cloud, operator, "GET", BASE, params={"page": page["total"] + 1})
    assert code == 200
    assert past["data"] == []
    assert call(cloud, operator, "GET", BASE, params={"page_size": 101})[0] == 422
    assert call(cloud, operator, "GET", BASE, params={"page": 0})[0] == 422


def test_viewers_read_events_and_only_operators_write_them(cloud: CloudServer) -> None:
    viewer = cloud.user("viewer")[1]
    assert call(cloud, viewer, "GET", BASE)[0] == 200
    assert call(cloud, viewer, "POST", BASE, json={"name": unique("v")})[0] == 403
    with cloud.http() as client:
        assert client.get(BASE).status_code == 401


def test_deleting_an_event_deletes_its_datapoints_and_rollups(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    code, created = call(cloud, operator, "POST", BASE, json={"name": unique("gone")})
    assert code == 201, created
    event_id = created["public_id"]
    points = [{"event_public_id": event_id, "value": v} for v in (1.0, 2.0, 3.0)]
    code, stored = call(
        cloud, operator, "POST", "/api/v1/datapoints/batch", json={"datapoints": points}
    )
    assert code == 201, stored
    counts = asyncio.run(_rows_of(postgres_database.dsn, event_id))
    assert counts["datapoints"] == 3
    assert counts["datapoint_minutes"] == counts["datapoint_hours"] == 1
    assert call(cloud, operator, "DELETE", f"{BASE}/{event_id}")[0] == 200
    # The table holds no foreign key (migration 0015): the delete itself removed them.
    assert asyncio.run(_rows_of(postgres_database.dsn, event_id, sensor_id=counts["id"])) == {
        "id": counts["id"],
        "datapoints": 0,
        "datapoint_minutes": 0,
        "datapoint_hours": 0,
    }


async def _rows_of(dsn: str, public_id: str, sensor_id: int | None = None) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        if sensor_id is None:
            sensor_id = await connection.fetchval(
                "SELECT id FROM sensors WHERE public_id = $1", uuid.UUID(public_id)
            )
        counts = {"id": sensor_id}
        for table in ("datapoints", "datapoint_minutes", "datapoint_hours"):
            counts[table] = await connection.fetchval(
                f"SELECT count(*) FROM {table} WHERE sensor_id = $1",
                sensor_id,
            )
        return counts
    finally:
        await connection.close()
