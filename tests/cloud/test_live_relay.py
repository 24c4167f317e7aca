"""The relay's wire format between replicas: every field survives, bad messages are refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cloud.live.hub import LivePoint
from cloud.live.relay import decode_points, encode_points

WHEN = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


def test_points_round_trip_with_their_sender() -> None:
    points = [
        LivePoint(uuid.uuid4(), uuid.uuid4(), 23.5, WHEN, uuid.uuid4()),
        LivePoint(uuid.uuid4(), None, -1e300, WHEN),
    ]
    assert decode_points(encode_points("replica-a", points)) == ("replica-a", points)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"points": []}',
        '{"from": 7, "points": []}',
        '{"from": "a", "points": [["nope", null, 1, "2026-03-01T12:00:00+00:00", null]]}',
        '{"from": "a", "points": [[1, 2]]}',
        '{"from": "a", "points": 5}',
    ],
)
def test_a_malformed_message_is_refused_with_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="malformed relay message"):
        decode_points(text)
