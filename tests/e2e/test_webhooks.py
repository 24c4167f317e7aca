"""The webhooks page in a real browser against a real cloud that may reach loopback (its
``REVLINK_WEBHOOK_ALLOWED_NETWORKS`` lists 127.0.0.1/32): an admin creates a webhook pointing
at the test's receiver, a device comes online over the real uplink, the receiver gets a
signed request, and the page shows the delivery as delivered with its response code.

The cloud is this module's own, on a database of its own: the shared e2e cloud runs without
the allowlist, and its dispatcher would refuse (and so race) the loopback deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import make_account
from tests.e2e.harness import check, poll, start_script
from tests.rig.cloud import CloudServer, start_cloud, unique
from tests.rig.postgres import PostgresServer
from tests.rig.uplink import uplink_client
from tests.rig.webhooks import (
    FAST_ENV,
    Receiver,
    fresh_database,
    serving,
    verify_signature,
)

SECRET = "e2e-webhook-secret"


@pytest.fixture(scope="module")
def hooks_cloud(
    browser_ready: None, postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    with (
        fresh_database(postgres_server) as url,
        start_cloud(url, tmp_path_factory.mktemp("e2e-hooks"), env=FAST_ENV) as server,
    ):
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as found:
        yield found


async def _come_online(ws_url: str, token: str, receiver: Receiver) -> None:
    async with uplink_client(ws_url, token) as device:
        await device.hello()
        await asyncio.to_thread(poll, lambda: receiver.on("/e2e"), 20, "the webhook request")


def test_an_admin_creates_a_webhook_and_sees_its_signed_delivery(
    hooks_cloud: CloudServer, receiver: Receiver
) -> None:
    admin = make_account(hooks_cloud, "admin")
    device_name = unique("e2e-hookdev")
    device_id, token = hooks_cloud.device(device_name)
    env = {
        "E2E_BASE_URL": hooks_cloud.base_url,
        "E2E_EMAIL": admin.email,
        "E2E_PASSWORD": admin.password,
        "E2E_ROLE": "admin",
        "E2E_RECEIVER_URL": receiver.url("/e2e"),
        "E2E_WEBHOOK_SECRET": SECRET,
    }
    run = start_script("webhooks.e2e.ts", "webhooks", env)
    try:
        created = run.wait_for_signal("created", 90)
        asyncio.run(_come_online(hooks_cloud.ws_url, token, receiver))
        run.answer("online")
        done = run.wait_for_signal("done", 90)
    finally:
        check(run, 120)

    [request] = receiver.on("/e2e")
    assert verify_signature(request, SECRET)
    body = request.json()
    assert (body["type"], body["device"], body["device_name"]) == (
        "device.online",
        str(device_id),
        device_name,
    )
    assert done["delivery_id"] == request.headers["x-webhook-delivery"]
    with hooks_cloud.http(hooks_cloud.admin_token()) as client:
        gone = client.get(f"/api/v1/webhooks/{created['public_id']}")
    assert gone.status_code == 404  # deleted in the browser at the end
