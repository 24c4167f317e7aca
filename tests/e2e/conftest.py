"""The stack the browser tests run against, shared by the e2e tests.

A real ``revlink cloud serve`` on the run's PostgreSQL serves the built dashboard; one device
streams through a real agent (``streaming_device``); a second device is registered and never
connects. Accounts of each role log in through the dashboard's own form.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.harness import Device, browser_problems, sensor_ids, streaming_device
from tests.rig.cloud import CloudServer, unique

PASSWORD = "e2e-password-1234"


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """Skip (or, with REVLINK_REQUIRE_BROWSER=1, fail) when chromium or the build is missing."""
    problems = browser_problems()
    if not problems:
        return
    reason = "browser tests cannot run: " + "; ".join(problems)
    if os.environ.get("REVLINK_REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason + " [REVLINK_REQUIRE_BROWSER=1 fails instead]")


@dataclass(frozen=True)
class Account:
    email: str
    password: str


@dataclass
class Stack:
    cloud: CloudServer
    admin: Account
    operator: Account
    viewer: Account
    device: Device
    offline_device_id: uuid.UUID
    level_sensor: str
    temperature_sensor: str

    def env(self, role: str = "admin") -> dict[str, str]:
        account: Account = getattr(self, role)
        return {
            "E2E_BASE_URL": self.cloud.base_url,
            "E2E_EMAIL": account.email,
            "E2E_PASSWORD": account.password,
            "E2E_ROLE": role,
            "E2E_DEVICE_ID": str(self.device.id),
            "E2E_DEVICE_NAME": self.device.name,
            "E2E_OFFLINE_DEVICE_ID": str(self.offline_device_id),
            "E2E_LEVEL_SENSOR": self.level_sensor,
            "E2E_TEMPERATURE_SENSOR": self.temperature_sensor,
        }


def make_account(cloud: CloudServer, role: str) -> Account:
    email = f"{unique(role)}@example.com"
    with cloud.http(cloud.admin_token()) as client:
        reply = client.post(
            "/api/v1/users", json={"email": email, "password": PASSWORD, "role": role}
        )
        assert reply.status_code == 201, reply.text
    return Account(email, PASSWORD)


@pytest.fixture(scope="package")  # the device stops streaming when the e2e tests are done
def stack(
    browser_ready: None, cloud: CloudServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    page = httpx.get(f"{cloud.base_url}/fleet", timeout=10)
    served = f"{page.status_code} {page.headers.get('content-type')} {page.text[:200]}"
    assert page.status_code == 200, f"the cloud does not serve the dashboard at /fleet: {served}"
    assert "text/html" in page.headers.get("content-type", ""), f"/fleet is not HTML: {served}"
    admin = cloud.admin_token()
    workdir = tmp_path_factory.mktemp("e2e-device")
    with streaming_device(cloud, workdir / "agent", workdir / "logs", unique("e2e-tank")) as device:
        sensors = sensor_ids(cloud.base_url, admin, device.id, ["tank.level", "tank.temperature"])
        offline_id, _ = cloud.device(unique("e2e-offline"))
        yield Stack(
            cloud=cloud,
            admin=make_account(cloud, "admin"),
            operator=make_account(cloud, "operator"),
            viewer=make_account(cloud, "viewer"),
            device=device,
            offline_device_id=offline_id,
            level_sensor=sensors["tank.level"],
            temperature_sensor=sensors["tank.temperature"],
        )
