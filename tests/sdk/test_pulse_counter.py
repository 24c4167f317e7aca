"""Pulse counters, pulse listeners, event counters and events against a real platform bridge."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from apps.sdk.platform import PlatformInterface
from apps.sdk.pulses import PulseCounter
from tests.rig.platform import Plant, PlatformBridge, wait_for

PULSE = 0.06  # longer than the IO cycle, as a real pulse must be


@pytest.fixture
def platform(platform_bridge: PlatformBridge) -> Iterator[PlatformInterface]:
    client = PlatformInterface("test-app", platform_bridge.target)
    yield client
    client.close()


def pulse(plant: Plant, name: str, times: int) -> None:
    for _ in range(times):
        for level in (True, False):
            plant.set_inputs(**{name: level})
            time.sleep(PULSE)


def test_set_counter_and_stop(platform: PlatformInterface, plant: Plant) -> None:
    counter = platform.get_new_pulse_counter(1, "both", rate_window_secs=20.0)
    wait_for(lambda: counter.receiving_pulses, 5, "the counter to start")
    plant.set_inputs(I_2=True)
    wait_for(lambda: counter.get_counter() == 1, 5, "the first edge")
    counter.set_counter(100)
    assert counter.get_counter() == 100
    plant.set_inputs(I_2=False)
    wait_for(lambda: counter.get_counter() == 101, 5, "an edge after set_counter")
    assert counter.read().count == 101  # the bridge's count agrees
    assert counter.stop() == 101
    assert counter.stop() == 101  # stopping twice is harmless
    plant.set_inputs(I_2=True)
    time.sleep(0.2)
    assert counter.get_counter() == 101  # no longer counting
    with pytest.raises(ValueError, match="pulse count"):
        counter.set_counter(-1)


def test_pydoover_signature_callback_and_window(platform: PlatformInterface, plant: Plant) -> None:
    calls: list[tuple[int, bool, float, int, str]] = []
    done = threading.Event()

    def on_pulse(di: int, value: bool, dt: float, count: int, edge: str) -> None:
        calls.append((di, value, dt, count, edge))
        if count == 3:
            done.set()

    counter = platform.get_new_pulse_counter(2, "rising", on_pulse)  # pydoover's positions
    assert isinstance(counter, PulseCounter)
    assert counter.get_rate_window() == 20  # pydoover 0.x's default
    wait_for(lambda: counter.receiving_pulses, 5, "the counter to start")
    pulse(plant, "I_3", 3)
    assert done.wait(5)
    assert sorted(c[3] for c in calls) == [1, 2, 3]
    assert {(c[0], c[1], c[4]) for c in calls} == {(2, True, "rising")}
    later_dts = [c[2] for c in calls if c[3] > 1]
    assert all(0.05 < dt < 1.0 for dt in later_dts)
    assert counter.get_counter() == 3
    assert len(counter.get_pulses_in_window()) == 3
    assert counter.get_pulses_per_minute() == pytest.approx(3 * 60 / 20)
    counter.set_rate_window(0.05)  # the pulses are older than this now
    time.sleep(0.1)
    assert counter.get_pulses_in_window() == []
    assert counter.get_pulses_per_minute() == 0.0
    counter.stop()


def test_auto_start_false_waits_for_start(platform: PlatformInterface, plant: Plant) -> None:
    counter = platform.get_new_pulse_counter(3, auto_start=False)
    time.sleep(0.3)
    pulse(plant, "I_4", 1)
    assert counter.get_counter() == 0
    assert counter.counter_id == ""  # nothing started on the bridge
    counter.start()
    wait_for(lambda: counter.receiving_pulses, 5, "the counter to start")
    pulse(plant, "I_4", 2)
    wait_for(lambda: counter.get_counter() == 2, 5, "two pulses after start")
    counter.stop()


async def test_plain_name_returns_the_counter_in_async_code(
    platform: PlatformInterface, plant: Plant
) -> None:
    seen: list[int] = []

    async def on_pulse(di: int, value: bool, dt: float, count: int, edge: str) -> None:
        seen.append(count)

    counter = platform.get_new_pulse_counter(4, "falling", callback=on_pulse)  # no await
    assert isinstance(counter, PulseCounter)
    for _ in range(500):
        if counter.receiving_pulses:
            break
        await asyncio.sleep(0.01)
    await asyncio.to_thread(pulse, plant, "I_5", 2)
    for _ in range(500):
        if seen == [1, 2]:
            break
        await asyncio.sleep(0.01)
    assert seen == [1, 2]
    assert counter.get_counter() == 2  # a plain value, not an awaitable
    assert (await counter.read_async()).count == 2
    await counter.stop_async()


async def test_async_twin_is_counting_on_return(platform: PlatformInterface, plant: Plant) -> None:
    counter = await platform.get_new_pulse_counter_async(6, rate_window_secs=30)
    assert counter.receiving_pulses
    await asyncio.to_thread(pulse, plant, "I_7", 2)
    assert await counter.get_counter_async() == 2
    assert counter.get_rate_window() == 30
    await counter.stop_async()


def test_start_di_pulse_listener(platform: PlatformInterface, plant: Plant) -> None:
    calls: list[tuple[int, bool, int, str]] = []
    watch = platform.start_di_pulse_listener(
        7, lambda di, v, dt, n, e: calls.append((di, v, n, e)), edge="both", start_count=10
    )
    wait_for(lambda: watch.running, 5, "the listener to start")
    pulse(plant, "I_8", 1)
    wait_for(lambda: len(calls) == 2, 5, "two edges")
    assert sorted(calls, key=lambda c: c[2]) == [
        (7, True, 11, "rising"),
        (7, False, 12, "falling"),
    ]
    watch.stop()
    with pytest.raises(ValueError, match="edge"):
        platform.start_di_pulse_listener(7, print, edge="up")


def test_events_and_event_counter(platform: PlatformInterface, plant: Plant) -> None:
    start = platform.get_events()
    assert [e.event for e in start] == ["BRIDGE_START"]
    pulse(plant, "I_10", 2)
    wait_for(lambda: len(platform.get_events()) == 5, 5, "four logged edges")
    events = platform.get_events()
    assert [(e.event, e.pin) for e in events[1:]] == [("DI_R", 9), ("DI_F", 9)] * 2
    assert [e.event_id for e in events] == [1, 2, 3, 4, 5]
    assert all(abs(e.time / 1000 - time.time()) < 10 for e in events)
    assert [e.event_id for e in platform.get_events(4)] == [4, 5]
    synced, rising = platform.get_di_events(9, "rising")
    assert synced
    assert [e.event_id for e in rising] == [2, 4]
    _, with_system = platform.get_di_events(9, "falling", include_system_events=True)
    assert [e.event for e in with_system] == ["BRIDGE_START", "DI_F", "DI_F"]
    assert platform.get_di_events(8, "both") == (True, [])

    counter = platform.get_new_event_counter(9, "rising")
    assert counter.get_counter() == 2
    assert len(counter.pulse_timestamps) == 2
    counter.update_events()  # nothing new: nothing counted twice
    assert counter.get_counter() == 2
    pulse(plant, "I_10", 1)
    time.sleep(0.1)
    counter.update_events()
    assert counter.get_counter() == 3


def test_a_counter_built_as_pydoover_builds_one(platform: PlatformInterface, plant: Plant) -> None:
    counter = PulseCounter(plt_iface=platform, pin=1, edge="rising", auto_start=False)
    assert (counter.get_rate_window(), counter.platform_iface) == (60.0, platform)
    counter.start_listener()  # pydoover's older name for start
    wait_for(lambda: counter.receiving_pulses, 5, "the counter to start")
    pulse(plant, "I_2", 3)
    wait_for(lambda: counter.count == 3, 5, "three pulses")
    assert len(counter.pulse_timestamps[-2:]) == 2  # a list, so apps can slice it
    counter.count = 10  # pydoover apps assign the count
    assert counter.get_counter() == 10
    pulse(plant, "I_2", 1)
    wait_for(lambda: counter.count == 11, 5, "a pulse after the assignment")
    counter.stop()
