"""Revocations reach open sockets as notifications, not by each socket polling.

The cloud here polls only every 300 s, so a socket that closes within a few seconds was told.
Each kind of revocation is made the way people make it (the API), on PostgreSQL (through
NOTIFY, heard by the listener) and on SQLite (in-process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cloud.db.migrate import upgrade
from cloud.live.revocations import RevocationBoard
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.uplink import uplink_client

SLOW_POLL = {"REVLINK_REVOCATION_CHECK_SECONDS": "300"}
PROMPT = 5.0  # seconds: what "at once" means here


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def slow_polling_cloud(
    request: pytest.FixtureRequest,
    cloud_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CloudServer]:
    root = tmp_path_factory.mktemp("revocations")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{root / 'cloud.db'}"
        upgrade(url)
    else:
        url = cloud_database_url
    with start_cloud(url, root / "logs", env=SLOW_POLL) as server:
        yield server


async def closed_within(ws: ClientConnection, seconds: float) -> tuple[int, str, float]:
    async def drain() -> None:
        while True:
            await ws.recv()

    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(drain(), seconds)
    frame = closed.value.rcvd
    assert frame is not None, "closed without a close frame"
    return frame.code, frame.reason, time.monotonic() - started


async def test_a_revoked_device_is_disconnected_at_once(slow_polling_cloud: CloudServer) -> None:
    cloud = slow_polling_cloud
    device_id, token = cloud.device()
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        with cloud.http(cloud.admin_token()) as client:
            assert client.post(f"/api/v1/devices/{device_id}/revoke").status_code == 200
        code, reason, _ = await closed_within(link.socket, PROMPT)
    assert (code, reason) == (1008, "device token revoked")


async def test_logout_closes_the_users_stream_socket_at_once(
    slow_polling_cloud: CloudServer,
) -> None:
    cloud = slow_polling_cloud
    _, token = cloud.user("viewer")
    _, other = cloud.user("viewer")
    async with (
        connect(f"{cloud.ws_url}/ws/datapoints/stream?token={token}") as mine,
        connect(f"{cloud.ws_url}/ws/datapoints/stream?token={other}") as theirs,
    ):
        await mine.recv()  # connected
        await theirs.recv()
        with cloud.http(token) as client:
            assert client.post("/api/v1/auth/logout").status_code == 200
        code, reason, _ = await closed_within(mine, PROMPT)
        assert (code, reason) == (1008, "Token has been revoked")
        await theirs.send('{"type":"ping"}')  # someone else's socket is left alone
        assert await asyncio.wait_for(theirs.recv(), 5) == '{"type":"pong"}'


async def test_a_revoked_api_token_closes_its_telemetry_socket_at_once(
    slow_polling_cloud: CloudServer,
) -> None:
    cloud = slow_polling_cloud
    _, login = cloud.user("operator")
    with cloud.http(login) as client:
        made = client.post("/api/v1/tokens", json={"name": "controller"}).json()
    async with connect(f"{cloud.ws_url}/ws/controller/telemetry?token={made['token']}") as ws:
        with cloud.http(login) as client:
            assert client.delete(f"/api/v1/tokens/{made['public_id']}").status_code == 200
        code, reason, _ = await closed_within(ws, PROMPT)
    assert (code, reason) == (1008, "Token has been revoked")


async def test_a_token_closes_its_socket_when_it_expires(
    slow_polling_cloud: CloudServer,
) -> None:
    cloud = slow_polling_cloud
    _, login = cloud.user("viewer")
    expires = time.time() + 3
    with cloud.http(login) as client:
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        made = client.post("/api/v1/tokens", json={"name": "short", "expires_at": iso}).json()
    async with connect(f"{cloud.ws_url}/ws/datapoints/stream?token={made['token']}") as ws:
        await ws.recv()  # connected
        code, reason, _ = await closed_within(ws, 3 + PROMPT)
    assert (code, reason) == (1008, "Invalid or expired token")
    assert time.time() >= int(expires)


async def test_the_board_wakes_watchers_of_a_subject_and_all_when_it_stops_listening() -> None:
    board = RevocationBoard(listening=True)
    with board.watch({"user:1", "jti:a"}) as first, board.watch({"user:2"}) as second:
        assert board.announce(["user:1", "jti:a", "device:x"]) == 1
        assert first.is_set()
        assert not second.is_set()
        first.clear()
        board.listening = False  # notifications may be missed now: everyone re-plans
        assert first.is_set()
        assert second.is_set()
        second.clear()
        started = asyncio.get_running_loop().time()
        await board.next_check(second, poll_s=0.05, recheck_s=3600)
        assert asyncio.get_running_loop().time() - started < 1
    assert board.watched == 0
    assert board.announce(["user:1"]) == 0
