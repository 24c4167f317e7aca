"""``/api/v1/sensors``: create, list, read, update; roles and validation, on PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.rig.cloud import CloudServer, unique


@pytest.fixture(scope="module")
def operator(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


@pytest.fixture(scope="module")
def viewer(cloud: CloudServer) -> str:
    return cloud.user("viewer")[1]


def create(cloud: CloudServer, token: str, **body: Any) -> dict[str, Any]:
    with cloud.http(token) as client:
        reply = client.post("/api/v1/sensors", json={"name": unique("s"), **body})
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


def test_create_read_and_list(cloud: CloudServer, operator: str, viewer: str) -> None:
    device_id, _ = cloud.device()
    name = unique("Reactor temperature")
    sensor = create(
        cloud,
        operator,
        name=f"  {name} ",
        unit="°C",
        device_id=str(device_id),
        min_value=-20,
        max_value=120.5,
    )
    assert uuid.UUID(sensor["public_id"])
    assert {k: sensor[k] for k in ("name", "unit", "device_id", "min_value", "max_value")} == {
        "name": name,
        "unit": "°C",
        "device_id": str(device_id),
        "min_value": -20.0,
        "max_value": 120.5,
    }
    assert sensor["key"] is None
    bare = create(cloud, operator)
    assert (bare["unit"], bare["device_id"], bare["min_value"]) == ("", None, None)

    with cloud.http(viewer) as client:
        assert client.get(f"/api/v1/sensors/{sensor['public_id']}").json() == sensor
        everything = client.get("/api/v1/sensors").json()
        assert {sensor["public_id"], bare["public_id"]} <= {s["public_id"] for s in everything}
        names = [s["name"] for s in everything]
        assert names == sorted(names)
        mine = client.get("/api/v1/sensors", params={"device_id": str(device_id)}).json()
        assert mine == [sensor]
        other_device, _ = cloud.device()
        assert client.get("/api/v1/sensors", params={"device_id": str(other_device)}).json() == []
        ghost = uuid.uuid4()
        missing = client.get("/api/v1/sensors", params={"device_id": str(ghost)})
        assert (missing.status_code, missing.json()["detail"]) == (404, f"no device {ghost}")
        unknown = client.get(f"/api/v1/sensors/{ghost}")
        assert (unknown.status_code, unknown.json()["detail"]) == (404, f"no sensor {ghost}")
        assert client.get("/api/v1/sensors/not-a-uuid").status_code == 422


def test_roles(cloud: CloudServer, operator: str, viewer: str) -> None:
    sensor = create(cloud, operator)
    path = f"/api/v1/sensors/{sensor['public_id']}"
    with cloud.http(viewer) as client:
        refused = client.post("/api/v1/sensors", json={"name": unique("s")})
        assert (refused.status_code, refused.json()["detail"]) == (
            403,
            "this needs the operator role; you are viewer",
        )
        assert client.patch(path, json={"name": "renamed"}).status_code == 403
        assert client.get(path).json()["name"] == sensor["name"]
    with cloud.http() as anonymous:
        assert anonymous.get("/api/v1/sensors").status_code == 401
        assert anonymous.get(path).status_code == 401
        assert anonymous.post("/api/v1/sensors", json={"name": "x"}).status_code == 401
    admin_made = create(cloud, cloud.admin_token(), unit="bar")
    assert admin_made["unit"] == "bar"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"min_value": 5, "max_value": 1}, "min_value 5.0 is greater than max_value 1.0"),
        ({"name": "   "}, "name must be 1-300 characters"),
        ({"name": "x" * 301}, "name must be 1-300 characters"),
        ({"unit": "u" * 33}, "unit must be at most 32 characters"),
        ({"min_value": "nan"}, "min_value must be a finite number"),
        ({"max_value": "-inf"}, "max_value must be a finite number"),
    ],
)
def test_create_refuses_bad_fields(
    cloud: CloudServer, operator: str, body: dict[str, Any], message: str
) -> None:
    with cloud.http(operator) as client:
        reply = client.post("/api/v1/sensors", json={"name": unique("s"), **body})
    assert (reply.status_code, reply.json()["detail"]) == (422, message)


def test_create_refuses_json_nan_unknown_device_and_extra_fields(
    cloud: CloudServer, operator: str
) -> None:
    with cloud.http(operator) as client:
        for literal, field in (("NaN", "min_value"), ("Infinity", "max_value")):
            raw = f'{{"name": "n", "{field}": {literal}}}'
            reply = client.post(
                "/api/v1/sensors", content=raw, headers={"Content-Type": "application/json"}
            )
            assert (reply.status_code, reply.json()["detail"]) == (
                422,
                f"{field} must be a finite number",
            )
        ghost = uuid.uuid4()
        reply = client.post("/api/v1/sensors", json={"name": "n", "device_id": str(ghost)})
        assert (reply.status_code, reply.json()["detail"]) == (422, f"no device {ghost}")
        extra = client.post("/api/v1/sensors", json={"name": "n", "colour": "red"})
        assert extra.status_code == 422
        assert extra.json()["detail"][0]["loc"] == ["body", "colour"]
        assert client.post("/api/v1/sensors", json={"unit": "V"}).status_code == 422


def test_patch_changes_only_what_is_sent(cloud: CloudServer, operator: str) -> None:
    sensor = create(cloud, operator, unit="mbar", min_value=0, max_value=10)
    path = f"/api/v1/sensors/{sensor['public_id']}"
    with cloud.http(operator) as client:
        renamed = client.patch(path, json={"name": " Inlet pressure ", "max_value": 12.5}).json()
        assert (renamed["name"], renamed["unit"], renamed["min_value"], renamed["max_value"]) == (
            "Inlet pressure",
            "mbar",
            0.0,
            12.5,
        )
        cleared = client.patch(path, json={"min_value": None}).json()
        assert (cleared["min_value"], cleared["max_value"]) == (None, 12.5)
        assert client.patch(path, json={}).json() == cleared
        assert client.get(path).json() == cleared
        assert cleared["public_id"] == sensor["public_id"]
        assert cleared["created_at"] == sensor["created_at"]


def test_patch_refuses_bad_changes(cloud: CloudServer, operator: str) -> None:
    sensor = create(cloud, operator, min_value=0, max_value=10)
    path = f"/api/v1/sensors/{sensor['public_id']}"
    with cloud.http(operator) as client:

        def refused(body: dict[str, Any]) -> tuple[int, Any]:
            reply = client.patch(path, json=body)
            return reply.status_code, reply.json()["detail"]

        # Checked against the stored bound that is not being changed.
        assert refused({"min_value": 11}) == (422, "min_value 11.0 is greater than max_value 10.0")
        assert refused({"max_value": "inf"}) == (422, "max_value must be a finite number")
        assert refused({"name": ""}) == (422, "name must be 1-300 characters")
        # null returns a device's sensor to its declaration; this one has no device.
        assert refused({"name": None}) == (
            422,
            f"name cannot be null: sensor {sensor['public_id']} has no device declaration "
            "to return to",
        )
        code, detail = refused({"device_id": str(uuid.uuid4())})
        assert (code, detail[0]["loc"]) == (422, ["body", "device_id"])
        ghost = uuid.uuid4()
        missing = client.patch(f"/api/v1/sensors/{ghost}", json={"name": "x"})
        assert (missing.status_code, missing.json()["detail"]) == (404, f"no sensor {ghost}")
        unchanged = client.get(path).json()
    assert (unchanged["name"], unchanged["min_value"], unchanged["max_value"]) == (
        sensor["name"],
        0.0,
        10.0,
    )
