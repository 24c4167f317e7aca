"""Values PostgreSQL cannot keep get a 422 that says why, not a 500 (found by the REST fuzz)."""

from __future__ import annotations

import pytest

from cloud.db.base import MAX_BIGINT
from cloud.services.paging import MAX_PAGE
from tests.rig.cloud import CloudServer, unique

PAGED = [
    "/api/v1/rules",
    "/api/v1/plugins",
    "/api/v1/logging",
    "/api/v1/events",
    "/api/v1/experiments",
    "/api/v1/dashboards",
    "/api/v1/tokens",
    "/api/v1/webhooks",
]


@pytest.mark.parametrize("path", PAGED)
def test_a_page_past_the_largest_is_refused_and_the_largest_is_empty(
    cloud: CloudServer, path: str
) -> None:
    with cloud.http(cloud.admin_token()) as client:
        last = client.get(path, params={"page": MAX_PAGE, "page_size": 100})
        assert last.status_code == 200, last.text
        assert last.json()["page"] == MAX_PAGE
        for page in (MAX_PAGE + 1, 2**70):
            past = client.get(path, params={"page": page})
            assert past.status_code == 422, past.text
            assert past.json()["detail"][0]["loc"] == ["query", "page"]


def test_a_nul_in_text_or_json_is_refused_with_the_reason_and_nothing_is_kept(
    cloud: CloudServer,
) -> None:
    device_id, _ = cloud.device()
    writes = f"/api/v1/devices/{device_id}/channel-writes"
    with cloud.http(cloud.admin_token()) as client:
        patch = client.patch(
            f"/api/v1/devices/{device_id}/channels/tank/aggregate", json={"lev\u0000el": 1}
        )
        assert patch.status_code == 422, patch.text
        assert "NUL" in patch.json()["detail"]
        assert client.get(writes).json() == []
        name = unique("tank") + "\u0000"
        sensor = client.post("/api/v1/sensors", json={"name": name})
        assert sensor.status_code == 422, sensor.text
        assert "NUL" in sensor.json()["detail"]
        listed = client.get("/api/v1/sensors", params={"page_size": 100}).json()
        assert name not in str(listed)
        # The same requests without the NUL go through: only the value was at fault.
        fine = client.patch(f"/api/v1/devices/{device_id}/channels/tank/aggregate", json={"l": 1})
        assert fine.status_code == 202, fine.text
        assert client.post("/api/v1/sensors", json={"name": name[:-1]}).status_code == 201


def test_a_seq_past_bigint_is_refused_where_messages_are_paged(cloud: CloudServer) -> None:
    device_id, _ = cloud.device()
    messages = f"/api/v1/devices/{device_id}/channels/tank/messages"
    before = "2026-01-01T00:00:00Z"
    with cloud.http(cloud.admin_token()) as client:
        for seq in (MAX_BIGINT + 1, -(2**90)):
            refused = client.get(messages, params={"before": before, "before_seq": seq})
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == ["query", "before_seq"]
        edge = client.get(messages, params={"before": before, "before_seq": MAX_BIGINT})
        assert edge.status_code == 404, edge.text  # the largest seq is looked up: no channel yet
        assert "has no channel" in edge.json()["detail"]
