"""Rules through a real cloud's REST API and telemetry door: the helpers the rule tests share
(``tests/cloud/test_rules.py``, ``test_rule_fanout.py``, ``test_cloud_worker.py``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.rig.cloud import CloudServer, unique
from tests.rig.platform import wait_for

__all__ = [
    "BASE",
    "create",
    "entries",
    "get",
    "new_sensor",
    "push",
    "put",
    "rule_body",
    "settle",
    "telemetry",
    "wait_entries",
]

Json = dict[str, Any]
BASE = "/api/v1/rules"


def new_sensor(cloud: CloudServer, token: str) -> Json:
    with cloud.http(token) as client:
        reply = client.post("/api/v1/sensors", json={"name": unique("temp"), "unit": "°C"})
    assert reply.status_code == 201, reply.text
    sensor: Json = reply.json()
    return sensor


def rule_body(sensor: Json, **fields: Any) -> Json:
    return {
        "name": unique("rule"),
        "event_public_id": sensor["public_id"],
        "operator": "gt",
        "threshold": 80,
        "action_type": "log",
        "cooldown_seconds": 0,
        **fields,
    }


def create(cloud: CloudServer, token: str, body: Json) -> Json:
    with cloud.http(token) as client:
        reply = client.post(BASE, json=body)
    assert reply.status_code == 201, reply.text
    answer: Json = reply.json()
    assert (answer["status"], answer["message"]) == ("success", "Rule successfully created.")
    rule: Json = answer["rule"]
    return rule


def get(cloud: CloudServer, token: str, public_id: str) -> Json:
    with cloud.http(token) as client:
        reply = client.get(f"{BASE}/{public_id}")
    assert reply.status_code == 200, reply.text
    rule: Json = reply.json()
    return rule


def put(cloud: CloudServer, token: str, public_id: str, **fields: Any) -> Json:
    with cloud.http(token) as client:
        reply = client.put(f"{BASE}/{public_id}", json=fields)
    assert reply.status_code == 200, reply.text
    rule: Json = reply.json()["rule"]
    return rule


def entries(cloud: CloudServer, rule_name: str, kind: str = "rule.fired") -> list[Json]:
    """The rule's entries of ``kind``, oldest first."""
    params: dict[str, str | int] = {
        "source": "rule",
        "kind": kind,
        "search": f"'{rule_name}'",
        "page_size": 100,
    }
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get("/api/v1/logging", params=params)
    assert reply.status_code == 200, reply.text
    return list(reversed(reply.json()["data"]))


async def wait_entries(
    cloud: CloudServer, rule_name: str, count: int, kind: str = "rule.fired"
) -> list[Json]:
    await asyncio.to_thread(
        wait_for, lambda: len(entries(cloud, rule_name, kind)) >= count, 10, f"{count} {kind}"
    )
    found = entries(cloud, rule_name, kind)
    assert len(found) == count, found
    return found


async def settle(cloud: CloudServer, sensor: Json, ws: ClientConnection, marker: str) -> None:
    """Wait until everything sent before has been evaluated: a marker rule on the same sensor
    fires on a value sent last (one connection's batches are evaluated in order)."""
    body = rule_body(sensor, name=marker, operator="eq", threshold=-12345.5)
    create(cloud, cloud.admin_token(), body)
    await push(ws, sensor, -12345.5)
    await wait_entries(cloud, marker, 1)


async def push(ws: ClientConnection, sensor: Json, *values: float) -> None:
    items = [{"value": v, "event_public_id": sensor["public_id"]} for v in values]
    await ws.send(json.dumps({"datapoints": items}))


def telemetry(cloud: CloudServer, token: str) -> Any:
    return connect(f"{cloud.ws_url}/ws/controller/telemetry?token={token}")
