"""The events page in a real browser against the real cloud: a viewer watches a device go
online and offline (through the real uplink door) and marks one of its entries read."""

from __future__ import annotations

import asyncio
import uuid

from tests.e2e.conftest import Stack
from tests.e2e.harness import check, start_script
from tests.rig.cloud import unique
from tests.rig.uplink import uplink_client


async def _online_then_offline(ws_url: str, token: str) -> None:
    async with uplink_client(ws_url, token) as device:
        await device.hello()
        await asyncio.sleep(0.5)


def test_a_viewer_sees_a_device_come_and_go_and_marks_it_read(stack: Stack) -> None:
    cloud = stack.cloud
    device_id, token = cloud.device(unique("e2e-events"))
    env = {
        **stack.env("viewer"),
        "E2E_EVENTS_DEVICE_ID": str(device_id),
    }
    run = start_script("events.e2e.ts", "events", env)
    try:
        run.wait_for_signal("ready", 60)
        asyncio.run(_online_then_offline(cloud.ws_url, token))
        run.answer("ready")
        marked = run.wait_for_signal("marked", 60)
    finally:
        check(run, 120)

    with cloud.http(cloud.admin_token()) as client:
        reply = client.get("/api/v1/logging", params={"device_id": str(device_id)})
    found = {e["public_id"]: e for e in reply.json()["data"]}
    assert sorted(e["kind"] for e in found.values()) == ["device.offline", "device.online"]
    read = found[str(uuid.UUID(str(marked["public_id"])))]
    assert read["status_type"] == "read"
    assert [e["status_type"] for e in found.values() if e is not read] == ["unread"]
