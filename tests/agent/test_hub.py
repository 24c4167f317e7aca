"""The channel hub in process: fan-out, replay and how streams end when the agent stops."""

from __future__ import annotations

import asyncio

import pytest

from bridges.agent.hub import ChannelHub


async def test_replay_then_live_events_in_order_without_repeats() -> None:
    hub = ChannelHub()
    first = hub.emit("c", "message", "1")
    hub.emit("c", "message", "2")
    hub.emit("other", "message", "x")
    events = hub.events("c", after_event_id=first.event_id)
    assert (await anext(events)).payload_json == "2"
    waiting = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    hub.emit("c", "message", "3")
    assert (await waiting).payload_json == "3"
    await events.aclose()
    assert hub.subscriber_count("c") == 0


async def test_end_streams_ends_open_subscriptions_normally() -> None:
    hub = ChannelHub()
    events = hub.events("c")
    waiting = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    assert hub.subscriber_count("c") == 1
    hub.end_streams()
    with pytest.raises(StopAsyncIteration):
        await waiting


async def test_a_subscription_that_starts_after_the_stop_began_ends_at_once() -> None:
    # The servicer sends the aggregate snapshot before the hub's generator first runs, so a
    # stop can fall between the two; that stream must not hold the server for its grace period.
    hub = ChannelHub()
    hub.end_streams()
    events = hub.events("c")
    assert [event async for event in events] == []


async def test_events_between_the_resume_point_and_the_first_read_are_replayed() -> None:
    # The servicer fixes the resume point, then reads the aggregate snapshot; whatever is
    # emitted meanwhile must still reach the stream.
    hub = ChannelHub()
    start = hub.resume_point(0)
    events = hub.events("c", start)
    hub.emit("c", "command", '{"n": 1}')
    assert (await anext(events)).payload_json == '{"n": 1}'
    await events.aclose()


async def test_a_resume_point_the_hub_never_issued_starts_with_new_events() -> None:
    # After an agent restart with the clock set back, a client's old id is ahead of every new
    # one; honouring it would silently skip events until the ids caught up.
    hub = ChannelHub()
    hub.emit("c", "message", "old")
    ahead = hub.last_event_id + 1_000_000
    assert hub.resume_point(ahead) == hub.last_event_id
    events = hub.events("c", ahead)
    waiting = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    hub.emit("c", "message", "new")
    assert (await waiting).payload_json == "new"
    await events.aclose()
