"""The Plugins page in a real browser against the real cloud: an admin creates an instance on
a device that never connects (listed inactive, its delivery pending), disables it, opens its
channels and deletes it, after a config that is not a JSON object was refused inline without
a request; an admin maps a channel to an event and back; a viewer sees the instances and
their channels without controls, and a change an admin makes shows without a reload."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.conftest import make_account
from tests.e2e.harness import check, start_script
from tests.rig.cloud import CloudServer, unique


def _env(cloud: CloudServer, role: str) -> dict[str, str]:
    account = make_account(cloud, role)
    return {
        "E2E_BASE_URL": cloud.base_url,
        "E2E_EMAIL": account.email,
        "E2E_PASSWORD": account.password,
        "E2E_ROLE": role,
    }


def _post(cloud: CloudServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.post(path, json=body)
    assert reply.status_code == 201, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


def _instance(cloud: CloudServer, device_id: uuid.UUID | None, name: str) -> str:
    body = {
        "plugin_id": "simulated",
        "instance_name": name,
        "config_json": "{}",
        "device_id": str(device_id) if device_id else None,
    }
    public_id: str = _post(cloud, "/api/v1/plugins", body)["public_id"]
    return public_id


def _mapping(cloud: CloudServer, instance_id: str) -> None:
    body = {"channel_id": "temp", "channel_name": "Temperature", "direction": "input"}
    _post(cloud, f"/api/v1/plugins/{instance_id}/channels", {**body, "unit": "°C"})


def _get(cloud: CloudServer, path: str) -> tuple[int, Any]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(path)
    return reply.status_code, reply.json()


def test_an_admin_manages_a_devices_plugin_instances(
    browser_ready: None, cloud: CloudServer
) -> None:
    device_name = unique("e2e-plugins")
    device_id, _ = cloud.device(device_name)
    # The mapping part: an instance with a stored mapping (no event yet) and an event.
    map_device, _ = cloud.device(unique("e2e-plugmap"))
    map_name = unique("mapped").replace("-", "_")
    map_instance = _instance(cloud, map_device, map_name)
    _mapping(cloud, map_instance)
    event_name = unique("e2e-plugin-temp")
    event_id = _post(cloud, "/api/v1/sensors", {"name": event_name, "unit": "°C"})["public_id"]

    name = unique("sim").replace("-", "_")
    env = {
        **_env(cloud, "admin"),
        "E2E_PLUGIN_DEVICE_ID": str(device_id),
        "E2E_PLUGIN_DEVICE_NAME": device_name,
        "E2E_PLUGIN_NAME": name,
        "E2E_MAP_DEVICE_ID": str(map_device),
        "E2E_MAP_INSTANCE_NAME": map_name,
        "E2E_MAP_EVENT_ID": event_id,
        "E2E_MAP_EVENT_NAME": event_name,
    }
    run = start_script("plugins.e2e.ts", "plugins", env)
    try:
        deleted = run.wait_for_signal("deleted", 120)
        run.wait_for_signal("done", 90)
    finally:
        check(run, 150)

    # What the browser did is what the cloud holds.
    assert _get(cloud, f"/api/v1/plugins/{deleted['public_id']}")[0] == 404
    status, page = _get(cloud, f"/api/v1/plugins?device_id={device_id}")
    assert (status, page["total"]) == (200, 0)
    status, channels = _get(cloud, f"/api/v1/plugins/{map_instance}/channels")
    assert (status, channels) == (200, [])


def test_a_viewer_sees_plugin_instances_read_only(browser_ready: None, cloud: CloudServer) -> None:
    device_id, _ = cloud.device(unique("e2e-plugview"))
    name = unique("viewed").replace("-", "_")
    instance_id = _instance(cloud, device_id, name)
    _mapping(cloud, instance_id)
    controller_name = unique("Controller boiler")
    controller_id = _instance(cloud, None, controller_name)
    env = {
        **_env(cloud, "viewer"),
        "E2E_PLUGIN_DEVICE_ID": str(device_id),
        "E2E_PLUGIN_NAME": name,
        "E2E_CONTROLLER_NAME": controller_name,
    }
    run = start_script("plugins-viewer.e2e.ts", "plugins-viewer", env)
    try:
        run.wait_for_signal("viewing", 90)
        with cloud.http(cloud.admin_token()) as client:
            reply = client.put(f"/api/v1/plugins/{instance_id}", json={"enabled": False})
            assert reply.status_code == 200, reply.text
        run.answer("changed")
    finally:
        check(run, 120)
        with cloud.http(cloud.admin_token()) as client:
            for public_id in (instance_id, controller_id):
                client.delete(f"/api/v1/plugins/{public_id}")
