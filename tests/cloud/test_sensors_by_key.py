"""``/api/v1/devices/{device_id}/sensors/{key}``: a device's sensor by key, with dots and all."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.rig.cloud import CloudServer
from tests.rig.postgres import PostgresDatabase
from tests.rig.uplink import record, uplink_client

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def operator(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


@pytest.fixture(scope="module")
def viewer(cloud: CloudServer) -> str:
    return cloud.user("viewer")[1]


@pytest.fixture(scope="module")
def fed(cloud: CloudServer) -> uuid.UUID:
    """A device whose uplink registered ``plugin.sim.tank_temp`` and ``plugin.sim.a/b``
    (a key holding a slash), three points each."""
    device_id, token = cloud.device()

    async def feed() -> None:
        async with uplink_client(cloud.ws_url, token) as link:
            await link.hello()
            ack, errors = await link.batch(
                *(
                    record(
                        n + 1,
                        "plugin.sim",
                        message={"tank_temp": 20.0 + n, "a/b": n},
                        ts=T0 + timedelta(seconds=n),
                    )
                    for n in range(3)
                )
            )
            assert ack is not None
            assert errors == []

    asyncio.run(feed())
    return device_id


def sensor_list(cloud: CloudServer, token: str, device_id: uuid.UUID) -> list[dict[str, Any]]:
    with cloud.http(token) as client:
        reply = client.get("/api/v1/sensors", params={"device_id": str(device_id)})
        assert reply.status_code == 200
        found: list[dict[str, Any]] = reply.json()
        return found


def test_a_sensor_by_key_is_the_sensor_by_uuid(
    cloud: CloudServer, viewer: str, fed: uuid.UUID
) -> None:
    base = f"/api/v1/devices/{fed}/sensors"
    with cloud.http(viewer) as client:
        by_key = client.get(f"{base}/plugin.sim.tank_temp")
        assert by_key.status_code == 200, by_key.text
        by_id = client.get(f"/api/v1/sensors/{by_key.json()['public_id']}").json()
        assert by_key.json() == by_id
        assert by_id["key"] == "plugin.sim.tank_temp"
        # A slash in a key is part of it, percent-encoded or not.
        slashed = client.get(f"{base}/plugin.sim.a%2Fb").json()
        assert slashed["key"] == "plugin.sim.a/b"
        assert client.get(f"{base}/plugin.sim.a/b").json() == slashed
        listed = client.get(base).json()
    assert listed == sensor_list(cloud, viewer, fed)
    assert {s["key"] for s in listed} == {"plugin.sim.tank_temp", "plugin.sim.a/b"}


def test_series_and_latest_by_key(cloud: CloudServer, viewer: str, fed: uuid.UUID) -> None:
    base = f"/api/v1/devices/{fed}/sensors/plugin.sim.tank_temp"
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=1)).isoformat()}
    with cloud.http(viewer) as client:
        series = client.get(f"{base}/datapoints", params=window)
        assert series.status_code == 200, series.text
        public_id = series.json()["sensor"]
        by_id = client.get("/api/v1/datapoints", params={"sensor": public_id, **window}).json()
        assert series.json() == by_id
        assert [p["value"] for p in by_id["points"]] == [20.0, 21.0, 22.0]
        buckets = client.get(f"{base}/datapoints", params={**window, "max_points": 2}).json()
        assert buckets["downsampled"] is True
        assert client.get(f"{base}/datapoints", params={"max_points": 0}).status_code == 422

        latest = client.get(f"{base}/datapoints/latest")
        assert latest.status_code == 200, latest.text
        assert [latest.json()] == client.get(
            "/api/v1/datapoints/latest", params={"sensor": public_id}
        ).json()
        assert latest.json()["value"] == 22.0
        slashed = client.get(f"/api/v1/devices/{fed}/sensors/plugin.sim.a/b/datapoints/latest")
        assert slashed.json()["value"] == 2


def test_patch_by_key_follows_the_same_rules(
    cloud: CloudServer, operator: str, viewer: str, fed: uuid.UUID
) -> None:
    path = f"/api/v1/devices/{fed}/sensors/plugin.sim.a%2Fb"
    with cloud.http(viewer) as client:
        assert client.patch(path, json={"unit": "x"}).status_code == 403
    with cloud.http(operator) as client:
        changed = client.patch(path, json={"name": "Counter", "unit": "1"})
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["name"], body["unit"], body["name_edited"]) == ("Counter", "1", True)
        assert client.patch(path, json={"name": ""}).status_code == 422
        assert client.patch(path, json={"key": "other"}).status_code == 422
        reset = client.patch(path, json={"name": None, "unit": None}).json()
    assert (reset["name"], reset["unit"]) == ("plugin.sim.a/b", "")


def test_unknown_devices_keys_and_empty_sensors_are_404s(
    cloud: CloudServer, viewer: str, fed: uuid.UUID
) -> None:
    ghost = uuid.uuid4()
    idle_device, _ = cloud.device()
    with cloud.http(viewer) as client:

        def missing(path: str) -> str:
            reply = client.get(path)
            assert reply.status_code == 404, reply.text
            detail: str = reply.json()["detail"]
            return detail

        assert missing(f"/api/v1/devices/{ghost}/sensors/x.y") == f"no device {ghost}"
        assert missing(f"/api/v1/devices/{ghost}/sensors") == f"no device {ghost}"
        assert (
            missing(f"/api/v1/devices/{fed}/sensors/plugin.sim.nope/datapoints")
            == f"device {fed} has no sensor 'plugin.sim.nope'"
        )
        assert client.get(f"/api/v1/devices/{idle_device}/sensors").json() == []
        assert client.get(f"/api/v1/devices/{fed}/sensors/x").status_code == 404
        assert client.get("/api/v1/devices/not-a-uuid/sensors/x").status_code == 422
        anonymous = cloud.http()
        with anonymous:
            assert anonymous.get(f"/api/v1/devices/{fed}/sensors/x").status_code == 401


async def test_latest_of_a_sensor_without_values_is_a_404(
    cloud: CloudServer, viewer: str, postgres_database: PostgresDatabase
) -> None:
    device_id, _ = cloud.device()
    # The uplink registers a sensor with its first value; one without any (its points
    # deleted, say) is written directly.
    connection = await asyncpg.connect(postgres_database.dsn)
    try:
        await connection.execute(
            "INSERT INTO sensors (public_id, device_id, key, name, unit, created_at)"
            " VALUES ($1, $2, 'idle.level', 'idle.level', '', now())",
            uuid.uuid4(),
            device_id,
        )
    finally:
        await connection.close()
    with cloud.http(viewer) as client:
        base = f"/api/v1/devices/{device_id}/sensors/idle.level"
        assert client.get(base).status_code == 200
        empty = client.get(f"{base}/datapoints").json()
        assert (empty["count"], empty["points"]) == (0, [])
        none_yet = client.get(f"{base}/datapoints/latest")
    assert (none_yet.status_code, none_yet.json()["detail"]) == (
        404,
        f"sensor 'idle.level' of device {device_id} has no datapoints yet",
    )
