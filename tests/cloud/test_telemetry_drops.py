"""The event log's summary of dropped telemetry items: at once, then once per interval."""

from __future__ import annotations

from cloud.services.telemetry import Refusal
from cloud.services.telemetry_drops import DROPPED_KIND, DropTally


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def unknown(index: int) -> Refusal:
    return Refusal(index, f"unknown event_public_id #{index}", unknown_sensor=True)


def test_first_drop_is_logged_then_drops_are_summed_once_per_interval() -> None:
    clock = Clock()
    tally = DropTally("c@example.com", 60, clock)
    assert tally.add(5, []) is None
    first = tally.add(2, [unknown(1)])
    assert first is not None
    assert first.kind == DROPPED_KIND
    assert first.content.startswith("Telemetry from c@example.com: 1 of 7 datapoints dropped")
    clock.now += 59.9
    assert tally.add(3, [unknown(0), Refusal(1, "value is missing")]) is None
    assert tally.add(1, []) is None
    clock.now += 0.1  # the interval, at its edge
    second = tally.add(1, [unknown(0)])
    assert second is not None
    assert "3 of 5 datapoints dropped over 60 s (2 for unknown events, 1 invalid)" in second.content
    assert "for example: unknown event_public_id #0; value is missing; unknown" in second.content
    assert tally.flush() is None  # nothing since


def test_what_is_left_is_flushed_at_the_end_and_examples_stay_few() -> None:
    clock = Clock()
    tally = DropTally("c", 60, clock)
    assert tally.add(1, [unknown(0)]) is not None
    assert tally.add(500, [unknown(i) for i in range(500)]) is None
    clock.now += 5
    last = tally.flush()
    assert last is not None
    assert "500 of 500 datapoints dropped over 5 s" in last.content
    assert last.content.count("unknown event_public_id") == 3
