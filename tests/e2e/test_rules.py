"""The Rules page in a real browser against the real cloud: an operator creates a rule, a
value that crosses it arrives through the WebMACS telemetry door, and the page shows a toast
and the rule triggered; then the operator disables it. Rules that sort before it put it past
the first page of 20: the page goes to the page that shows it, and pages back and forth."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from tests.e2e.conftest import Stack
from tests.e2e.harness import check, start_script
from tests.rig.cloud import unique

# More than a page of rules that sort before the one created (digits before letters).
PADDING = 25


async def _send(ws_url: str, token: str, sensor_id: str, value: float) -> None:
    async with connect(f"{ws_url}/ws/controller/telemetry?token={token}") as ws:
        await ws.send(json.dumps({"datapoints": [{"value": value, "event_public_id": sensor_id}]}))
        await asyncio.sleep(0.3)  # a stored batch gets no reply; let it commit before closing


def test_an_operator_creates_a_rule_and_sees_it_fire(stack: Stack) -> None:
    cloud = stack.cloud
    with cloud.http(cloud.admin_token()) as client:
        reply = client.post("/api/v1/sensors", json={"name": unique("e2e-rule-temp"), "unit": "°C"})
        assert reply.status_code == 201, reply.text
        sensor_id = reply.json()["public_id"]
        padding = unique("0-e2e-rule-pad")
        padded: list[str] = []
        for i in range(PADDING):
            body = {
                "name": f"{padding}-{i:02d}",
                "sensor_public_id": sensor_id,
                "operator": "gt",
                "threshold": 1000,
                "action_type": "log",
                "enabled": False,
            }
            reply = client.post("/api/v1/rules", json=body)
            assert reply.status_code == 201, reply.text
            padded.append(reply.json()["rule"]["public_id"])
    name = unique("Too hot")
    env = {**stack.env("operator"), "E2E_RULE_SENSOR_ID": sensor_id, "E2E_RULE_NAME": name}
    run = start_script("rules.e2e.ts", "rules", env)
    try:
        created = run.wait_for_signal("created", 90)
        asyncio.run(_send(cloud.ws_url, cloud.admin_token(), sensor_id, 75.0))
        run.answer("sent")
        run.wait_for_signal("done", 90)
    finally:
        check(run, 150)

    with cloud.http(cloud.admin_token()) as client:
        rule = client.get(f"/api/v1/rules/{created['rule_id']}").json()
        fired = client.get(
            "/api/v1/logging", params={"source": "rule", "search": f"'{name}'"}
        ).json()["data"]
        for rule_id in padded:
            assert client.delete(f"/api/v1/rules/{rule_id}").status_code == 200
    assert (rule["name"], rule["enabled"]) == (name, False)
    assert rule["last_triggered_at"] is not None
    assert sorted(e["kind"] for e in fired) == ["rule.fired", "rule.notification"]
