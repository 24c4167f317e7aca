"""REST requests per bearer token (``REVLINK_API_RATE_PER_SECOND``, ``REVLINK_API_BURST``):
the bucket at its edges with a clock of our own, then a real cloud answering 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from cloud.core.config import CloudSettings
from cloud.services.request_limits import TokenBuckets
from revlink.uplink.v1 import uplink_pb2 as pb
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.uplink import record, uplink_client

RATE, BURST = 2.0, 5
RECORDS_PER_S, RECORDS_BURST = 1, 500


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_the_rate_and_other_keys_their_own() -> None:
    clock = Clock()
    buckets = TokenBuckets(RATE, BURST, clock)
    assert [buckets.take("a") for _ in range(BURST)] == [None] * BURST
    refused = buckets.take("a")
    assert refused is not None
    assert refused.retry_after_s == pytest.approx(1 / RATE)
    assert refused.retry_after_header == "1"
    assert buckets.take("b") is None  # a bucket of its own
    clock.now += 1 / RATE - 1e-6
    assert buckets.take("a") is not None  # a hair before one token has refilled
    clock.now += 2e-6
    assert buckets.take("a") is None
    clock.now += 3600  # refills to the burst, never beyond it
    taken = [buckets.take("a") is None for _ in range(BURST + 1)]
    assert taken == [True] * BURST + [False]


def test_only_the_most_recent_keys_are_kept() -> None:
    clock = Clock()
    buckets = TokenBuckets(RATE, 1, clock, max_keys=2)
    for key in ("a", "b", "c"):
        assert buckets.take(key) is None
    assert buckets.take("c") is not None
    assert buckets.take("b") is not None
    assert buckets.take("a") is None  # forgotten: comes back with a full bucket


def test_the_limits_are_checked_at_their_edges() -> None:
    assert CloudSettings(api_rate_per_second=0).api_rate_per_second == 0
    assert CloudSettings(api_burst=1).api_burst == 1
    for bad in ({"api_rate_per_second": -1}, {"api_burst": 0}, {"api_burst": 1_000_001}):
        with pytest.raises(ValidationError):
            CloudSettings(**bad)  # type: ignore[arg-type]
    assert CloudSettings(uplink_records_burst=500).uplink_records_burst == 500  # a full batch
    for bad in ({"uplink_records_burst": 499}, {"uplink_records_per_second": -1}):
        with pytest.raises(ValidationError):
            CloudSettings(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="burst"):
        TokenBuckets(1.0, 0)
    with pytest.raises(ValueError, match="exceeds the burst"):
        TokenBuckets(1.0, 5).take("a", 6)


@pytest.fixture(scope="module")
def limited_cloud(
    cloud_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    env = {
        "REVLINK_API_RATE_PER_SECOND": str(RATE),
        "REVLINK_API_BURST": str(BURST),
        "REVLINK_UPLINK_RECORDS_PER_SECOND": str(RECORDS_PER_S),
        "REVLINK_UPLINK_RECORDS_BURST": str(RECORDS_BURST),
    }
    with start_cloud(cloud_database_url, tmp_path_factory.mktemp("limits"), env=env) as server:
        yield server


def test_a_token_past_its_burst_gets_429_with_retry_after_and_others_do_not(
    limited_cloud: CloudServer,
) -> None:
    _, mine = limited_cloud.user("viewer")
    _, other = limited_cloud.user("viewer")
    with limited_cloud.http(mine) as client:
        codes = [client.get("/api/v1/auth/me").status_code for _ in range(BURST)]
        refused = client.get("/api/v1/auth/me")
    assert codes == [200] * BURST
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert "at most 5 at once, then 2 a second" in refused.json()["detail"]
    with limited_cloud.http(other) as client:
        assert client.get("/api/v1/auth/me").status_code == 200
    time.sleep(1 / RATE + 0.05)
    with limited_cloud.http(mine) as client:
        assert client.get("/api/v1/auth/me").status_code == 200
        assert client.get("/api/v1/auth/me").status_code == 429


async def test_a_device_past_its_record_burst_gets_an_error_frame_and_keeps_its_socket(
    limited_cloud: CloudServer,
) -> None:
    _, token = limited_cloud.device()
    async with uplink_client(limited_cloud.ws_url, token) as link:
        await link.hello()
        ack, errors = await link.batch(*(record(s, message={"v": s}) for s in range(1, 501)))
        assert (ack is not None and ack.up_to_seq, errors) == (500, [])
        await link.send(pb.DeviceFrame(batch=pb.Batch(records=[record(501, message={"v": 1})])))
        refused = (await link.receive()).error
        assert refused.code == pb.ERROR_CODE_RATE_LIMITED
        assert 1 <= refused.retry_after_ms <= 1000 // RECORDS_PER_S
        await asyncio.sleep(refused.retry_after_ms / 1000 + 0.02)
        ack, errors = await link.batch(record(501, message={"v": 1}))  # the same socket
        assert (ack is not None and ack.up_to_seq, errors) == (501, [])
