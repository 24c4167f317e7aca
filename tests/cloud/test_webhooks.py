"""``/api/v1/webhooks`` (WebMACS's paths and shapes) through a real cloud on a PostgreSQL
database of its own, with a real HTTP receiver on loopback (reached through
``REVLINK_WEBHOOK_ALLOWED_NETWORKS``): managing webhooks, the secret never shown, the
creation-time address check, roles, and events from real sources (a device going online and
offline over the uplink, experiments) arriving signed, with the delivery log showing them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.rig.cloud import CloudServer, start_cloud, unique
from tests.rig.platform import wait_for
from tests.rig.postgres import PostgresServer
from tests.rig.uplink import record, uplink_client
from tests.rig.webhooks import (
    FAST_ENV,
    SECRET,
    Receiver,
    fresh_database,
    serving,
    verify_signature,
)

Json = dict[str, Any]
BASE = "/api/v1/webhooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as found:
        yield found


@pytest.fixture(scope="module")
def hooks_cloud(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    with (
        fresh_database(postgres_server) as url,
        start_cloud(url, tmp_path_factory.mktemp("hooks-cloud"), env=FAST_ENV) as server,
    ):
        yield server


@pytest.fixture(autouse=True)
def no_webhooks_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with no webhooks, so events from earlier tests go nowhere."""
    yield
    if "hooks_cloud" not in request.fixturenames:
        return
    server: CloudServer = request.getfixturevalue("hooks_cloud")
    with server.http(server.admin_token()) as client:
        for hook in client.get(BASE, params={"page_size": 100}).json()["data"]:
            client.delete(f"{BASE}/{hook['public_id']}")


def create(cloud: CloudServer, url: str, events: list[str], **extra: Any) -> Json:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.post(BASE, json={"url": url, "events": events, **extra})
    assert reply.status_code == 201, reply.text
    body: Json = reply.json()
    assert (body["status"], body["message"]) == ("success", "Webhook successfully created.")
    hook: Json = body["webhook"]
    return hook


def deliveries(cloud: CloudServer, hook: Json, **params: Any) -> list[Json]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"{BASE}/{hook['public_id']}/deliveries", params=params)
    assert reply.status_code == 200, reply.text
    found: list[Json] = reply.json()["data"]
    return found


def wait_delivered(cloud: CloudServer, hook: Json, count: int) -> list[Json]:
    def done() -> bool:
        found = deliveries(cloud, hook)
        return len(found) == count and all(d["status"] == "delivered" for d in found)

    wait_for(done, 15, f"{count} delivered deliveries")
    return deliveries(cloud, hook)


def test_create_read_list_update_delete_and_the_secret_is_never_shown(
    hooks_cloud: CloudServer, receiver: Receiver
) -> None:
    hook = create(hooks_cloud, receiver.url(), ["device.online", "device.offline"], secret=SECRET)
    assert set(hook) == {
        "public_id",
        "url",
        "events",
        "enabled",
        "created_on",
        "user_public_id",
        "has_secret",
    }
    assert (hook["url"], hook["events"], hook["enabled"], hook["has_secret"]) == (
        receiver.url(),
        ["device.offline", "device.online"],
        True,
        True,
    )
    admin = hooks_cloud.admin_token()
    with hooks_cloud.http(admin) as client:
        me = client.get("/api/v1/auth/me")
        got = client.get(f"{BASE}/{hook['public_id']}").json()
        page = client.get(BASE).json()
        updated = client.put(
            f"{BASE}/{hook['public_id']}", json={"enabled": False, "events": ["command.refused"]}
        )
        cleared = client.put(f"{BASE}/{hook['public_id']}", json={"secret": None})
        events = client.get(f"{BASE}/events").json()
        everything = json.dumps([got, page, updated.json(), cleared.json()])
        deleted = client.delete(f"{BASE}/{hook['public_id']}")
        gone = client.get(f"{BASE}/{hook['public_id']}")
    assert got == hook
    if me.status_code == 200:
        assert hook["user_public_id"] == me.json()["public_id"]
    assert (page["page"], page["page_size"], page["total"]) == (1, 25, 1)
    assert page["data"] == [hook]
    assert updated.status_code == 200, updated.text
    assert updated.json()["webhook"]["enabled"] is False
    assert updated.json()["webhook"]["events"] == ["command.refused"]
    assert updated.json()["webhook"]["has_secret"] is True  # untouched by a PUT without it
    assert cleared.json()["webhook"]["has_secret"] is False
    assert SECRET not in everything
    assert events == [
        "sensor.threshold_exceeded",
        "sensor.reading",
        "experiment.started",
        "experiment.stopped",
        "device.online",
        "device.offline",
        "command.delivered",
        "command.refused",
        "command.expired",
    ]
    assert deleted.json() == {"status": "success", "message": "Webhook successfully deleted."}
    assert gone.status_code == 404


