"""WebMACS's HTTP telemetry: ``POST /api/v1/datapoints`` and ``POST /api/v1/datapoints/batch``
on a real cloud and PostgreSQL: stored once, the same item checks as the telemetry door, the
500-item limit at its edge, roles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cloud.test_datapoints import get, make_sensor
from tests.rig.cloud import CloudServer
from tests.rig.postgres import PostgresDatabase

BASE = "/api/v1/datapoints"


@pytest.fixture
def operator(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


def post(cloud: CloudServer, token: str, path: str, body: Any) -> tuple[int, Any]:
    with cloud.http(token) as client:
        reply = client.post(path, json=body)
    return reply.status_code, reply.json()


def stored(cloud: CloudServer, token: str, sensor: str) -> list[float]:
    body = get(cloud, token, BASE, sensor=sensor, max_points=10_000)
    return [point["value"] for point in body["points"]]


def test_one_datapoint_is_stored_and_bad_ones_are_refused_clearly(
    cloud: CloudServer, postgres_database: PostgresDatabase, operator: str
) -> None:
    sensor, _ = make_sensor(cloud, postgres_database, operator)
    assert post(cloud, operator, BASE, {"value": 21.5, "event_public_id": sensor}) == (
        201,
        {"status": "success", "message": "Datapoint successfully created.", "refused": []},
    )
    assert stored(cloud, operator, sensor) == [21.5]
    latest = get(cloud, operator, f"{BASE}/latest", sensor=[sensor])
    assert [(r["event_public_id"], r["value"]) for r in latest] == [(sensor, 21.5)]

    unknown = "00000000-0000-0000-0000-00000000abcd"
    code, body = post(cloud, operator, BASE, {"value": 1, "event_public_id": unknown})
    assert (code, body["detail"]) == (404, "Event not found.")
    code, body = post(cloud, operator, BASE, {"value": "hot", "event_public_id": sensor})
    assert code == 422, body
    assert "value" in body["detail"], body
    code, _ = post(cloud, operator, BASE, {"event_public_id": sensor})
    assert code == 422
    viewer = cloud.user("viewer")[1]
    code, _ = post(cloud, viewer, BASE, {"value": 1, "event_public_id": sensor})
    assert code == 403
    assert stored(cloud, operator, sensor) == [21.5]  # nothing refused was stored


def test_a_batch_stores_its_good_items_and_names_the_refused(
    cloud: CloudServer, postgres_database: PostgresDatabase, operator: str
) -> None:
    sensor, _ = make_sensor(cloud, postgres_database, operator)
    items: list[Any] = [{"value": float(v), "event_public_id": sensor} for v in range(3)]
    items.append({"value": 9, "event_public_id": "00000000-0000-0000-0000-00000000abcd"})
    items.append({"value": None, "event_public_id": sensor})
    code, body = post(cloud, operator, f"{BASE}/batch", {"datapoints": items})
    assert code == 201, body
    assert body["message"] == "3 datapoints successfully created."
    assert [r["index"] for r in body["refused"]] == [3, 4]
    assert sorted(stored(cloud, operator, sensor)) == [0.0, 1.0, 2.0]

    code, body = post(cloud, operator, f"{BASE}/batch", {"datapoints": items[3:]})
    assert code == 422
    assert body["detail"]["message"] == "No valid datapoints in batch"
    assert [r["index"] for r in body["detail"]["refused"]] == [0, 1]
    assert sorted(stored(cloud, operator, sensor)) == [0.0, 1.0, 2.0]


def test_the_batch_limit_is_500(
    cloud: CloudServer, postgres_database: PostgresDatabase, operator: str
) -> None:
    sensor, _ = make_sensor(cloud, postgres_database, operator)
    items = [{"value": float(v), "event_public_id": sensor} for v in range(501)]
    code, body = post(cloud, operator, f"{BASE}/batch", {"datapoints": items})
    assert code == 422, body
    assert stored(cloud, operator, sensor) == []
    code, body = post(cloud, operator, f"{BASE}/batch", {"datapoints": items[:500]})
    assert (code, body["message"]) == (201, "500 datapoints successfully created.")
    assert len(stored(cloud, operator, sensor)) == 500


def test_a_number_written_as_text_is_taken_as_webmacs_takes_it(
    cloud: CloudServer, postgres_database: PostgresDatabase, operator: str
) -> None:
    sensor, _ = make_sensor(cloud, postgres_database, operator)
    texts = ["12", " -7.25 ", "1e3", ".5", "12 volts", "nan", "Infinity", "1e999", "1_000", "0x10"]
    items = [{"value": text, "event_public_id": sensor} for text in texts]
    code, body = post(cloud, operator, f"{BASE}/batch", {"datapoints": items})
    assert code == 201, body
    assert [r["index"] for r in body["refused"]] == [4, 5, 6, 7, 8, 9]
    assert stored(cloud, operator, sensor) == [12.0, -7.25, 1000.0, 0.5]
