"""``/api/v1/logging`` (WebMACS's event log paths and shapes) through a real cloud on
PostgreSQL: entries written by devices going online, offline and revoked, by command outcomes,
by users created and by logins (each once, with the right kind); filters, marking read,
paging, roles and bad input."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from revlink.uplink.v1 import uplink_pb2 as pb
from tests.rig.cloud import CloudServer, unique
from tests.rig.platform import wait_for
from tests.rig.uplink import uplink_client

Json = dict[str, Any]
BASE = "/api/v1/logging"


@pytest.fixture
def viewer(cloud: CloudServer) -> str:
    return cloud.user("viewer")[1]


@pytest.fixture
def operator(cloud: CloudServer) -> str:
    return cloud.user("operator")[1]


def entries(cloud: CloudServer, token: str | None = None, **params: Any) -> list[Json]:
    with cloud.http(token or cloud.admin_token()) as client:
        reply = client.get(BASE, params={"page_size": 100, **params})
    assert reply.status_code == 200, reply.text
    found: list[Json] = reply.json()["data"]
    return found


def kinds(cloud: CloudServer, **params: Any) -> list[str]:
    """Oldest first, so a sequence of events reads in order."""
    return [e["kind"] for e in reversed(entries(cloud, **params))]


async def wait_kinds(cloud: CloudServer, expected: list[str], **params: Any) -> list[Json]:
    await asyncio.to_thread(
        wait_for, lambda: kinds(cloud, **params) == expected, 10, f"entries {expected}"
    )
    return list(reversed(entries(cloud, **params)))


def write(cloud: CloudServer, token: str, content: str, logging_type: str = "info") -> Json:
    with cloud.http(token) as client:
        reply = client.post(BASE, json={"content": content, "logging_type": logging_type})
    assert reply.status_code == 201, reply.text
    body: Json = reply.json()
    assert (body["status"], body["message"]) == ("success", "Log entry successfully created.")
    entry: Json = body["log_entry"]
    return entry


async def test_a_device_going_online_and_offline_is_logged_once_each(cloud: CloudServer) -> None:
    name = unique("logdev")
    device_id, token = cloud.device(name)
    async with uplink_client(cloud.ws_url, token) as device:
        await device.hello()
        [online] = await wait_kinds(cloud, ["device.online"], device_id=device_id)
    found = await wait_kinds(cloud, ["device.online", "device.offline"], device_id=device_id)
    assert found[0] == online
    assert [(e["source"], e["logging_type"], e["status_type"]) for e in found] == [
        ("device", "info", "unread"),
        ("device", "warning", "unread"),
    ]
    assert found[0]["content"] == f"Device '{name}' is online"
    assert found[1]["content"] == f"Device '{name}' went offline"
    assert {e["device_id"] for e in found} == {str(device_id)}
    assert {e["user_public_id"] for e in found} == {None}
    assert set(found[0]) == {
        "public_id",
        "content",
        "logging_type",
        "status_type",
        "created_on",
        "user_public_id",
        "username",
        "source",
        "kind",
        "device_id",
    }
    await asyncio.sleep(0.3)  # nothing more arrives late
    assert kinds(cloud, device_id=device_id) == ["device.online", "device.offline"]


async def test_a_revoked_device_is_logged_once_and_goes_offline(cloud: CloudServer) -> None:
    device_id, token = cloud.device()
    admin = cloud.admin_token()
    async with uplink_client(cloud.ws_url, token) as device:
        await device.hello()
        await wait_kinds(cloud, ["device.online"], device_id=device_id)
        with cloud.http(admin) as client:
            assert client.post(f"/api/v1/devices/{device_id}/revoke").status_code == 200
            assert client.post(f"/api/v1/devices/{device_id}/revoke").status_code == 200
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(device.receive(), 10)
    await asyncio.to_thread(
        wait_for, lambda: len(entries(cloud, device_id=device_id)) == 3, 10, "three entries"
    )
    await asyncio.sleep(0.3)
    found = entries(cloud, device_id=device_id)
    assert sorted(e["kind"] for e in found) == ["device.offline", "device.online", "device.revoked"]
    [revoked] = [e for e in found if e["kind"] == "device.revoked"]
    assert revoked["logging_type"] == "warning"
    assert revoked["user_public_id"] is not None
    assert revoked["username"]
    assert entries(cloud, kind="device.revoked", device_id=device_id) == [revoked]


async def test_command_outcomes_are_logged_once_with_the_reason(cloud: CloudServer) -> None:
    device_id, token = cloud.device()
    expiring = cloud.send_command(device_id, "valve", {"open": 0}, expires_in_seconds=0.2)
    await asyncio.sleep(0.5)  # it expires while the device is offline
    async with uplink_client(cloud.ws_url, token) as device:
        await device.hello()
        refused_one = cloud.send_command(device_id, "nobody", {"x": 1})
        taken_one = cloud.send_command(device_id, "valve", {"open": 1})
        first, second = [(await device.receive()).command for _ in range(2)]
        assert (first.command_id, second.command_id) == (
            refused_one["command_id"],
            taken_one["command_id"],
        )
        refusal = pb.CommandReceipt(
            command_id=first.command_id,
            delivered=False,
            detail="no subscriber on channel 'nobody'",
        )
        for _ in range(2):  # a receipt sent again is logged once
            await device.send(pb.DeviceFrame(command_receipt=refusal))
        taken = pb.CommandReceipt(command_id=second.command_id, delivered=True)
        await device.send(pb.DeviceFrame(command_receipt=taken))
        found = await wait_kinds(
            cloud,
            ["command.expired", "command.refused", "command.delivered"],
            device_id=device_id,
            source="command",
        )
    assert expiring["command_id"]
    expired, refused, delivered = found
    assert expired["logging_type"] == "warning"
    assert expired["content"].endswith("expired: expired before it reached the device")
    assert refused["logging_type"] == "error"
    assert refused["content"].startswith("Command #2 on 'nobody'")
    assert refused["content"].endswith("refused: no subscriber on channel 'nobody'")
    assert delivered["logging_type"] == "info"
    assert delivered["content"].startswith("Command #3 on 'valve'")
    await asyncio.sleep(0.3)
    assert len(entries(cloud, device_id=device_id, source="command")) == 3


def test_logins_are_logged_without_passwords(cloud: CloudServer) -> None:
    email, _ = cloud.user("viewer")
    with cloud.http() as client:
        bad = client.post(
            "/api/v1/auth/login", json={"email": email, "password": "not-the-secret-42"}
        )
        assert bad.status_code == 401
    token = cloud.login(email, "correct horse battery")
    found = list(reversed(entries(cloud, search=email, source="login")))
    # cloud.user logged in once; then one failure and one success, in this order
    assert [e["kind"] for e in found] == ["login.succeeded", "login.failed", "login.succeeded"]
    failed = found[1]
    assert failed["logging_type"] == "warning"
    assert failed["user_public_id"] is None
    assert email in failed["content"]
    assert all("not-the-secret" not in e["content"] for e in found)
    assert all("correct horse" not in e["content"] for e in found)
    with cloud.http(token) as client:
        me = client.get("/api/v1/auth/me").json()
    assert found[2]["user_public_id"] == me["public_id"]
    assert found[2]["username"] == me["username"]
    created = entries(cloud, search=email, kind="user.created")
    assert len(created) == 1
    assert created[0]["source"] == "user"


def test_filters_by_type_read_state_and_time(cloud: CloudServer, operator: str) -> None:
    marker = unique("filter")
    info = write(cloud, operator, f"{marker} one")
    error = write(cloud, operator, f"{marker} two", "error")
    warning = write(cloud, operator, f"{marker} three", "warning")
    assert info["source"] == "manual"
    assert info["kind"] == "manual"
    assert info["user_public_id"] is not None
    assert info["device_id"] is None
    ids = lambda found: [e["public_id"] for e in found]  # noqa: E731
    assert ids(entries(cloud, search=marker)) == ids([warning, error, info])  # newest first
    assert ids(entries(cloud, search=marker, logging_type="error")) == [error["public_id"]]
    assert ids(entries(cloud, search=marker, source="manual")) == ids([warning, error, info])
    assert entries(cloud, search=marker, source="device") == []
    assert entries(cloud, search=marker.upper()) != []  # search ignores case
    assert entries(cloud, search=marker, device_id=str(uuid.uuid4())) == []
    between = entries(
        cloud, search=marker, from_date=error["created_on"], to_date=error["created_on"]
    )
    assert ids(between) == [error["public_id"]]
    later = datetime.fromisoformat(warning["created_on"]) + timedelta(seconds=1)
    assert entries(cloud, search=marker, from_date=later.isoformat()) == []
    with cloud.http(cloud.admin_token()) as client:
        assert client.get(f"{BASE}/{error['public_id']}").json() == error
        client.put(f"{BASE}/{error['public_id']}", json={"status_type": "read"})
    assert ids(entries(cloud, search=marker, status_type="unread")) == ids([warning, info])
    assert ids(entries(cloud, search=marker, status_type="read")) == [error["public_id"]]


def test_viewers_mark_one_or_all_read(cloud: CloudServer, operator: str, viewer: str) -> None:
    marker = unique("mark")
    first, second, third = (write(cloud, operator, f"{marker} {n}") for n in range(3))
    with cloud.http(viewer) as client:
        one = client.put(f"{BASE}/{first['public_id']}", json={"status_type": "read"})
        assert one.status_code == 200, one.text
        assert one.json()["log_entry"]["status_type"] == "read"
        assert one.json()["message"] == "Log entry successfully updated."
        again = client.put(f"{BASE}/{first['public_id']}", json={"status_type": "unread"})
        assert again.json()["log_entry"]["status_type"] == "unread"
        edit = client.put(f"{BASE}/{first['public_id']}", json={"content": "changed"})
        assert edit.status_code == 403
        marked = client.put(f"{BASE}/read", params={"search": marker})
        assert marked.status_code == 200, marked.text
        assert marked.json()["updated"] == 3
        assert client.put(f"{BASE}/read", params={"search": marker}).json()["updated"] == 0
    assert entries(cloud, viewer, search=marker, status_type="unread") == []
    with cloud.http(operator) as client:
        edited = client.put(f"{BASE}/{second['public_id']}", json={"content": f"{marker} new"})
        assert edited.status_code == 200
        assert edited.json()["log_entry"]["content"] == f"{marker} new"
    assert third["status_type"] == "unread"


def test_pages_stop_at_their_edge(cloud: CloudServer, operator: str) -> None:
    marker = unique("page")
    made = [write(cloud, operator, f"{marker} {n}") for n in range(3)]
    with cloud.http(operator) as client:
        page = client.get(BASE, params={"search": marker, "page": 2, "page_size": 2}).json()
        assert (page["page"], page["page_size"], page["total"]) == (2, 2, 3)
        assert [e["public_id"] for e in page["data"]] == [made[0]["public_id"]]
        beyond = client.get(BASE, params={"search": marker, "page": 3, "page_size": 2}).json()
        assert (beyond["total"], beyond["data"]) == (3, [])
        assert client.get(BASE, params={"page_size": 100}).status_code == 200
        assert client.get(BASE, params={"page_size": 101}).status_code == 422
        assert client.get(BASE, params={"page_size": 0}).status_code == 422
        assert client.get(BASE, params={"page": 0}).status_code == 422
        default = client.get(BASE, params={"search": marker}).json()
        assert (default["page"], default["page_size"]) == (1, 25)


def test_roles(cloud: CloudServer, viewer: str, operator: str) -> None:
    with cloud.http() as client:
        assert client.get(BASE).status_code == 401
        assert client.post(BASE, json={"content": "x"}).status_code == 401
        assert client.put(f"{BASE}/read").status_code == 401
    with cloud.http(viewer) as client:
        assert client.get(BASE).status_code == 200
        assert client.post(BASE, json={"content": "x"}).status_code == 403
    assert write(cloud, operator, unique("by-operator"))["username"]


def test_bad_input_is_422(cloud: CloudServer, operator: str) -> None:
    entry = write(cloud, operator, unique("bad"))
    with cloud.http(operator) as client:
        for body in (
            {"content": ""},
            {"content": "x" * 501},
            {"content": "x", "logging_type": "fatal"},
            {},
        ):
            assert client.post(BASE, json=body).status_code == 422, body
        for params in (
            {"logging_type": "fatal"},
            {"status_type": "maybe"},
            {"device_id": "not-a-uuid"},
            {"from_date": "yesterday"},
            {"from_date": "2026-01-01T00:00:00"},  # no timezone
            {"from_date": "2026-01-02T00:00:00Z", "to_date": "2026-01-01T00:00:00Z"},
            {"search": ""},
        ):
            assert client.get(BASE, params=params).status_code == 422, params
        assert client.get(f"{BASE}/not-a-uuid").status_code == 422
        assert client.get(f"{BASE}/{uuid.uuid4()}").status_code == 404
        assert client.put(f"{BASE}/{uuid.uuid4()}", json={"status_type": "read"}).status_code == 404
        url = f"{BASE}/{entry['public_id']}"
        assert client.put(url, json={"status_type": "gone"}).status_code == 422
        assert client.put(url, json={"content": ""}).status_code == 422
