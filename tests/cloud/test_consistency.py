"""A write is committed before its response: the next request always sees it."""

from __future__ import annotations

from tests.rig.cloud import CloudServer, unique


def test_created_things_are_visible_to_the_very_next_request(cloud: CloudServer) -> None:
    admin = cloud.admin_token()
    with cloud.http(admin) as client:
        for _ in range(40):
            device = client.post("/api/v1/devices", json={"name": unique("seen")})
            assert device.status_code == 201
            sensor = client.post(
                "/api/v1/sensors", json={"name": unique("s"), "device_id": device.json()["id"]}
            )
            assert sensor.status_code == 201, sensor.text
            seen = client.get(f"/api/v1/sensors/{sensor.json()['public_id']}")
            assert seen.status_code == 200, seen.text
