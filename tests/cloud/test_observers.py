"""Who watches a device's apps: heartbeats in the cloud, ``ui_observers`` on the device."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import grpc

from cloud.live.observers import ObserverBook
from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from tests.rig.agent import start_agent
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.platform import wait_for

TTL = {"REVLINK_OBSERVER_TTL_SECONDS": "1.5"}


def test_the_book_names_new_observers_and_expires_silent_ones() -> None:
    book = ObserverBook(ttl_seconds=10)
    device, other = uuid.uuid4(), uuid.uuid4()
    assert book.heartbeat(device, "ann", now=0)
    assert not book.heartbeat(device, "ann", now=5)  # known: nothing to tell the device
    assert book.heartbeat(other, "ann", now=5)  # per device
    assert not book.heartbeat(other, "ann", now=6)
    assert book.expire(now=14.9) == []  # 9.9 s of silence: still watching
    assert book.expire(now=15) == [(device, "ann")]  # the ttl is reached
    assert not book.knows(device, "ann")
    assert book.knows(other, "ann")
    assert book.heartbeat(device, "ann", now=16)  # back again: new again


def observers_on(target: str) -> dict[str, object]:
    async def read() -> dict[str, object]:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.DeviceAgentServiceStub(channel)
            reply = await stub.GetAggregate(pb.GetAggregateRequest(channel="ui_observers"))
        connections: dict[str, object] = json.loads(reply.aggregate_json).get("connections", {})
        return connections

    return asyncio.run(read())


def observe(cloud: CloudServer, device_id: uuid.UUID, token: str) -> None:
    with cloud.http(token) as client:
        reply = client.post(f"/api/v1/devices/{device_id}/apps/observe")
    assert reply.status_code == 204, reply.text


def test_an_open_page_is_an_observer_until_its_heartbeats_stop(
    tmp_path: Path, cloud: CloudServer, cloud_database_url: str
) -> None:
    device_id, token = cloud.device()
    with (
        start_cloud(cloud_database_url, tmp_path / "cloud", env=TTL) as short,
        start_agent(tmp_path / "data", tmp_path / "logs", short.base_url, token) as agent,
    ):
        _, viewer = short.user("viewer")  # watching is not acting: a viewer counts
        with short.http(viewer) as client:
            me = client.get("/api/v1/auth/me").json()["public_id"]
        observe(short, device_id, viewer)
        wait_for(lambda: observers_on(agent.target) == {me: True}, 10, "observer added")
        for _ in range(4):  # heartbeats keep it, and add nothing more
            observe(short, device_id, viewer)
            assert observers_on(agent.target) == {me: True}
            time.sleep(0.5)
        with short.http(short.admin_token()) as client:
            writes = client.get(
                f"/api/v1/devices/{device_id}/channel-writes", params={"channel": "ui_observers"}
            ).json()
        assert len(writes) == 1
        wait_for(lambda: observers_on(agent.target) == {}, 10, "observer removed after the ttl")
        observe(short, device_id, viewer)
        wait_for(lambda: observers_on(agent.target) == {me: True}, 10, "observer again")
    # That cloud stopped with an observer on the device; the next one clears it.
    with (
        start_cloud(cloud_database_url, tmp_path / "cloud2", env=TTL) as fresh,
        start_agent(tmp_path / "data", tmp_path / "logs", fresh.base_url, token) as agent,
    ):
        wait_for(lambda: observers_on(agent.target) == {}, 15, "leftover observer cleared")
