"""PlatformInterface against a real platform bridge process over a simulated RevPi."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.sdk.errors import (
    BridgeUnavailableError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from apps.sdk.platform import PlatformInterface
from tests.rig.bridges import free_port, start_bridge
from tests.rig.platform import Plant, PlatformBridge, platform_argv, wait_for


@pytest.fixture
def platform(platform_bridge: PlatformBridge) -> Iterator[PlatformInterface]:
    client = PlatformInterface("test-app", platform_bridge.target)
    yield client
    client.close()


def test_sync_reads_and_writes(platform: PlatformInterface, plant: Plant) -> None:
    plant.set_inputs(I_1=True, InputValue_1=4200, Counter_2=7)
    assert platform.get_di(0) is True
    assert platform.get_di(0, 1) == [True, False]
    assert platform.get_ai(0) == 4200
    platform.set_do(2, True)
    platform.set_do([3, 4], [True, False])
    assert plant.get("O_3") is True
    assert platform.get_do(2, 3, 4) == [True, True, False]
    platform.set_ao(0, 2500)
    assert plant.get("OutputValue_1") == 2500
    platform.set_io({"PWM_2": 99, "O_9": True})
    assert platform.get_io("PWM_2", "O_9") == [99, True]
    assert platform.get_counters(1) == 7
    kinds = {io.name: io.kind for io in platform.list_io()}
    assert (kinds["I_1"], kinds["OutputValue_2"], kinds["Counter_1"]) == ("DI", "AO", "COUNTER")
    assert platform.get_system_temperature() == 0.0


async def test_async_twins(platform: PlatformInterface, plant: Plant) -> None:
    plant.set_inputs(I_4=True)
    assert await platform.get_di_async(3) is True
    await platform.set_do_async(5, True)
    assert await platform.get_do_async(5) is True
    status = await platform.get_system_status_async()
    assert status.simulated


async def test_plain_names_are_awaitable_in_async_code(
    platform: PlatformInterface, plant: Plant
) -> None:
    """pydoover 0.x's calling style: ``await platform.get_di(0)`` in an ``async def`` app."""
    plant.set_inputs(I_2=True, InputValue_2=1234)
    assert await platform.get_di(1) is True
    assert await platform.get_ai(1) == 1234
    await platform.set_do(6, True)
    assert plant.get("O_7") is True
    assert await platform.get_do(6) is True
    # The same names block and return values when called from plain code in a thread.
    assert await asyncio.to_thread(platform.get_ai, 1) == 1234
    await asyncio.to_thread(platform.set_do, 6, False)
    assert plant.get("O_7") is False
    await platform.close()


def test_errors_are_typed(platform: PlatformInterface) -> None:
    with pytest.raises(NotFoundError, match="DI pin 99") as unknown:
        platform.get_di(99)
    with pytest.raises(InvalidArgumentError, match=r"0\.\.10000") as invalid:
        platform.set_ao(0, 20000)
    with pytest.raises(FailedPreconditionError, match="input") as not_writable:
        platform.set_io({"I_1": True})
    platform.lease_id = "never-acquired"  # a lease it never gave out (not one it lost)
    with pytest.raises(NotFoundError, match="no lease") as no_lease:
        platform.renew_lease()
    reasons = [e.value.reason for e in (unknown, invalid, not_writable)]
    assert reasons == ["UNKNOWN_IO", "INVALID_VALUE", "NOT_WRITABLE"]
    assert no_lease.value.reason == "UNKNOWN_LEASE"


def test_one_persistent_channel(platform: PlatformInterface) -> None:
    platform.get_di(0)
    channel = platform._channel
    for _ in range(20):
        platform.get_di(0)
    assert platform._channel is channel


def test_unavailable_after_the_retry_window(tmp_path: Path) -> None:
    client = PlatformInterface("t", f"127.0.0.1:{free_port()}", retry_for=0.5, timeout=0.5)
    try:
        with pytest.raises(BridgeUnavailableError):
            client.get_di(0)
    finally:
        client.close()


def test_calls_and_input_callbacks_survive_a_bridge_restart(
    procimg: Path, plant: Plant, tmp_path: Path
) -> None:
    target = f"127.0.0.1:{free_port()}"
    argv = platform_argv(procimg, target)
    seen: list[tuple[str, object]] = []
    lock = threading.Lock()

    def on_change(name: str, value: object) -> None:
        with lock:
            seen.append((name, value))

    client = PlatformInterface("t", target, retry_for=20)
    try:
        with start_bridge(argv, target, tmp_path / "one"):
            client.add_input_callback(on_change, names=["I_7"])
            plant.set_inputs(I_7=True)
            wait_for(lambda: ("I_7", True) in seen, 5, "first change")
        # The bridge is gone; a call made now waits for it to come back.
        with start_bridge(argv, target, tmp_path / "two"):
            assert client.get_di(6) is True
            plant.set_inputs(I_7=False)
            wait_for(lambda: ("I_7", False) in seen, 10, "change after the restart")
    finally:
        client.close()


async def test_async_input_callback_runs_on_the_app_loop(
    platform: PlatformInterface, plant: Plant
) -> None:
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[tuple[str, object, bool]] = asyncio.Queue()

    async def on_change(name: str, value: object) -> None:
        await got.put((name, value, asyncio.get_running_loop() is loop))

    platform.add_input_callback(on_change, names=["I_8"])
    await asyncio.to_thread(plant.set_inputs, I_8=True)
    assert await asyncio.wait_for(got.get(), 5) == ("I_8", True, True)
