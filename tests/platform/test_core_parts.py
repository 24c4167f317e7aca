"""The platform core's pure parts: lease book, write schedule, edge counters, change feed."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bridges.platform.errors import InvalidValueError, UnknownCounterError, UnknownLeaseError
from bridges.platform.feed import (
    QUEUE_CYCLES,
    ChangeFeed,
    InputChange,
    SubscriberTooSlowError,
)
from bridges.platform.iotable import IOKind, IOSpec, check_value
from bridges.platform.leases import MAX_LEASE_TTL_S, LeaseBook
from bridges.platform.pulses import Edge, EdgeCounters
from bridges.platform.schedules import PendingWrite, WriteSchedule


def spec(name: str = "O_1", *, bit: bool = True, low: int = 0, high: int = 1) -> IOSpec:
    return IOSpec(
        name=name,
        kind=IOKind.DO if bit else IOKind.AO,
        pin=0,
        bit_length=1 if bit else 16,
        signed=not bit,
        byte_address=0,
        bit_address=0 if bit else None,
        writable=True,
        is_input=False,
        device_name="dev",
        device_position=0,
        default_value=False if bit else 0,
        safe_value=False if bit else 0,
        min_value=low,
        max_value=high,
    )


def test_lease_expires_unless_renewed() -> None:
    book = LeaseBook()
    lease = book.acquire("app", 1.0, now=100.0)
    book.claim(lease.lease_id, ["O_1", "O_2"])
    book.renew(lease.lease_id, now=100.9)
    assert book.expired(101.5) == []
    (gone,) = book.expired(101.9)
    assert gone.outputs == {"O_1", "O_2"}
    with pytest.raises(UnknownLeaseError):
        book.renew(lease.lease_id, now=102.0)


def test_claim_records_the_writer_the_core_allowed() -> None:
    # claim() is bookkeeping only: the core refuses a write to another lease's output before
    # it claims (tests/platform/test_output_ownership.py), and a takeover claims explicitly.
    book = LeaseBook()
    first = book.acquire("a", 1.0, now=0.0)
    second = book.acquire("b", 10.0, now=0.0)
    book.claim(first.lease_id, ["O_1", "O_2"])
    book.claim(second.lease_id, ["O_2"])
    book.claim(None, ["O_1"])  # an allowed unleased write: nobody owns O_1 any more
    (expired,) = book.expired(5.0)
    assert expired.outputs == set()
    assert second.outputs == {"O_2"}


@pytest.mark.parametrize("ttl", [0.0, -1.0, MAX_LEASE_TTL_S + 1])
def test_lease_ttl_limits(ttl: float) -> None:
    with pytest.raises(InvalidValueError, match="lease ttl"):
        LeaseBook().acquire("app", ttl, now=0.0)


def test_schedule_pops_due_writes_in_order_and_cancels() -> None:
    schedule = WriteSchedule()
    schedule.add(PendingWrite(spec("O_1"), True, due=2.0, lease_id=None))
    schedule.add(PendingWrite(spec("O_2"), True, due=1.0, lease_id=None))
    schedule.add(PendingWrite(spec("O_3"), True, due=1.5, lease_id=None))
    schedule.cancel(["O_3"])
    assert schedule.pop_due(0.5) == []
    assert [w.spec.name for w in schedule.pop_due(2.0)] == ["O_2", "O_1"]
    assert len(schedule) == 0


@pytest.mark.parametrize(("edge", "expected"), [(Edge.RISING, 3), (Edge.FALLING, 2)])
def test_edge_counter(edge: Edge, expected: int) -> None:
    counters = EdgeCounters()
    counter = counters.start("I_1", edge, window_s=10.0)
    levels = [False, True, False, True, False, True]
    for i, (old, new) in enumerate(zip(levels, [*levels[1:], True], strict=True)):
        counters.feed("I_1", old, new, now=float(i), wall_ns=i)
        counters.feed("I_2", old, new, now=float(i), wall_ns=i)  # another input: ignored
    assert counter.count == expected
    assert counter.pulses_per_minute(now=100.0) == 0.0  # all outside the window by then
    with pytest.raises(UnknownCounterError):
        counters.get("nope")


def test_check_value_types_and_ranges() -> None:
    assert check_value(spec(), True) is True
    with pytest.raises(InvalidValueError, match="takes a bool"):
        check_value(spec(), 1)
    analog = spec("AO", bit=False, low=-10, high=10)
    assert check_value(analog, -10) == -10
    for bad in (11, True, 1.5, "3"):
        with pytest.raises(InvalidValueError):
            check_value(analog, bad)


def change(value: int) -> list[InputChange]:
    return [InputChange("I_1", IOKind.DI, 0, None, value, 0)]


async def test_feed_filters_by_name_and_delivers_in_order() -> None:
    feed = ChangeFeed()
    wanted = feed.subscribe({"I_1"})
    other = feed.subscribe({"I_2"})
    for value in range(3):
        feed.publish(change(value))
    received = []
    async with contextlib.aclosing(wanted.__aiter__()) as batches:
        async for batch in batches:
            received.append(batch[0].new)
            if len(received) == 3:
                break
    assert received == [0, 1, 2]
    assert other._queue.empty()
    assert len(feed) == 1  # the closed iterator unsubscribed itself


async def test_feed_cuts_off_a_subscriber_that_falls_behind() -> None:
    feed = ChangeFeed()
    slow = feed.subscribe()
    for value in range(QUEUE_CYCLES + 1):
        feed.publish(change(value))

    async def drain() -> None:
        async for _ in slow:
            pass

    with pytest.raises(SubscriberTooSlowError, match="reconnect"):
        await asyncio.wait_for(drain(), 1)
    assert len(feed) == 0


async def test_ending_the_feed_ends_streams_after_what_they_hold() -> None:
    feed = ChangeFeed()
    watcher = feed.subscribe()
    feed.publish(change(1))
    feed.end_streams()
    late = feed.subscribe()  # accepted just before the stop began: ends at once too
    async with asyncio.timeout(1):
        assert [batch[0].new async for batch in watcher] == [1]
        assert [batch async for batch in late] == []
    assert len(feed) == 0
