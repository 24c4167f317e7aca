"""``/api/v1/experiments`` (WebMACS's paths and shapes) through a real cloud on PostgreSQL:
CRUD, at most one running, stop, datapoints from a real device uplink stamped with the
running experiment and exported in its CSV, roles, 404s and bad input."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.rig.cloud import CloudServer, unique
from tests.rig.postgres import PostgresDatabase
from tests.rig.uplink import record, uplink_client

Json = dict[str, Any]
BASE = "/api/v1/experiments"
CSV_HEADER = "timestamp,event_name,event_public_id,value,unit,datapoint_public_id"


@pytest.fixture
def operator(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


def running(cloud: CloudServer) -> list[Json]:
    with cloud.http(cloud.admin_token()) as client:
        found: list[Json] = []
        page = 1
        while True:
            body = client.get(BASE, params={"page": page, "page_size": 100}).json()
            found += [e for e in body["data"] if e["state"] == "running"]
            if page * body["page_size"] >= body["total"]:
                return found
            page += 1


@pytest.fixture(autouse=True)
def nothing_running(cloud: CloudServer) -> Iterator[None]:
    """The cloud is shared by the session: each test starts and ends with none running."""

    def stop_all() -> None:
        with cloud.http(cloud.admin_token()) as client:
            for experiment in running(cloud):
                assert client.put(f"{BASE}/{experiment['public_id']}/stop").status_code == 200

    stop_all()
    yield
    stop_all()


def create(cloud: CloudServer, token: str, name: str | None = None, start: bool = True) -> Json:
    with cloud.http(token) as client:
        reply = client.post(BASE, json={"name": name or unique("exp"), "start": start})
    assert reply.status_code == 201, reply.text
    body: Json = reply.json()
    assert (body["status"], set(body)) == ("success", {"status", "message", "experiment"})
    experiment: Json = body["experiment"]
    return experiment


def test_create_read_list_rename_delete(cloud: CloudServer, operator: str) -> None:
    name = unique("planned")
    planned = create(cloud, operator, name, start=False)
    assert set(planned) == {
        "public_id",
        "name",
        "started_on",
        "stopped_on",
        "user_public_id",
        "state",
        "created_on",
    }
    assert (planned["name"], planned["state"]) == (name, "planned")
    assert planned["started_on"] is planned["stopped_on"] is None
    assert uuid.UUID(planned["user_public_id"])
    at = f"{BASE}/{planned['public_id']}"
    with cloud.http(operator) as client:
        assert client.get(at).json() == planned
        page = client.get(BASE, params={"page": 1, "page_size": 5}).json()
        assert list(page) == ["page", "page_size", "total", "data"]
        assert (page["page"], page["page_size"]) == (1, 5)
        assert page["total"] >= 1
        assert page["data"][0]["public_id"] == planned["public_id"]  # newest first
        assert len(page["data"]) <= 5

        renamed = client.put(at, json={"name": f"  {name}-b  "})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["experiment"]["name"] == f"{name}-b"
        assert client.put(at, json={}).json()["experiment"]["name"] == f"{name}-b"

        other = create(cloud, operator, start=False)
        taken = client.put(f"{BASE}/{other['public_id']}", json={"name": f"{name}-b"})
        assert taken.status_code == 409
        assert taken.json()["detail"] == f"an experiment named '{name}-b' exists already"
        duplicate = client.post(BASE, json={"name": f"{name}-b", "start": False})
        assert duplicate.status_code == 409, duplicate.text

        deleted = client.delete(at)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {
            "status": "success",
            "message": "Experiment successfully deleted.",
        }
        assert client.get(at).status_code == 404


def test_at_most_one_runs_and_stop_ends_it(cloud: CloudServer, operator: str) -> None:
    first = create(cloud, operator)  # WebMACS's default: created = started
    assert first["state"] == "running"
    started = datetime.fromisoformat(first["started_on"])
    assert abs(datetime.now(UTC) - started) < timedelta(seconds=30)
    assert first["stopped_on"] is None
    at = f"{BASE}/{first['public_id']}"
    with cloud.http(operator) as client:
        # The edge: a second one while the first runs is refused, naming the first.
        second_name = unique("second")
        refused = client.post(BASE, json={"name": second_name})
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert f"experiment '{first['name']}' ({first['public_id']}) is running" in detail
        assert "stop it before starting another" in detail
        names = [e["name"] for e in client.get(BASE, params={"page_size": 100}).json()["data"]]
        assert second_name not in names  # nothing was created

        planned = create(cloud, operator, start=False)
        planned_at = f"{BASE}/{planned['public_id']}"
        blocked = client.put(f"{planned_at}/start")
        assert blocked.status_code == 409
        assert first["public_id"] in blocked.json()["detail"]
        assert client.get(planned_at).json()["state"] == "planned"

        again = client.put(f"{at}/start")  # starting the running one changes nothing
        assert again.status_code == 200
        assert again.json()["experiment"]["started_on"] == first["started_on"]
        assert client.delete(at).status_code == 409  # not while it runs

        stopped = client.put(f"{at}/stop")
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["message"] == "Experiment successfully stopped."
        after = stopped.json()["experiment"]
        assert after["state"] == "stopped"
        assert datetime.fromisoformat(after["stopped_on"]) >= started
        assert client.put(f"{at}/stop").json()["experiment"] == after  # keeps its stop time
        rerun = client.put(f"{at}/start")
        assert rerun.status_code == 409
        assert "cannot run again" in rerun.json()["detail"]

        now_running = client.put(f"{planned_at}/start")
        assert now_running.status_code == 200, now_running.text
        assert now_running.json()["experiment"]["state"] == "running"
        assert [e["public_id"] for e in running(cloud)] == [planned["public_id"]]
        assert client.put(f"{planned_at}/stop").status_code == 200

        never = create(cloud, operator, start=False)
        not_started = client.put(f"{BASE}/{never['public_id']}/stop")
        assert not_started.status_code == 409
        assert "has not been started" in not_started.json()["detail"]


async def _points_until(stream: ClientConnection, *values: float) -> list[Json]:
    """Every point the stream sends until all ``values`` have come (it throttles per sensor,
    so one sensor's next value may come a moment after another's)."""
    seen: list[Json] = []
    while not set(values) <= {p["value"] for p in seen}:
        message = json.loads(await asyncio.wait_for(stream.recv(), 10))
        assert message["type"] == "datapoints_batch", message
        seen += message["datapoints"]
    return seen


def _csv(cloud: CloudServer, token: str, experiment: Json) -> tuple[str, list[dict[str, str]]]:
    with cloud.http(token) as client:
        reply = client.get(f"{BASE}/{experiment['public_id']}/export/csv")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="experiment_')
    assert disposition.endswith(f'_{experiment["public_id"][:8]}.csv"')
    return reply.text.splitlines()[0], list(csv.DictReader(io.StringIO(reply.text)))


async def test_uplink_datapoints_carry_the_running_experiment_and_fill_its_csv(
    cloud: CloudServer, operator: str, postgres_database: PostgresDatabase
) -> None:
    device_id, token = cloud.device()
    viewer = cloud.user("viewer")[1]
    url = f"{cloud.ws_url}/ws/datapoints/stream?token={viewer}&device_id={device_id}"
    ts = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    async with connect(url) as stream, uplink_client(cloud.ws_url, token) as link:
        assert json.loads(await stream.recv())["type"] == "connected"
        await link.hello()
        await link.batch(record(1, message={"level": 1.5}, ts=ts))
        before = await _points_until(stream, 1.5)

        experiment = await asyncio.to_thread(create, cloud, operator, unique("run 1/a"))
        await link.batch(
            record(2, message={"level": 2.5}, ts=ts + timedelta(seconds=1)),
            record(3, channel="temp", message={"celsius": 21.25}, ts=ts + timedelta(seconds=2)),
        )
        during = await _points_until(stream, 2.5, 21.25)

        with cloud.http(operator) as client:
            stop = await asyncio.to_thread(client.put, f"{BASE}/{experiment['public_id']}/stop")
        assert stop.status_code == 200
        await link.batch(record(4, message={"level": 4.5}, ts=ts + timedelta(seconds=3)))
        after = await _points_until(stream, 4.5)

    assert {p["experiment_public_id"] for p in before} == {None}
    assert {p["experiment_public_id"] for p in during} == {experiment["public_id"]}
    assert {p["experiment_public_id"] for p in after} == {None}
    sensor_of = {p["value"]: p["event_public_id"] for p in before + during + after}

    header, rows = _csv(cloud, viewer, experiment)
    assert header == CSV_HEADER
    assert [(r["timestamp"], r["event_public_id"], float(r["value"]), r["unit"]) for r in rows] == [
        ((ts + timedelta(seconds=1)).isoformat(), sensor_of[2.5], 2.5, ""),
        ((ts + timedelta(seconds=2)).isoformat(), sensor_of[21.25], 21.25, ""),
    ]
    assert all(r["event_name"] for r in rows)
    # Each point has its own UUID, the same in every export.
    point_ids = [uuid.UUID(r["datapoint_public_id"]) for r in rows]
    assert len(set(point_ids)) == len(rows)
    assert [r["datapoint_public_id"] for r in _csv(cloud, viewer, experiment)[1]] == [
        str(p) for p in point_ids
    ]
    assert sensor_of[1.5] == sensor_of[2.5]  # the same sensor, outside the experiment's rows

    empty = create(cloud, operator, start=False)
    assert _csv(cloud, viewer, empty) == (CSV_HEADER, [])

    # Deleted, the experiment leaves its datapoints in place, without an experiment.
    with cloud.http(operator) as client:
        assert client.delete(f"{BASE}/{experiment['public_id']}").status_code == 200
    kept = await _experiments_of(postgres_database.dsn, [uuid.UUID(v) for v in sensor_of.values()])
    assert kept == [None] * 4


async def _experiments_of(dsn: str, sensors: list[uuid.UUID]) -> list[int | None]:
    """The ``experiment_id`` of every datapoint of the sensors."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT d.experiment_id FROM datapoints d JOIN sensors s ON s.id = d.sensor_id"
            " WHERE s.public_id = ANY($1::uuid[])",
            sensors,
        )
    finally:
        await connection.close()
    return [row["experiment_id"] for row in rows]


