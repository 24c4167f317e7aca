"""The live hub on its own: throttling, latest-value-wins, filters, overflow, one encoding.

A hand-moved clock replaces time, so every throttle decision is checked exactly and no test
waits for real time to pass (except the one that runs the flusher task itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from datetime import UTC, datetime

from cloud.live.hub import QUEUE_MESSAGES, LiveHub, LivePoint, Subscriber, encode_batch

WHEN = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def point(sensor: uuid.UUID, value: float, device: uuid.UUID | None = None) -> LivePoint:
    return LivePoint(sensor, device, value, WHEN)


def drain(subscriber: Subscriber) -> list[list[tuple[str, float]]]:
    """Every queued message, as (event_public_id, value) pairs per message."""
    messages = []
    while not subscriber.queue.empty():
        body = json.loads(subscriber.queue.get_nowait())
        assert body["type"] == "datapoints_batch"
        messages.append([(d["event_public_id"], d["value"]) for d in body["datapoints"]])
    return messages


def test_encoding_is_webmacs_bytes() -> None:
    sensor, experiment = uuid.uuid4(), uuid.uuid4()
    points = [LivePoint(sensor, None, 23.5, WHEN), LivePoint(sensor, None, -1.0, WHEN, experiment)]
    assert encode_batch(points) == (
        '{"type":"datapoints_batch","datapoints":['
        f'{{"value":23.5,"event_public_id":"{sensor}",'
        '"timestamp":"2026-03-01T12:00:00.250000+00:00","experiment_public_id":null},'
        f'{{"value":-1.0,"event_public_id":"{sensor}",'
        f'"timestamp":"2026-03-01T12:00:00.250000+00:00","experiment_public_id":"{experiment}"}}'
        "]}"
    )


def test_one_update_per_interval_and_the_latest_wins() -> None:
    clock = Clock()
    hub = LiveHub(0.2, clock)
    watcher = hub.subscribe(Subscriber())
    sensor = uuid.uuid4()
    hub.publish([point(sensor, 1)])
    assert hub.flush() is None  # sent at once: nothing left pending
    for step, value in enumerate((2, 3, 4), start=1):
        clock.now = 100.0 + 0.05 * step
        hub.publish([point(sensor, value)])
        wait = hub.flush()
        assert wait is not None
        assert abs(wait - (0.2 - 0.05 * step)) < 1e-9
    assert drain(watcher) == [[(str(sensor), 1)]]
    clock.now = 100.2
    assert hub.flush() is None
    assert drain(watcher) == [[(str(sensor), 4)]]  # 2 and 3 were superseded, never sent
    clock.now = 100.3
    hub.publish([point(sensor, 5)])
    assert hub.flush() is not None
    assert drain(watcher) == []
    clock.now = 100.4
    hub.flush()
    assert drain(watcher) == [[(str(sensor), 5)]]


def test_sensors_are_throttled_independently() -> None:
    clock = Clock()
    hub = LiveHub(0.2, clock)
    watcher = hub.subscribe(Subscriber())
    busy, quiet = uuid.uuid4(), uuid.uuid4()
    hub.publish([point(busy, 1)])
    hub.flush()
    clock.now = 100.1
    hub.publish([point(busy, 2), point(quiet, 10)])
    hub.flush()
    assert drain(watcher) == [[(str(busy), 1)], [(str(quiet), 10)]]
    clock.now = 100.2
    hub.flush()
    assert drain(watcher) == [[(str(busy), 2)]]


def test_filters_by_sensor_and_device() -> None:
    clock = Clock()
    hub = LiveHub(0.2, clock)
    device, other_device = uuid.uuid4(), uuid.uuid4()
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    by_sensor = hub.subscribe(Subscriber(sensors=[a]))
    by_device = hub.subscribe(Subscriber(devices=[device]))
    either = hub.subscribe(Subscriber(devices=[device], sensors=[a]))
    everything = hub.subscribe(Subscriber())
    hub.publish([point(a, 1), point(b, 2, device), point(c, 3, other_device)])
    hub.flush()
    assert drain(by_sensor) == [[(str(a), 1)]]
    assert drain(by_device) == [[(str(b), 2)]]
    assert drain(either) == [[(str(a), 1), (str(b), 2)]]
    assert drain(everything) == [[(str(a), 1), (str(b), 2), (str(c), 3)]]


def test_wants_never_matches_device_less_points_on_a_device_filter() -> None:
    device, sensor = uuid.uuid4(), uuid.uuid4()
    watcher = Subscriber(devices=[device])
    assert watcher.wants(point(sensor, 1, device))
    assert not watcher.wants(point(sensor, 1, None))
    assert not watcher.wants(point(sensor, 1, uuid.uuid4()))
    assert not watcher.unfiltered
    assert Subscriber(devices=[], sensors=[]).unfiltered  # empty filters mean "everything"


def test_unfiltered_subscribers_share_one_encoding() -> None:
    hub = LiveHub(0.2, Clock())
    first, second = hub.subscribe(Subscriber()), hub.subscribe(Subscriber())
    hub.publish([point(uuid.uuid4(), 1)])
    hub.flush()
    assert first.queue.get_nowait() is second.queue.get_nowait()


def test_a_full_queue_marks_the_subscriber_overflowed() -> None:
    clock = Clock()
    hub = LiveHub(0.2, clock)
    slow, fast = hub.subscribe(Subscriber()), hub.subscribe(Subscriber())
    for i in range(QUEUE_MESSAGES):
        hub.publish([point(uuid.uuid4(), i)])
        hub.flush()
        fast.queue.get_nowait()
    assert not slow.overflowed.is_set()
    hub.publish([point(uuid.uuid4(), -1)])
    hub.flush()
    assert slow.overflowed.is_set()
    assert slow.queue.qsize() == QUEUE_MESSAGES
    assert not fast.overflowed.is_set()


def test_nothing_is_kept_without_subscribers_or_after_unsubscribe() -> None:
    hub = LiveHub(0.2, Clock())
    hub.publish([point(uuid.uuid4(), 1)])
    assert hub.flush() is None
    watcher = hub.subscribe(Subscriber())
    assert len(hub) == 1
    hub.unsubscribe(watcher)
    hub.unsubscribe(watcher)  # twice is harmless: sockets may end along two paths
    assert len(hub) == 0
    hub.publish([point(uuid.uuid4(), 2)])
    hub.flush()
    assert watcher.queue.empty()


async def test_the_flusher_task_delivers_the_latest_value() -> None:
    hub = LiveHub(0.05)
    watcher = hub.subscribe(Subscriber())
    sensor = uuid.uuid4()
    hub.start()
    try:
        for value in range(10):
            hub.publish([point(sensor, value)])
        seen: list[float] = []
        while 9 not in seen:
            body = json.loads(await asyncio.wait_for(watcher.queue.get(), 10))
            seen += [d["value"] for d in body["datapoints"]]
    finally:
        await hub.stop()
    assert seen == sorted(seen)
    assert len(seen) <= 2  # published in one go: the first, then at most the latest


async def test_a_stop_always_ends_the_flusher() -> None:
    # Stops land at random points of a busy flusher, including the instant a wake-up or a
    # throttle wait completes, where asyncio.wait_for on Python 3.11 could lose the cancellation.
    rng = random.Random(1)
    sensors = [uuid.uuid4() for _ in range(3)]
    for _ in range(200):
        hub = LiveHub(0.0005)
        hub.subscribe(Subscriber())
        hub.start()

        async def feed(hub: LiveHub = hub) -> None:
            while True:
                hub.publish([point(s, 1.0) for s in sensors])
                await asyncio.sleep(0)

        feeder = asyncio.create_task(feed())
        await asyncio.sleep(rng.uniform(0, 0.005))
        async with asyncio.timeout(5):
            await hub.stop()
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder


def test_a_relay_gets_what_was_published_here_throttled_even_with_no_one_watching_here() -> None:
    clock = Clock()
    hub = LiveHub(0.2, clock)
    relayed: list[list[tuple[uuid.UUID, float]]] = []
    hub.relay = lambda points: relayed.append([(p.sensor_public_id, p.value) for p in points])
    sensor = uuid.uuid4()
    hub.publish([point(sensor, 1)])
    hub.flush()
    hub.publish([point(sensor, 2)])
    hub.publish([point(sensor, 3)])
    clock.now += 0.1
    hub.flush()
    assert relayed == [[(sensor, 1)]]  # a viewer on another replica waits like one here
    clock.now += 0.15
    hub.flush()
    assert relayed == [[(sensor, 1)], [(sensor, 3)]]


def test_points_from_another_replica_are_throttled_here_and_never_relayed_back() -> None:
    clock = Clock()
    hub = LiveHub(0.2, clock)
    relayed: list[list[LivePoint]] = []
    hub.relay = relayed.append
    watcher = hub.subscribe(Subscriber())
    sensor, ours = uuid.uuid4(), uuid.uuid4()
    hub.receive([point(sensor, 1)])
    hub.flush()
    hub.receive([point(sensor, 2)])  # the same sensor fed through a second replica
    hub.publish([point(ours, 10)])
    clock.now += 0.1
    hub.flush()
    assert drain(watcher) == [[(str(sensor), 1)], [(str(ours), 10)]]
    clock.now += 0.15
    hub.flush()
    assert drain(watcher) == [[(str(sensor), 2)]]
    assert [[p.sensor_public_id for p in batch] for batch in relayed] == [[ours]]


def test_points_from_another_replica_are_not_kept_without_watchers_here() -> None:
    hub = LiveHub(0.2, Clock())
    hub.relay = lambda points: None
    hub.receive([point(uuid.uuid4(), 1)])
    assert hub.flush() is None
