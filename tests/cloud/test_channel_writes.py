"""Cloud → device channel writes through a real cloud, a real agent and PostgreSQL.

The rule under test when both sides change a channel: the device's order decides (see
``cloud.services.channel_writes``), and afterwards device and cloud hold the same aggregate.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from cloud.services.channel_writes import MAX_WRITE_BYTES
from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from revlink.uplink.v1 import uplink_pb2 as uplink_pb
from tests.rig.agent import agent_status, start_agent
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.platform import wait_for
from tests.rig.uplink import uplink_client

Json = dict[str, Any]


def write(cloud: CloudServer, device_id: uuid.UUID, channel: str, body: Any, **kw: Any) -> Any:
    method = kw.pop("method", "PATCH")
    token = kw.pop("token", None) or cloud.admin_token()
    with cloud.http(token) as client:
        return client.request(
            method, f"/api/v1/devices/{device_id}/channels/{channel}/aggregate", json=body
        )


def accepted(cloud: CloudServer, device_id: uuid.UUID, channel: str, body: Json, **kw: Any) -> Json:
    reply = write(cloud, device_id, channel, body, **kw)
    assert reply.status_code == 202, reply.text
    out: Json = reply.json()
    return out


def state_of(cloud: CloudServer, device_id: uuid.UUID, write_id: str) -> Json:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/channel-writes/{write_id}")
        assert reply.status_code == 200, reply.text
        out: Json = reply.json()
        return out


def cloud_aggregate(cloud: CloudServer, device_id: uuid.UUID, channel: str) -> Json | None:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/channels/{channel}/aggregate")
    if reply.status_code == 404:
        return None
    assert reply.status_code == 200, reply.text
    payload: Json = reply.json()["payload"]
    return payload


async def wait_applied(cloud: CloudServer, device_id: uuid.UUID, write_id: str) -> Json:
    def applied() -> bool:
        return bool(state_of(cloud, device_id, write_id)["state"] == "applied")

    await asyncio.to_thread(wait_for, applied, 15, f"write {write_id} applied")
    return state_of(cloud, device_id, write_id)


@asynccontextmanager
async def agent_stub(target: str) -> AsyncIterator[pb_grpc.DeviceAgentServiceStub]:
    async with grpc.aio.insecure_channel(target) as channel:
        yield pb_grpc.DeviceAgentServiceStub(channel)


async def device_aggregate(stub: pb_grpc.DeviceAgentServiceStub, channel: str) -> Json:
    reply = await stub.GetAggregate(pb.GetAggregateRequest(channel=channel))
    out: Json = json.loads(reply.aggregate_json)
    return out


async def test_a_write_reaches_a_connected_device_and_both_sides_agree(
    tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        await asyncio.to_thread(
            wait_for, lambda: agent_status(agent.target).cloud_connected, 10, "connected"
        )
        async with agent_stub(agent.target) as stub:
            await stub.Publish(
                pb.PublishRequest(channel="ui_cmds", aggregate_json='{"cmds": {"app_a": 1}}')
            )
            stream = stub.Subscribe(pb.SubscribeRequest(channel="ui_cmds", send_aggregate=True))
            snapshot = await asyncio.wait_for(stream.read(), 5)  # the current aggregate first
            assert json.loads(snapshot.aggregate.aggregate_json) == {"cmds": {"app_a": 1}}
            made = accepted(
                cloud, device_id, "ui_cmds", {"cmds": {"app_go": True, "app_speed": 40}}
            )
            assert (made["state"], made["seq"], made["channel"]) == ("pending", 1, "ui_cmds")
            assert made["created_by"].endswith("@example.com")
            update = await asyncio.wait_for(stream.read(), 5)
            stream.cancel()
            assert json.loads(update.aggregate.patch_json) == {
                "cmds": {"app_go": True, "app_speed": 40}
            }
            assert json.loads(update.aggregate.aggregate_json) == {
                "cmds": {"app_a": 1, "app_go": True, "app_speed": 40}
            }
            done = await wait_applied(cloud, device_id, made["id"])
            assert done["delivered_at"] is not None
            assert done["applied_at"] is not None
            on_device = await device_aggregate(stub, "ui_cmds")
    assert cloud_aggregate(cloud, device_id, "ui_cmds") == on_device
    with cloud.http(cloud.admin_token()) as client:
        # A setting, not a reading: the write made no sensor.
        sensors = client.get(f"/api/v1/devices/{device_id}/sensors").json()
    assert [s["key"] for s in sensors] == ["ui_cmds.cmds.app_a"]  # the device's own reading


async def test_writes_wait_for_an_offline_device_and_arrive_in_order_exactly_once(
    tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    made = [accepted(cloud, device_id, "setpoints", {"high": level}) for level in (70, 80, 90)]
    made.append(accepted(cloud, device_id, "setpoints", {"low": 5}, method="PUT"))
    assert [m["seq"] for m in made] == [1, 2, 3, 4]
    assert {state_of(cloud, device_id, m["id"])["state"] for m in made} == {"pending"}
    assert cloud_aggregate(cloud, device_id, "setpoints") is None  # nothing applied yet
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        for m in made:
            await wait_applied(cloud, device_id, m["id"])
        assert agent_status(agent.target).last_applied_write_seq == 4
        async with agent_stub(agent.target) as stub:
            assert await device_aggregate(stub, "setpoints") == {"low": 5}  # PUT replaced
            messages = await stub.ListChannels(pb.ListChannelsRequest())
        del messages
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as again:
        # A restarted agent gets nothing twice: every write stays applied, the queue empties.
        await asyncio.to_thread(
            wait_for, lambda: agent_status(again.target).queue_depth == 0, 15, "drained"
        )
        await asyncio.sleep(1)
        async with agent_stub(again.target) as stub:
            assert await device_aggregate(stub, "setpoints") == {"low": 5}
    with cloud.http(cloud.admin_token()) as client:
        listed = client.get(
            f"/api/v1/devices/{device_id}/channel-writes", params={"channel": "setpoints"}
        ).json()
        records = client.get(f"/api/v1/devices/{device_id}/channels/setpoints/messages")
    assert [w["seq"] for w in listed] == [4, 3, 2, 1]  # newest first
    assert {w["state"] for w in listed} == {"applied"}
    assert cloud_aggregate(cloud, device_id, "setpoints") == {"low": 5}
    assert records.status_code == 200
    assert records.json()["messages"] == []


async def test_the_devices_order_decides_when_both_sides_write(
    tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    data = tmp_path / "data"
    with start_agent(data, tmp_path / "logs") as offline:  # the device writes while offline
        async with agent_stub(offline.target) as stub:
            await stub.Publish(
                pb.PublishRequest(channel="mode", aggregate_json='{"mode": "local", "n": 1}')
            )
    # ... and a person writes the same key in the cloud meanwhile: it reaches the device
    # after the device's own change, so it is the later one and wins on both sides.
    first = accepted(cloud, device_id, "mode", {"mode": "remote"})
    with start_agent(data, tmp_path / "logs", cloud.base_url, token) as agent:
        await wait_applied(cloud, device_id, first["id"])
        async with agent_stub(agent.target) as stub:
            assert await device_aggregate(stub, "mode") == {"mode": "remote", "n": 1}
            # Now the device changes it again: its change comes after the write, so it wins.
            await stub.Publish(pb.PublishRequest(channel="mode", aggregate_json='{"mode": "auto"}'))
            await asyncio.to_thread(
                wait_for, lambda: agent_status(agent.target).queue_depth == 0, 15, "drained"
            )
            on_device = await device_aggregate(stub, "mode")
    assert on_device == {"mode": "auto", "n": 1}
    assert cloud_aggregate(cloud, device_id, "mode") == on_device


async def test_writes_survive_a_cloud_restart(
    tmp_path: Path, cloud: CloudServer, cloud_database_url: str
) -> None:
    device_id, token = cloud.device()
    with start_cloud(cloud_database_url, tmp_path / "first") as first:
        made = accepted(first, device_id, "settings", {"speed": 40})
    with (
        start_cloud(cloud_database_url, tmp_path / "second") as second,
        start_agent(tmp_path / "data", tmp_path / "logs", second.base_url, token) as agent,
    ):
        await wait_applied(second, device_id, made["id"])
        async with agent_stub(agent.target) as stub:
            assert await device_aggregate(stub, "settings") == {"speed": 40}


async def test_an_unanswered_write_is_sent_again_and_an_answered_one_never(
    cloud: CloudServer,
) -> None:
    device_id, token = cloud.device()
    made = [accepted(cloud, device_id, "x", {"v": v}) for v in (1, 2)]
    async with uplink_client(cloud.ws_url, token) as device:
        await device.hello()
        got = [await device.receive() for _ in range(2)]
        assert [f.channel_write.seq for f in got] == [1, 2]
        assert json.loads(got[0].channel_write.patch_json) == {"v": 1}
        assert got[0].channel_write.write_id == made[0]["id"]
        ack = uplink_pb.ChannelWriteAck(seq=1)
        await device.send(uplink_pb.DeviceFrame(channel_write_ack=ack))
        await asyncio.to_thread(
            wait_for,
            lambda: state_of(cloud, device_id, made[0]["id"])["state"] == "delivered",
            10,
            "first delivered",
        )
    assert state_of(cloud, device_id, made[1]["id"])["state"] == "pending"
    async with uplink_client(cloud.ws_url, token) as device:
        await device.hello()
        resent = await device.receive()  # only the unanswered one comes again
        assert resent.channel_write.seq == 2
        refusal = uplink_pb.ChannelWriteAck(seq=2, refused=True, detail="queue full")
        await device.send(uplink_pb.DeviceFrame(channel_write_ack=refusal))
        await asyncio.to_thread(
            wait_for,
            lambda: state_of(cloud, device_id, made[1]["id"])["state"] == "refused",
            10,
            "second refused",
        )
    assert state_of(cloud, device_id, made[1]["id"])["detail"] == "queue full"
    third = accepted(cloud, device_id, "x", {"v": 3})
    async with uplink_client(cloud.ws_url, token) as device:
        # A device that says it applied up to 3 (its ack was lost) is sent nothing more.
        await device.send(uplink_pb.DeviceFrame(hello=uplink_pb.Hello(last_applied_write_seq=3)))
        assert (await device.receive()).WhichOneof("frame") == "welcome"
        await asyncio.to_thread(
            wait_for,
            lambda: state_of(cloud, device_id, third["id"])["state"] == "delivered",
            10,
            "third delivered by the hello",
        )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(device.receive(), 1.5)


def test_writes_are_checked_before_they_are_kept(cloud: CloudServer) -> None:
    device_id, _ = cloud.device()
    _, viewer = cloud.user("viewer")
    refused = write(cloud, device_id, "ui_cmds", {"cmds": {}}, token=viewer)
    assert refused.status_code == 403
    assert write(cloud, uuid.uuid4(), "ui_cmds", {"a": 1}).status_code == 404
    assert write(cloud, device_id, "bad channel!", {"a": 1}).status_code == 422
    assert write(cloud, device_id, "c", [1, 2]).status_code == 422
    # The size limit holds at its edge: exactly MAX_WRITE_BYTES of compact JSON is taken.
    envelope = len(json.dumps({"v": ""}, separators=(",", ":")))
    exactly = {"v": "x" * (MAX_WRITE_BYTES - envelope)}
    assert write(cloud, device_id, "c", exactly).status_code == 202
    over = write(cloud, device_id, "c", {"v": "x" * (MAX_WRITE_BYTES - envelope + 1)})
    assert over.status_code == 422
    assert f"the limit is {MAX_WRITE_BYTES}" in over.json()["detail"]
    with cloud.http(cloud.admin_token()) as client:
        kept = client.get(f"/api/v1/devices/{device_id}/channel-writes").json()
        by_state = client.get(
            f"/api/v1/devices/{device_id}/channel-writes", params={"state": ["applied"]}
        ).json()
    assert [w["seq"] for w in kept] == [1]  # only the accepted one was kept
    assert by_state == []
