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