def test_bad_input_is_422_with_a_clear_message_and_a_duplicate_url_is_409(
    hooks_cloud: CloudServer, receiver: Receiver
) -> None:
    def problem(body: Json) -> str:
        with hooks_cloud.http(hooks_cloud.admin_token()) as client:
            reply = client.post(BASE, json=body)
        assert reply.status_code == 422, reply.text
        detail = reply.json()["detail"]
        return detail if isinstance(detail, str) else detail[0]["msg"]

    url = receiver.url("/dup")
    ok: Json = {"url": url, "events": ["device.online"]}
    assert "should match pattern" in problem({**ok, "url": "ftp://example.com/x"})
    assert "at least 1 item" in problem({**ok, "events": []})
    assert "Input should be" in problem({**ok, "events": ["device.exploded"]})
    assert "at most 2048" in problem({**ok, "url": "https://example.com/" + "a" * 2030})
    assert "at most 255" in problem({**ok, "secret": "x" * 256})
    # Literal addresses that are not public, and not in this cloud's allowlist (127.0.0.1/32):
    for refused in (
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.2:8080/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.2]/",
        "http://2130706434/",  # 127.0.0.2 spelt as a number
        "http://100.64.0.1/",
    ):
        assert problem({**ok, "url": refused}).startswith("address not allowed: "), refused
    create(hooks_cloud, url, ["device.online"])
    with hooks_cloud.http(hooks_cloud.admin_token()) as client:
        again = client.post(BASE, json=ok)
        missing = client.get(f"{BASE}/{uuid.uuid4()}")
        not_a_uuid = client.get(f"{BASE}/nope")
        bad_status = client.get(f"{BASE}/{uuid.uuid4()}/deliveries", params={"status": "x"})
    assert again.status_code == 409
    assert "exists already" in again.json()["detail"]
    assert missing.status_code == 404
    assert (not_a_uuid.status_code, bad_status.status_code) == (422, 422)


def test_a_loopback_target_is_refused_at_creation_without_the_allowlist(
    cloud: CloudServer, receiver: Receiver
) -> None:
    """The shared cloud runs with the default (empty) allowlist."""
    with cloud.http(cloud.admin_token()) as client:
        reply = client.post(BASE, json={"url": receiver.url(), "events": ["device.online"]})
    assert reply.status_code == 422
    assert reply.json()["detail"].startswith("address not allowed: 127.0.0.1 is loopback")


def test_only_admins_manage_webhooks(hooks_cloud: CloudServer, receiver: Receiver) -> None:
    hook = create(hooks_cloud, receiver.url(), ["device.online"])
    paths = [
        ("get", BASE, None),
        ("post", BASE, {"url": receiver.url("/x"), "events": ["device.online"]}),
        ("get", f"{BASE}/{hook['public_id']}", None),
        ("put", f"{BASE}/{hook['public_id']}", {"enabled": False}),
        ("delete", f"{BASE}/{hook['public_id']}", None),
        ("get", f"{BASE}/{hook['public_id']}/deliveries", None),
    ]
    for role in ("viewer", "operator"):
        token = hooks_cloud.user(role)[1]
        with hooks_cloud.http(token) as client:
            for method, path, body in paths:
                reply = client.request(method, path, json=body)
                assert reply.status_code == 403, (role, method, path, reply.text)
    with hooks_cloud.http() as client:
        assert client.get(BASE).status_code == 401
    with hooks_cloud.http(hooks_cloud.admin_token()) as client:
        assert client.get(f"{BASE}/{hook['public_id']}").json()["enabled"] is True


async def test_a_device_online_and_offline_arrive_signed_and_show_in_the_log(
    hooks_cloud: CloudServer, receiver: Receiver
) -> None:
    hook = create(hooks_cloud, receiver.url(), ["device.online", "device.offline"], secret=SECRET)
    name = unique("hookdev")
    device_id, token = hooks_cloud.device(name)
    async with uplink_client(hooks_cloud.ws_url, token) as device:
        await device.hello()
        await asyncio.to_thread(wait_for, lambda: len(receiver.on("/ok")) == 1, 15, "online")
    await asyncio.to_thread(wait_for, lambda: len(receiver.on("/ok")) == 2, 15, "offline")
    online, offline = receiver.on("/ok")
    for request, kind in ((online, "device.online"), (offline, "device.offline")):
        assert verify_signature(request, SECRET)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-webhook-event"] == kind
        assert request.headers["x-webhook-attempt"] == "1"
        body = request.json()
        assert (body["type"], body["device"], body["device_name"]) == (kind, str(device_id), name)
        assert set(body) >= {"time", "event_id", "message"}
    assert online.json()["message"] == f"Device '{name}' is online"
    found = await asyncio.to_thread(wait_delivered, hooks_cloud, hook, 2)
    assert [d["event_type"] for d in found] == ["device.offline", "device.online"]  # newest first
    latest = found[0]
    assert latest["public_id"] == offline.headers["x-webhook-delivery"]
    assert (latest["status"], latest["attempts"], latest["response_code"]) == (
        "delivered",
        1,
        200,
    )
    assert latest["last_error"] is None
    assert latest["next_attempt_on"] is None
    assert latest["delivered_on"] is not None
    assert latest["latency_ms"] >= 0
    assert latest["payload"] == offline.json()
    [attempt] = latest["attempt_history"]
    assert (attempt["attempt"], attempt["outcome"], attempt["response_code"]) == (
        1,
        "delivered",
        200,
    )
    assert attempt["error"] is None
    assert deliveries(hooks_cloud, hook, status="delivered") == found
    assert deliveries(hooks_cloud, hook, status="dead_letter") == []


