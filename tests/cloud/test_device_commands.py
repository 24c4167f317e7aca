"""``/api/v1/devices/{id}/commands``: kept for an offline device, sent in order on reconnect
unless expired, each answered by the device (delivered, refused with why, expired) and never
delivered twice, through a real cloud, a real agent and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import grpc

from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from revlink.uplink.v1 import uplink_pb2 as uplink_pb
from tests.rig.agent import agent_status, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.platform import wait_for
from tests.rig.uplink import uplink_client

Json = dict[str, Any]


def command_of(cloud: CloudServer, device_id: uuid.UUID, command_id: str) -> Json:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/commands/{command_id}")
    assert reply.status_code == 200, reply.text
    found: Json = reply.json()
    return found


def states(cloud: CloudServer, device_id: uuid.UUID) -> list[tuple[int, str]]:
    with cloud.http(cloud.admin_token()) as client:
        listed = client.get(f"/api/v1/devices/{device_id}/commands").json()
    return [(c["seq"], c["state"]) for c in listed]


async def test_commands_wait_for_an_offline_device_and_arrive_in_order(
    tmp_path: Path, cloud: CloudServer, cloud_database_url: str
) -> None:
    device_id, token = cloud.device()
    sent = [cloud.send_command(device_id, "setpoints", {"high": h}) for h in (70, 80, 90)]
    soon = cloud.send_command(device_id, "setpoints", {"high": 1}, expires_in_seconds=0.5)
    assert [c["state"] for c in sent] == ["pending"] * 3
    await asyncio.sleep(1)  # the fourth expires while the device is offline
    # The device's app subscribes first; its cloud (on the same database) comes up after.
    port = free_port()
    with start_agent(
        tmp_path / "data", tmp_path / "logs", f"http://127.0.0.1:{port}", token
    ) as agent:
        async with grpc.aio.insecure_channel(agent.target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)
            stream = stub.Subscribe(pb.SubscribeRequest(channel="setpoints"))
            await asyncio.sleep(0.3)
            with start_cloud(cloud_database_url, tmp_path / "cloud", port=port):
                got = [await asyncio.wait_for(stream.read(), 15) for _ in sent]
                await asyncio.to_thread(
                    wait_for,
                    lambda: (
                        states(cloud, device_id)[1:]
                        == [(3, "delivered"), (2, "delivered"), (1, "delivered")]
                    ),
                    10,
                    "delivered",
                )
            stream.cancel()
    assert [json.loads(e.command.payload_json)["high"] for e in got] == [70, 80, 90]
    expired = command_of(cloud, device_id, soon["command_id"])
    assert (expired["state"], expired["detail"]) == (
        "expired",
        "expired before it reached the device",
    )


async def test_a_command_nobody_listens_to_is_refused_with_the_reason(
    tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        await asyncio.to_thread(
            wait_for, lambda: agent_status(agent.target).cloud_connected, 10, "connected"
        )
        sent = cloud.send_command(device_id, "nobody", {"x": 1})
        await asyncio.to_thread(
            wait_for,
            lambda: command_of(cloud, device_id, sent["command_id"])["state"] == "refused",
            10,
            "refused",
        )
    refused = command_of(cloud, device_id, sent["command_id"])
    assert refused["detail"] == "no subscriber on channel 'nobody'"
    assert refused["answered_at"] is not None


async def test_an_unanswered_command_comes_again_and_a_taken_one_never(
    cloud: CloudServer,
) -> None:
    device_id, token = cloud.device()
    sent = [cloud.send_command(device_id, "c", {"n": n}) for n in (1, 2)]
    async with uplink_client(cloud.ws_url, token) as device:
        await device.hello()
        first, second = [(await device.receive()).command for _ in sent]
        assert (first.seq, second.seq) == (1, 2)
        receipt = uplink_pb.CommandReceipt(command_id=first.command_id, delivered=True)
        await device.send(uplink_pb.DeviceFrame(command_receipt=receipt))
        await asyncio.to_thread(
            wait_for, lambda: states(cloud, device_id)[-1] == (1, "delivered"), 10, "first"
        )
    async with uplink_client(cloud.ws_url, token) as device:
        await device.hello()
        again = (await device.receive()).command  # only the unanswered one
        assert again.seq == 2
    async with uplink_client(cloud.ws_url, token) as device:
        # A device that says it took up to 2 (its receipt was lost) is sent nothing more.
        await device.send(uplink_pb.DeviceFrame(hello=uplink_pb.Hello(last_command_seq=2)))
        assert (await device.receive()).WhichOneof("frame") == "welcome"
        await asyncio.to_thread(
            wait_for, lambda: states(cloud, device_id)[0] == (2, "delivered"), 10, "second"
        )
        try:
            extra = await asyncio.wait_for(device.receive(), 1.5)
        except TimeoutError:
            extra = None
        assert extra is None


async def test_a_command_sent_again_reaches_the_subscribers_once(tmp_path: Path) -> None:
    """The agent notes each command's seq before handing it over (durably, across restarts)."""
    from bridges.agent.core import DeviceAgent
    from bridges.agent.queue import DurableQueue

    agent = DeviceAgent(DurableQueue(tmp_path / "q.db"))
    try:
        events = agent.events("c")
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)
        assert (await agent.deliver_command("a", "c", '{"n": 1}', seq=1)).delivered
        assert (await asyncio.wait_for(first, 2)).command_id == "a"
        again = await agent.deliver_command("a", "c", '{"n": 1}', seq=1)
        assert (again.delivered, again.detail) == (True, "delivered before")
        late = await agent.deliver_command("b", "c", "{}", expire_time_ns=1, seq=2)
        assert (late.delivered, late.expired) == (False, True)
        second = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.1)
        assert not second.done()  # nothing more reached the subscriber
        second.cancel()
    finally:
        agent.queue.close()
    reopened = DeviceAgent(DurableQueue(tmp_path / "q.db"))
    try:
        assert (await reopened.deliver_command("a", "c", "{}", seq=1)).detail == "delivered before"
        assert reopened.queue.stats().last_command_seq == 1
    finally:
        reopened.queue.close()
