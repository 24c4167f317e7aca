"""``/api/v1/plugins``: WebMACS's plugin instances and channel mappings on a real cloud and
PostgreSQL, and a device's instances delivered to a real device agent as channel writes, with
the status its host reports read back and its mappings deciding which events its channels
feed (the device's side is played through the agent's own Publish)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from revlink.plugins.v1 import plugins_pb2 as plugins_pb
from tests.rig.agent import agent_status, start_agent
from tests.rig.cloud import CloudServer, unique
from tests.rig.platform import wait_for
from tests.rig.plugins import start_plugin_host

BASE = "/api/v1/plugins"
Json = dict[str, Any]


@pytest.fixture
def admin(cloud: CloudServer) -> str:
    return cloud.admin_token()


def call(cloud: CloudServer, token: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    with cloud.http(token) as client:
        reply = client.request(method, path, **kw)
    return reply.status_code, reply.json()


def ok(cloud: CloudServer, token: str, method: str, path: str, **kw: Any) -> Any:
    code, body = call(cloud, token, method, path, **kw)
    assert code in (200, 201), (code, body)
    return body


def new_event(cloud: CloudServer, token: str, kind: str = "sensor") -> str:
    body = ok(cloud, token, "POST", "/api/v1/events", json={"name": unique("e"), "type": kind})
    event_id: str = body["public_id"]
    return event_id


def test_controller_instances_and_mappings_in_webmacs_shapes(
    cloud: CloudServer, admin: str
) -> None:
    name = unique("Simulated Device")
    body = {"plugin_id": "simulated", "instance_name": name, "demo_mode": True, "enabled": True}
    created = ok(cloud, admin, "POST", BASE, json=body)
    assert (created["status"], created["message"]) == ("success", "Plugin instance created.")
    instance_id = created["public_id"]
    assert call(cloud, admin, "POST", BASE, json=body)[0] == 409

    page = ok(cloud, admin, "GET", BASE, params={"page_size": 100})
    assert set(page) == {"page", "page_size", "total", "data"}
    listed = {item["public_id"]: item for item in page["data"]}
    item = listed[instance_id]
    wanted = {"public_id", "plugin_id", "instance_name", "demo_mode", "enabled", "config_json"}
    assert wanted <= set(item)
    assert (item["plugin_id"], item["instance_name"], item["demo_mode"]) == (
        "simulated",
        name,
        True,
    )
    assert item["status"] == "inactive"
    assert item["device_id"] is None

    temperature, valve = new_event(cloud, admin), new_event(cloud, admin, "actuator")
    channels = f"{BASE}/{instance_id}/channels"
    for channel, direction, event in (("temp", "input", temperature), ("valve", "output", valve)):
        made = ok(
            cloud,
            admin,
            "POST",
            channels,
            json={
                "channel_id": channel,
                "channel_name": channel.title(),
                "direction": direction,
                "unit": "°C",
                "event_public_id": event,
            },
        )
        assert made["message"] == "Channel mapping created."
    mappings = ok(cloud, admin, "GET", channels)
    assert [(m["channel_id"], m["direction"], m["event_public_id"]) for m in mappings] == [
        ("temp", "input", temperature),
        ("valve", "output", valve),
    ]
    valve_mapping = mappings[1]["public_id"]
    moved = ok(cloud, admin, "PUT", f"{channels}/{valve_mapping}", json={"event_public_id": None})
    assert moved["channel_mapping"]["event_public_id"] is None
    ok(cloud, admin, "DELETE", f"{channels}/{valve_mapping}")
    assert [m["channel_id"] for m in ok(cloud, admin, "GET", channels)] == ["temp"]

    changed = ok(cloud, admin, "PUT", f"{BASE}/{instance_id}", json={"enabled": False})
    assert changed["plugin_instance"]["enabled"] is False
    code, refused = call(
        cloud, admin, "PUT", f"{BASE}/{instance_id}", json={"config_json": "[1, 2]"}
    )
    assert code == 422
    assert "JSON object" in refused["detail"]

    viewer = cloud.user("viewer")[1]
    assert call(cloud, viewer, "GET", f"{BASE}/{instance_id}")[0] == 200
    assert call(cloud, viewer, "DELETE", f"{BASE}/{instance_id}")[0] == 403
    ok(cloud, admin, "DELETE", f"{BASE}/{instance_id}")
    assert call(cloud, admin, "GET", f"{BASE}/{instance_id}")[0] == 404
    assert call(cloud, admin, "GET", channels)[0] == 404


async def _publish(stub: Any, channel: str, **fields: Any) -> None:
    await stub.Publish(pb.PublishRequest(channel=channel, **fields))


def _values(cloud: CloudServer, token: str, sensor: str) -> list[float]:
    body = ok(cloud, token, "GET", "/api/v1/datapoints", params={"sensor": sensor})
    return [point["value"] for point in body["points"]]


async def test_a_device_instance_reaches_the_device_and_its_mappings_route_its_values(
    tmp_path: Path, cloud: CloudServer, admin: str
) -> None:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        await asyncio.to_thread(
            wait_for, lambda: agent_status(agent.target).cloud_connected, 10, "connected"
        )
        body = {
            "plugin_id": "simulated",
            "instance_name": "sim1",
            "config_json": json.dumps({"amplitude": 2}),
            "device_id": str(device_id),
            "poll_interval_s": 0.5,
        }
        code, refused = call(
            cloud, admin, "POST", BASE, json=body | {"instance_name": "has a space"}
        )
        assert code == 422
        assert "instance_name" in refused["detail"]
        instance = ok(cloud, admin, "POST", BASE, json=body)["plugin_instance"]
        instance_id = instance["public_id"]
        assert instance["delivery"]["state"] in ("pending", "delivered", "applied")
        # The controllers' list leaves a device's instances out.
        controllers = ok(cloud, admin, "GET", BASE, params={"page_size": 100})["data"]
        assert instance_id not in {item["public_id"] for item in controllers}
        own = ok(cloud, admin, "GET", BASE, params={"device_id": str(device_id)})["data"]
        assert [item["public_id"] for item in own] == [instance_id]

        async with grpc.aio.insecure_channel(agent.target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)

            async def managed() -> Json:
                reply = await stub.GetAggregate(pb.GetAggregateRequest(channel="plugin-host"))
                return dict(json.loads(reply.aggregate_json or "{}"))

            async def delivered(expected: Json) -> Json:
                for _ in range(100):
                    found = await managed()
                    if found.get("managed") == expected:
                        return found
                    await asyncio.sleep(0.1)
                raise AssertionError(f"the device holds {await managed()}")

            first = await delivered(
                {
                    "sim1": {
                        "public_id": instance_id,
                        "plugin_id": "simulated",
                        "config": {"amplitude": 2},
                        "poll_interval_s": 0.5,
                        "enabled": True,
                        "demo_mode": False,
                    }
                }
            )
            ok(cloud, admin, "PUT", f"{BASE}/{instance_id}", json={"enabled": False})
            second = await delivered({"sim1": first["managed"]["sim1"] | {"enabled": False}})
            assert second["revision"] > first["revision"]
            ok(cloud, admin, "PUT", f"{BASE}/{instance_id}", json={"enabled": True})

            # The device's host reports the instance and sends readings.
            status = {
                "state": "running",
                "error": "",
                "restarts": 0,
                "public_id": instance_id,
                "channels": [
                    {"id": "temp", "name": "Temperature", "direction": "input", "unit": "°C"}
                ],
            }
            await _publish(
                stub,
                "plugin.sim1",
                aggregate_json=json.dumps({"status": status}),
                no_datapoints=True,
            )
            await _publish(stub, "plugin.sim1", message_json='{"temp": 1.5}')

            def reported() -> Json:
                found: Json = ok(cloud, admin, "GET", f"{BASE}/{instance_id}")
                return found

            await asyncio.to_thread(
                wait_for, lambda: reported()["status"] == "connected", 10, "status reported"
            )
            await asyncio.to_thread(
                wait_for,
                lambda: (
                    ok(cloud, admin, "GET", f"{BASE}/{instance_id}/channels")[0]["event_public_id"]
                    is not None
                ),
                10,
                "the channel's own sensor",
            )
            listing = ok(cloud, admin, "GET", f"{BASE}/{instance_id}/channels")
            assert [(c["public_id"], c["channel_id"], c["channel_name"]) for c in listing] == [
                (None, "temp", "Temperature")
            ]
            own_sensor = listing[0]["event_public_id"]
            assert _values(cloud, admin, own_sensor) == [1.5]

            # Mapped: the channel's next values land in the chosen event, on the same socket.
            event = new_event(cloud, admin)
            mapping = ok(
                cloud,
                admin,
                "POST",
                f"{BASE}/{instance_id}/channels",
                json={
                    "channel_id": "temp",
                    "channel_name": "Temperature",
                    "direction": "input",
                    "unit": "°C",
                    "event_public_id": event,
                },
            )["public_id"]
            await _publish(stub, "plugin.sim1", message_json='{"temp": 2.5}')
            await asyncio.to_thread(
                wait_for, lambda: _values(cloud, admin, event) == [2.5], 10, "mapped value"
            )
            assert _values(cloud, admin, own_sensor) == [1.5]  # kept, fed no more
            code, taken = call(
                cloud,
                admin,
                "POST",
                f"{BASE}/{instance_id}/channels",
                json={
                    "channel_id": "other",
                    "channel_name": "Other",
                    "direction": "input",
                    "event_public_id": event,
                },
            )
            assert code == 409, taken

            # Unmapped: the channel registers a sensor of its own again.
            ok(
                cloud,
                admin,
                "PUT",
                f"{BASE}/{instance_id}/channels/{mapping}",
                json={"event_public_id": None},
            )
            await _publish(stub, "plugin.sim1", message_json='{"temp": 3.5}')

            def fresh_sensor() -> list[Json]:
                sensors = ok(cloud, admin, "GET", f"/api/v1/devices/{device_id}/sensors")
                return [s for s in sensors if s["key"] == "plugin.sim1.temp"]

            await asyncio.to_thread(wait_for, lambda: bool(fresh_sensor()), 10, "a new sensor")
            (again,) = fresh_sensor()
            assert again["public_id"] not in (event, own_sensor)
            await asyncio.to_thread(
                wait_for, lambda: _values(cloud, admin, again["public_id"]) == [3.5], 10, "3.5"
            )
            assert _values(cloud, admin, event) == [2.5]

            ok(cloud, admin, "DELETE", f"{BASE}/{instance_id}")
            await delivered({})


async def test_an_instance_made_in_the_cloud_runs_on_the_devices_plugin_host(
    tmp_path: Path, cloud: CloudServer, admin: str, plugin_site: Path
) -> None:
    """The whole way: the API, the channel write, the real agent and the real plugin host,
    and the host's status and readings back in the cloud."""
    device_id, token = cloud.device()
    body = {
        "plugin_id": "counter",
        "instance_name": "counter1",
        "config_json": json.dumps({"start": 100}),
        "device_id": str(device_id),
        "poll_interval_s": 0.2,
    }
    instance_id = ok(cloud, admin, "POST", BASE, json=body)["public_id"]  # device offline
    assert ok(cloud, admin, "GET", f"{BASE}/{instance_id}")["delivery"]["state"] == "pending"

    def instance() -> Json:
        found: Json = ok(cloud, admin, "GET", f"{BASE}/{instance_id}")
        return found

    def counts() -> list[float]:
        listing = ok(cloud, admin, "GET", f"{BASE}/{instance_id}/channels")
        sensors = [c["event_public_id"] for c in listing if c["channel_id"] == "count"]
        return _values(cloud, admin, sensors[0]) if sensors and sensors[0] else []

    async def until(check: Any, what: str, timeout: float = 20) -> None:
        await asyncio.to_thread(wait_for, check, timeout, what)

    data, logs = tmp_path / "data", tmp_path / "logs"
    with (
        start_agent(data / "agent", logs, cloud.base_url, token) as agent,
        start_plugin_host(plugin_site, data / "plugins", logs, agent_uri=agent.target) as host,
    ):
        await until(lambda: instance()["status"] == "connected", "the host runs it")
        reported = instance()
        assert reported["delivery"]["state"] == "applied"
        assert reported["reported"]["state"] == "running"
        assert host.status("counter1").name == "counter1"
        listing = ok(cloud, admin, "GET", f"{BASE}/{instance_id}/channels")
        assert sorted((c["channel_id"], c["direction"], c["unit"]) for c in listing) == [
            ("count", "input", ""),
            ("level", "bidirectional", "%"),
        ]
        await until(lambda: len(counts()) >= 3, "readings stored")
        first = counts()
        assert first[0] >= 100
        assert first == sorted(first)

        # A bad config comes back as the host's own error, and a good one runs again.
        ok(cloud, admin, "PUT", f"{BASE}/{instance_id}", json={"config_json": '{"start": "x"}'})
        await until(lambda: instance()["status"] == "error", "refused config reported")
        assert "start" in (instance()["error_message"] or "")
        ok(cloud, admin, "PUT", f"{BASE}/{instance_id}", json={"config_json": '{"start": 5000}'})
        # (While refused, the host reports no channels, so none are listed.)
        await until(lambda: max(counts(), default=0) >= 5000, "the new config runs")
        assert instance()["status"] == "connected"

        ok(cloud, admin, "PUT", f"{BASE}/{instance_id}", json={"enabled": False})
        await until(lambda: instance()["reported"]["state"] == "stopped", "stopped")
        assert instance()["status"] == "inactive"
        ok(cloud, admin, "DELETE", f"{BASE}/{instance_id}")

        def gone() -> bool:
            with grpc.insecure_channel(host.target) as channel:
                names = host.stub(channel).ListInstances(plugins_pb.ListInstancesRequest())
            return "counter1" not in {i.name for i in names.instances}

        await until(gone, "removed from the host")