async def test_a_hanging_target_does_not_hold_up_the_device(
    hooks_cloud: CloudServer, receiver: Receiver
) -> None:
    """The webhook request hangs; the device's data is still acked (delivery is off the path)."""
    hold = threading.Event()
    receiver.set("/hang", hold=hold)
    create(hooks_cloud, receiver.url("/hang"), ["device.online"])
    _, token = hooks_cloud.device(unique("hangdev"))
    try:
        async with uplink_client(hooks_cloud.ws_url, token) as device:
            await device.hello()
            await asyncio.to_thread(wait_for, lambda: receiver.in_flight == 1, 15, "the hang")
            ack, errors = await device.batch(record(1, "tank", message={"level": 1.5}))
            assert errors == []
            assert ack is not None
            assert ack.up_to_seq == 1
            assert receiver.in_flight == 1  # still hanging while the device got its ack
    finally:
        hold.set()


def test_experiments_started_and_stopped_are_delivered_once_each(
    hooks_cloud: CloudServer, receiver: Receiver
) -> None:
    hook = create(hooks_cloud, receiver.url(), ["experiment.started", "experiment.stopped"])
    with hooks_cloud.http(hooks_cloud.admin_token()) as client:
        for running in client.get("/api/v1/experiments").json()["data"]:
            if running["state"] == "running":
                client.put(f"/api/v1/experiments/{running['public_id']}/stop")
        receiver.requests.clear()
        made = client.post("/api/v1/experiments", json={"name": unique("exp")})
        experiment = made.json()["experiment"]
        path = f"/api/v1/experiments/{experiment['public_id']}"
        assert client.put(f"{path}/start").status_code == 200  # running already: no event
        assert client.put(f"{path}/stop").status_code == 200
        assert client.put(f"{path}/stop").status_code == 200  # stopped already: no event
    found = wait_delivered(hooks_cloud, hook, 2)
    assert [d["event_type"] for d in reversed(found)] == [
        "experiment.started",
        "experiment.stopped",
    ]
    stopped = found[0]["payload"]
    assert (stopped["experiment"], stopped["name"]) == (experiment["public_id"], experiment["name"])
    assert stopped["stopped_on"] is not None
    time.sleep(0.5)
    assert len(receiver.on("/ok")) == 2


def test_a_dead_letter_is_retried_then_can_be_sent_again(
    hooks_cloud: CloudServer, receiver: Receiver
) -> None:
    receiver.set("/broken", status=500)
    hook = create(hooks_cloud, receiver.url("/broken"), ["experiment.started"])
    with hooks_cloud.http(hooks_cloud.admin_token()) as client:
        for running in client.get("/api/v1/experiments").json()["data"]:
            if running["state"] == "running":
                client.put(f"/api/v1/experiments/{running['public_id']}/stop")
        made = client.post("/api/v1/experiments", json={"name": unique("exp")}).json()
        client.put(f"/api/v1/experiments/{made['experiment']['public_id']}/stop")

    def dead() -> bool:
        found = deliveries(hooks_cloud, hook)
        return len(found) == 1 and found[0]["status"] == "dead_letter"

    wait_for(dead, 15, "a dead letter")
    [letter] = deliveries(hooks_cloud, hook)
    assert (letter["attempts"], letter["response_code"], letter["last_error"]) == (
        3,
        500,
        "HTTP 500",
    )
    assert [
        (a["attempt"], a["outcome"], a["response_code"]) for a in letter["attempt_history"]
    ] == [
        (1, "http_error", 500),
        (2, "http_error", 500),
        (3, "http_error", 500),
    ]
    assert len(receiver.on("/broken")) == 3
    path = f"{BASE}/{hook['public_id']}/deliveries/{letter['public_id']}"
    receiver.set("/broken", status=204)
    with hooks_cloud.http(hooks_cloud.admin_token()) as client:
        again = client.post(f"{path}/redeliver")
        assert again.status_code == 201, again.text
        fresh = again.json()["delivery"]
        assert (fresh["status"], fresh["attempts"], fresh["payload"]) == (
            "pending",
            0,
            letter["payload"],
        )
        wait_for(
            lambda: (
                client.get(f"{BASE}/{hook['public_id']}/deliveries/{fresh['public_id']}").json()[
                    "status"
                ]
                == "delivered"
            ),
            15,
            "the redelivery",
        )
        assert client.get(path).json()["status"] == "dead_letter"  # the original stays as it was
        twice = client.post(f"{BASE}/{hook['public_id']}/deliveries/{fresh['public_id']}/redeliver")
        assert twice.status_code == 409
    assert receiver.on("/broken")[-1].json() == letter["payload"]
