"""``/api/v1/rules`` through a real cloud on PostgreSQL: WebMACS's paths and shapes, roles,
bad input and limits; and rules firing on values sent through the WebMACS telemetry door and
the device uplink, with each action's effect (event-log entries, a durable command that
reaches the device, a notification on a real ``/ws/datapoints/stream`` socket), cooldown and
re-arm across batches, and disabled rules staying quiet."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.rig.cloud import CloudServer, unique
from tests.rig.rule_api import (
    BASE,
    create,
    entries,
    get,
    new_sensor,
    push,
    put,
    rule_body,
    settle,
    telemetry,
    wait_entries,
)
from tests.rig.uplink import record, uplink_client

Json = dict[str, Any]


@pytest.fixture
def operator(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


@pytest.fixture
def viewer(cloud: CloudServer) -> str:
    return cloud.user("viewer")[1]


# CRUD, shapes, roles, bad input and limits.


def test_crud_with_webmacs_shapes(cloud: CloudServer, operator: str, viewer: str) -> None:
    sensor = new_sensor(cloud, operator)
    body = rule_body(sensor, operator="between", threshold=10, threshold_high=20)
    rule = create(cloud, operator, body)
    assert rule["event_public_id"] == rule["sensor_public_id"] == sensor["public_id"]
    assert rule["sensor_name"] == sensor["name"]
    assert (rule["operator"], rule["threshold"], rule["threshold_high"]) == ("between", 10, 20)
    assert (rule["enabled"], rule["armed"], rule["last_triggered_at"]) == (True, True, None)
    assert rule["action_type"] == "log"
    assert rule["cooldown_seconds"] == 0
    assert rule["user_public_id"] is not None
    assert rule["created_on"]
    assert get(cloud, viewer, rule["public_id"]) == rule
    with cloud.http(viewer) as client:
        page = client.get(BASE, params={"page_size": 100}).json()
    assert set(page) == {"page", "page_size", "total", "data"}
    assert rule in page["data"]
    assert page["total"] >= 1
    changed = put(cloud, operator, rule["public_id"], name=body["name"] + "-x", enabled=False)
    assert (changed["name"], changed["enabled"], changed["threshold"]) == (
        body["name"] + "-x",
        False,
        10,
    )
    # sensor_public_id is accepted as the same thing as event_public_id.
    other = new_sensor(cloud, operator)
    moved = put(cloud, operator, rule["public_id"], sensor_public_id=other["public_id"])
    assert moved["event_public_id"] == other["public_id"]
    with cloud.http(operator) as client:
        gone = client.delete(f"{BASE}/{rule['public_id']}")
        assert gone.json() == {"status": "success", "message": "Rule successfully deleted."}
        assert client.get(f"{BASE}/{rule['public_id']}").status_code == 404
        assert client.delete(f"{BASE}/{rule['public_id']}").status_code == 404


def test_viewers_read_operators_write(cloud: CloudServer, viewer: str) -> None:
    sensor = new_sensor(cloud, cloud.admin_token())
    with cloud.http(viewer) as client:
        assert client.get(BASE).status_code == 200
        assert client.post(BASE, json=rule_body(sensor)).status_code == 403
    rule = create(cloud, cloud.admin_token(), rule_body(sensor))
    with cloud.http(viewer) as client:
        assert client.put(f"{BASE}/{rule['public_id']}", json={"enabled": False}).status_code == 403
        assert client.delete(f"{BASE}/{rule['public_id']}").status_code == 403
    with cloud.http() as client:
        assert client.get(BASE).status_code == 401


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"operator": "between"}, 422, "threshold_high is required"),
        ({"operator": "not_between", "threshold_high": 79.9}, 422, "must be >= threshold"),
        ({"operator": "bigger"}, 422, "operator"),
        ({"threshold": "NaN"}, 422, "threshold"),
        ({"action_type": "email"}, 422, "action_type"),
        ({"action_type": "command"}, 422, "command_device_id"),
        ({"action_type": "webhook", "webhook_event_type": "x.y"}, 422, "webhook_event_type"),
        ({"action_type": "webhook", "webhook_event_type": "device.online"}, 422, "must be one"),
        ({"cooldown_seconds": -1}, 422, "cooldown_seconds"),
        ({"cooldown_seconds": 7 * 24 * 3600 + 1}, 422, "cooldown_seconds"),
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 256}, 422, "name"),
        ({"event_public_id": str(uuid.uuid4())}, 404, "no sensor"),
        ({"event_public_id": None}, 422, "event_public_id"),
        ({"sensor_public_id": str(uuid.uuid4())}, 422, "different sensors"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(
    cloud: CloudServer, operator: str, fields: Json, status: int, says: str
) -> None:
    sensor = new_sensor(cloud, operator)
    with cloud.http(operator) as client:
        reply = client.post(BASE, json=rule_body(sensor, **fields))
    assert reply.status_code == status, reply.text
    assert says in reply.text
    if status == 422 and isinstance(reply.json()["detail"], list):
        assert {"loc", "msg", "type"} <= set(reply.json()["detail"][0])  # FastAPI's shape


def test_limits_at_their_edges(cloud: CloudServer, operator: str) -> None:
    sensor = new_sensor(cloud, operator)
    longest = unique("n").ljust(255, "n")
    rule = create(cloud, operator, rule_body(sensor, name=longest, cooldown_seconds=7 * 24 * 3600))
    assert len(rule["name"]) == 255
    with cloud.http(operator) as client:
        assert client.post(BASE, json=rule_body(sensor, name=longest)).status_code == 409
        assert client.get(BASE, params={"page_size": 100}).status_code == 200
        assert client.get(BASE, params={"page_size": 101}).status_code == 422
        assert client.get(BASE, params={"page": 0}).status_code == 422
        client.delete(f"{BASE}/{rule['public_id']}")


def test_command_rules_check_their_target_and_a_partial_put_checks_the_whole(
    cloud: CloudServer, operator: str
) -> None:
    sensor = new_sensor(cloud, operator)
    device_id, _ = cloud.device()
    command = {"command_channel": "pump", "command_payload": {"on": False}}
    with cloud.http(operator) as client:
        unknown = rule_body(sensor, action_type="command", command_device_id=str(uuid.uuid4()))
        assert client.post(BASE, json={**unknown, **command}).status_code == 404
        bad_channel = {**command, "command_channel": "no spaces"}
        body = rule_body(sensor, action_type="command", command_device_id=str(device_id))
        assert client.post(BASE, json={**body, **bad_channel}).status_code == 422
        big = {**command, "command_payload": {"x": "y" * 70_000}}
        assert client.post(BASE, json={**body, **big}).status_code == 422
    rule = create(cloud, operator, {**body, **command})
    assert (rule["command_device_id"], rule["command_channel"]) == (str(device_id), "pump")
    with cloud.http(operator) as client:
        # A partial PUT is checked as the whole rule it leaves.
        reply = client.put(f"{BASE}/{rule['public_id']}", json={"operator": "between"})
        assert reply.status_code == 422
        assert "threshold_high" in reply.text
    # Another action clears the command fields.
    logged = put(cloud, operator, rule["public_id"], action_type="log")
    assert logged["command_device_id"] is None
    assert logged["command_payload"] is None


# Rules firing on stored values.


async def test_telemetry_values_fire_edge_triggered_with_cooldown(
    cloud: CloudServer, operator: str
) -> None:
    sensor = new_sensor(cloud, operator)
    rule = create(cloud, operator, rule_body(sensor, cooldown_seconds=2))
    async with telemetry(cloud, operator) as ws:
        await push(ws, sensor, 50, 81, 90)  # one crossing: fires once, then disarmed
        [first] = await wait_entries(cloud, rule["name"], 1)
        assert first["content"] == (
            f"Rule '{rule['name']}' fired: {sensor['name']} = 81 °C (gt 80)"
        )
        assert (first["source"], first["logging_type"]) == ("rule", "warning")
        state = get(cloud, operator, rule["public_id"])
        assert state["armed"] is False
        assert state["last_triggered_at"] is not None
        await push(ws, sensor, 95)  # still disarmed
        await push(ws, sensor, 10)  # re-arms ...
        await push(ws, sensor, 85)  # ... but inside the cooldown: nothing, stays armed
        await settle(cloud, sensor, ws, unique("marker"))
        assert len(entries(cloud, rule["name"])) == 1
        assert get(cloud, operator, rule["public_id"])["armed"] is True
        await asyncio.sleep(2.1)
        await push(ws, sensor, 86)  # out of the cooldown, armed: fires
        await wait_entries(cloud, rule["name"], 2)


async def test_a_disabled_rule_does_not_fire_and_enabling_re_arms_it(
    cloud: CloudServer, operator: str
) -> None:
    sensor = new_sensor(cloud, operator)
    rule = create(cloud, operator, rule_body(sensor))
    async with telemetry(cloud, operator) as ws:
        await push(ws, sensor, 99)
        await wait_entries(cloud, rule["name"], 1)
        put(cloud, operator, rule["public_id"], enabled=False)
        await push(ws, sensor, 1, 99)
        await settle(cloud, sensor, ws, unique("marker"))
        assert len(entries(cloud, rule["name"])) == 1
        assert put(cloud, operator, rule["public_id"], enabled=True)["armed"] is True
        await push(ws, sensor, 99)  # fires again with no value below the threshold between
        await wait_entries(cloud, rule["name"], 2)


async def test_uplink_values_fire_and_a_command_rule_reaches_the_device(
    cloud: CloudServer, operator: str
) -> None:
    device_id, token = cloud.device()
    async with uplink_client(cloud.ws_url, token) as device:
        await device.hello()
        ack, _ = await device.batch(record(1, "tank", message={"level": 10.0}))
        assert ack is not None
        with cloud.http(operator) as client:
            sensors = client.get(f"/api/v1/devices/{device_id}/sensors").json()
        [sensor] = [s for s in sensors if s["key"] == "tank.level"]
        body = rule_body(
            sensor,
            threshold=90,
            action_type="command",
            command_device_id=str(device_id),
            command_channel="pump",
            command_payload={"on": False},
        )
        rule = create(cloud, operator, body)
        ack, _ = await device.batch(
            record(2, "tank", message={"level": 95.0}), record(3, "tank", message={"level": 97.0})
        )
        assert ack is not None
        assert ack.up_to_seq == 3
        frame = await asyncio.wait_for(device.receive(), 10)
        assert frame.WhichOneof("frame") == "command", frame
        assert (frame.command.channel, json.loads(frame.command.payload_json)) == (
            "pump",
            {"on": False},
        )
    [fired] = await wait_entries(cloud, rule["name"], 1)
    assert fired["device_id"] == str(device_id)
    assert "= 95" in fired["content"]
    with cloud.http(operator) as client:
        commands = client.get(f"/api/v1/devices/{device_id}/commands").json()
    assert [(c["channel"], c["created_by"]) for c in commands] == [("pump", f"rule:{rule['name']}")]


async def test_a_notification_reaches_an_open_stream(
    cloud: CloudServer, operator: str, viewer: str
) -> None:
    sensor = new_sensor(cloud, operator)
    rule = create(cloud, operator, rule_body(sensor, action_type="notification", threshold=5))
    nothing = uuid.uuid4()  # a filter no datapoint matches: only notifications come
    stream_url = f"{cloud.ws_url}/ws/datapoints/stream?token={viewer}&sensor={nothing}"
    async with connect(stream_url) as stream, telemetry(cloud, operator) as ws:
        assert json.loads(await stream.recv())["type"] == "connected"
        await push(ws, sensor, 7.25)
        message = json.loads(await asyncio.wait_for(stream.recv(), 10))
    assert message["type"] == "notification"
    assert (message["rule_public_id"], message["rule_name"]) == (rule["public_id"], rule["name"])
    assert (message["event_public_id"], message["value"]) == (sensor["public_id"], 7.25)
    assert message["message"] == f"Rule '{rule['name']}': {sensor['name']} = 7.25 °C (gt 5)"
    [entry] = await wait_entries(cloud, rule["name"], 1, "rule.notification")
    assert entry["content"] == message["message"]
    await wait_entries(cloud, rule["name"], 1)  # and the firing itself


async def test_many_active_rules_leave_ingest_whole(cloud: CloudServer, operator: str) -> None:
    """100 enabled rules on one sensor: every batch is stored and each rule fires once."""
    sensor = new_sensor(cloud, operator)
    names = [create(cloud, operator, rule_body(sensor, threshold=i))["name"] for i in range(100)]
    async with telemetry(cloud, operator) as ws:
        for _ in range(5):
            await push(ws, sensor, *([500.0] * 100))
        await settle(cloud, sensor, ws, unique("marker"))
    with cloud.http(operator) as client:
        series = client.get(
            "/api/v1/datapoints", params={"sensor": sensor["public_id"], "max_points": 10000}
        ).json()
    assert series["count"] == 501
    for name in names[::25]:
        assert len(entries(cloud, name)) == 1
