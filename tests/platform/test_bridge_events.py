"""GetEvents: the bridge's event log of DI edges, driven through an independent plant."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest

from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.bridges import free_port, start_bridge
from tests.rig.platform import Plant, platform_argv

Stub = pb_grpc.PlatformServiceStub
CYCLE = 0.08  # longer than the IO cycle, as a real pulse must be


async def pulse(plant: Plant, name: str, times: int) -> None:
    for _ in range(times):
        for level in (True, False):
            plant.set_inputs(**{name: level})
            await asyncio.sleep(CYCLE)


async def test_edges_are_logged_in_order(platform_stub: Stub, plant: Plant) -> None:
    before_ms = int(time.time() * 1000)
    await pulse(plant, "I_3", 2)
    plant.set_inputs(I_5=True)
    await asyncio.sleep(CYCLE)
    every = await platform_stub.GetEvents(pb.GetEventsRequest(include_system_events=True))
    assert every.events_synced
    assert [(e.event, e.pin, e.name) for e in every.events] == [
        ("BRIDGE_START", 0, ""),
        ("DI_R", 2, "I_3"),
        ("DI_F", 2, "I_3"),
        ("DI_R", 2, "I_3"),
        ("DI_F", 2, "I_3"),
        ("DI_R", 4, "I_5"),
    ]
    ids = [e.event_id for e in every.events]
    assert ids == list(range(1, 7))
    assert every.last_event_id == 6
    times = [e.time.ToNanoseconds() for e in every.events[1:]]
    assert times == sorted(times)
    assert times[0] >= before_ms * 1_000_000
    assert [e.value for e in every.events[1:]] == [True, False, True, False, True]

    rising = await platform_stub.GetEvents(pb.GetEventsRequest(di_pins=[2], edge=pb.EDGE_RISING))
    assert [e.event_id for e in rising.events] == [2, 4]  # no system event unless asked
    falling = await platform_stub.GetEvents(
        pb.GetEventsRequest(di_pins=[2], edge=pb.EDGE_FALLING, events_from=4)
    )
    assert [e.event_id for e in falling.events] == [5]
    since = await platform_stub.GetEvents(
        pb.GetEventsRequest(events_from=every.events[5].time.ToMilliseconds())
    )
    assert [e.event_id for e in since.events] == [6]  # a Unix time in ms, not an id
    system = await platform_stub.GetEvents(
        pb.GetEventsRequest(include_system_events=True, exclude_di_events=True)
    )
    assert [e.event for e in system.events] == ["BRIDGE_START"]
    assert system.run_id == every.run_id != ""


async def test_unknown_pin_is_not_found(platform_stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform_stub.GetEvents(pb.GetEventsRequest(di_pins=[16]))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_full_log_drops_the_oldest_and_says_so(
    procimg: Path, plant: Plant, tmp_path: Path
) -> None:
    target = f"127.0.0.1:{free_port()}"
    env = {"REVLINK_PLATFORM_EVENT_LOG_SIZE": "3"}
    with start_bridge(platform_argv(procimg, target), target, tmp_path / "logs", env=env):
        async with grpc.aio.insecure_channel(target) as channel:
            stub = Stub(channel)
            await pulse(plant, "I_1", 2)  # 4 edges after the start event: 2 dropped
            page = await stub.GetEvents(pb.GetEventsRequest(include_system_events=True))
            assert [e.event_id for e in page.events] == [3, 4, 5]
            assert not page.events_synced
            later = await stub.GetEvents(pb.GetEventsRequest(events_from=3))
            assert later.events_synced
            assert [e.event_id for e in later.events] == [3, 4, 5]