def test_viewers_read_and_operators_write(cloud: CloudServer, operator: str) -> None:
    experiment = create(cloud, operator, start=False)
    at = f"{BASE}/{experiment['public_id']}"
    with cloud.http(cloud.user("viewer")[1]) as viewer:
        assert viewer.get(BASE).status_code == 200
        assert viewer.get(at).status_code == 200
        assert viewer.get(f"{at}/export/csv").status_code == 200
        for reply in (
            viewer.post(BASE, json={"name": unique("nope")}),
            viewer.put(at, json={"name": unique("nope")}),
            viewer.put(f"{at}/start"),
            viewer.put(f"{at}/stop"),
            viewer.delete(at),
        ):
            assert reply.status_code == 403, reply.text
            assert reply.json()["detail"] == "this needs the operator role; you are viewer"
    with cloud.http() as anonymous:
        assert anonymous.get(BASE).status_code == 401
        assert anonymous.get(f"{at}/export/csv").status_code == 401
    with cloud.http(operator) as client:
        assert client.get(at).json()["state"] == "planned"  # nothing the viewer tried happened


def test_unknown_experiments_are_404(cloud: CloudServer, operator: str) -> None:
    missing = uuid.uuid4()
    at = f"{BASE}/{missing}"
    with cloud.http(operator) as client:
        for reply in (
            client.get(at),
            client.put(at, json={"name": "x"}),
            client.put(f"{at}/start"),
            client.put(f"{at}/stop"),
            client.delete(at),
            client.get(f"{at}/export/csv"),
        ):
            assert reply.status_code == 404, reply.text
            assert reply.json()["detail"] == f"no experiment {missing}"


def test_bad_input_is_422_with_a_clear_message(cloud: CloudServer, operator: str) -> None:
    with cloud.http(operator) as client:

        def problem(reply: Any) -> str:
            assert reply.status_code == 422, reply.text
            detail = reply.json()["detail"]
            return detail if isinstance(detail, str) else detail[0]["msg"]

        assert problem(client.post(BASE, json={})) == "Field required"
        assert problem(client.post(BASE, json={"name": ""})) == (
            "String should have at least 1 character"
        )
        assert problem(client.post(BASE, json={"name": "x" * 256})) == (
            "String should have at most 255 characters"
        )
        assert problem(client.post(BASE, json={"name": "   "})) == (
            "an experiment's name must not be blank"
        )
        assert problem(client.post(BASE, json={"name": "a", "start": "maybe"})) == (
            "Input should be a valid boolean, unable to interpret input"
        )
        assert problem(client.get(BASE, params={"page_size": 101})) == (
            "Input should be less than or equal to 100"
        )
        assert problem(client.get(BASE, params={"page": 0})) == (
            "Input should be greater than or equal to 1"
        )
        assert "UUID" in problem(client.get(f"{BASE}/not-a-uuid"))
    assert running(cloud) == []  # none of it started anything
