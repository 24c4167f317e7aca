"""Two cloud replicas on one PostgreSQL: what is queued or revoked on one reaches the socket
held by the other at once, by a notice, with both replicas polling only every 300 s; a device
has one connection across both; failed logins count on both."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from revlink.uplink.v1 import uplink_pb2 as pb
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.uplink import UplinkClient, uplink_client

SLOW_POLL = {
    "REVLINK_REVOCATION_CHECK_SECONDS": "300",
    "REVLINK_CHANNEL_WRITE_POLL_SECONDS": "300",
}
PROMPT = 5.0


@pytest.fixture(scope="module")
def replicas(
    cloud_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CloudServer, CloudServer]]:
    root = tmp_path_factory.mktemp("replicas")
    with (
        start_cloud(cloud_database_url, root / "a", env=SLOW_POLL) as a,
        start_cloud(cloud_database_url, root / "b", env=SLOW_POLL) as b,
    ):
        yield a, b


async def next_frame(link: UplinkClient, kind: str) -> pb.CloudFrame:
    async with asyncio.timeout(PROMPT):
        while True:
            frame = await link.receive()
            if frame.WhichOneof("frame") == kind:
                return frame


async def test_a_command_and_a_write_made_on_one_replica_reach_a_device_on_the_other(
    replicas: tuple[CloudServer, CloudServer],
) -> None:
    a, b = replicas
    device_id, token = a.device()
    async with uplink_client(b.ws_url, token) as link:
        await link.hello()
        await asyncio.sleep(0.5)  # the link's first look is done: only a notice can wake it
        sent = a.send_command(device_id, "pump", {"run": True})
        frame = await next_frame(link, "command")
        assert frame.command.command_id == sent["command_id"]
        with a.http(a.admin_token()) as client:
            reply = client.patch(
                f"/api/v1/devices/{device_id}/channels/setpoints/aggregate", json={"high": 80}
            )
            assert reply.status_code == 202, reply.text
        frame = await next_frame(link, "channel_write")
        assert (frame.channel_write.channel, frame.channel_write.patch_json) == (
            "setpoints",
            '{"high":80}',
        )


async def test_a_device_revoked_on_one_replica_is_cut_off_on_the_other(
    replicas: tuple[CloudServer, CloudServer],
) -> None:
    a, b = replicas
    device_id, token = a.device()
    async with uplink_client(b.ws_url, token) as link:
        await link.hello()
        with a.http(a.admin_token()) as client:
            assert client.post(f"/api/v1/devices/{device_id}/revoke").status_code == 200
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(link.receive(), PROMPT)
    frame = closed.value.rcvd
    assert frame is not None
    assert (frame.code, frame.reason) == (1008, "device token revoked")


async def test_one_connection_per_device_across_replicas(
    replicas: tuple[CloudServer, CloudServer],
) -> None:
    a, b = replicas
    device_id, token = a.device()

    def offline_entries() -> int:
        with a.http(a.admin_token()) as client:
            reply = client.get(
                "/api/v1/logging", params={"kind": "device.offline", "device_id": str(device_id)}
            )
        assert reply.status_code == 200, reply.text
        total: int = reply.json()["total"]
        return total

    async with uplink_client(a.ws_url, token) as old:
        await old.hello()
        async with uplink_client(b.ws_url, token) as new:
            await new.hello()
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(old.receive(), PROMPT)
            frame = closed.value.rcvd
            assert frame is not None
            assert (frame.code, frame.reason) == (
                1008,
                "replaced by a newer connection for this device",
            )
            # The replaced connection's end is not the device going offline...
            await asyncio.sleep(1)
            assert offline_entries() == 0
            # ...and the new one still works: a command reaches it.
            sent = a.send_command(device_id, "pump", {"run": False})
            assert (await next_frame(new, "command")).command.command_id == sent["command_id"]
    for _ in range(50):  # ...while the last one's end is.
        if offline_entries() == 1:
            break
        await asyncio.sleep(0.1)
    assert offline_entries() == 1


def test_failed_logins_count_on_every_replica(replicas: tuple[CloudServer, CloudServer]) -> None:
    a, b = replicas
    email, password = a.user("viewer")[0], "a-wrong-password"

    def login(server: CloudServer, secret: str) -> httpx.Response:
        with server.http() as client:
            return client.post("/api/v1/auth/login", json={"email": email, "password": secret})

    # The default allows 5 failures per 15 minutes: spread over both replicas, they add up.
    for server in (a, b, a, b, a):
        assert login(server, password).status_code == 401
    for server in (b, a):
        refused = login(server, password)
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= 900
