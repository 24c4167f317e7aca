"""The largest value a datapoint keeps, at its edge, at every door (found by the door fuzz:
two values near 1.8e308 in one minute overflowed the rollup's sum and failed every later
batch of that sensor and minute)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import pytest

from cloud.services.datapoints import MAX_MAGNITUDE
from cloud.services.telemetry import validate_items
from cloud.uplink.records import InvalidRecordError, validate_record
from tests.rig.cloud import CloudServer, unique
from tests.rig.uplink import record

JUST_OVER = math.nextafter(MAX_MAGNITUDE, math.inf)


def test_the_telemetry_parser_keeps_the_edge_and_refuses_past_it() -> None:
    sensor = str(uuid.uuid4())
    items = [{"value": v, "event_public_id": sensor} for v in (MAX_MAGNITUDE, -MAX_MAGNITUDE)]
    items += [{"value": v, "event_public_id": sensor} for v in (JUST_OVER, -1e308)]
    batch = validate_items(items)
    assert [a.value for a in batch.accepted] == [MAX_MAGNITUDE, -MAX_MAGNITUDE]
    assert [r.index for r in batch.refused] == [2, 3]
    assert all("within ±1e+290" in r.reason for r in batch.refused)


@pytest.mark.parametrize("value", [JUST_OVER, -1e308])
def test_an_uplink_record_past_the_edge_is_refused_whole(value: float) -> None:
    now = datetime.now(UTC)
    assert validate_record(record(1, message={"level": MAX_MAGNITUDE}, ts=now), now).leaves
    with pytest.raises(InvalidRecordError, match=r"tank.level is beyond ±1e\+290"):
        validate_record(record(1, message={"level": value}, ts=now), now)


def test_values_past_the_edge_are_refused_and_the_sensor_keeps_taking_values(
    cloud: CloudServer,
) -> None:
    with cloud.http(cloud.admin_token()) as client:
        sensor = client.post("/api/v1/sensors", json={"name": unique("huge")}).json()
        one = sensor["public_id"]
        for _ in range(2):  # before the limit, the second of these failed the minute's rollup
            over = client.post(
                "/api/v1/datapoints/batch",
                json={"datapoints": [{"event_public_id": one, "value": 1e308}]},
            )
            assert over.status_code == 422, over.text
        items = [{"event_public_id": one, "value": MAX_MAGNITUDE}] * 3
        for _ in range(2):  # the same minute's rollup sums them all
            stored = client.post("/api/v1/datapoints/batch", json={"datapoints": items})
            assert stored.status_code == 201, stored.text
            assert stored.json()["refused"] == []
