"""Pulse counters: set_counter and stop, against a real platform bridge."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.sdk.errors import NotFoundError
from apps.sdk.platform import PlatformInterface
from tests.rig.platform import Plant, PlatformBridge, wait_for


@pytest.fixture
def platform(platform_bridge: PlatformBridge) -> Iterator[PlatformInterface]:
    client = PlatformInterface("test-app", platform_bridge.target)
    yield client
    client.close()


def test_set_counter_and_stop(platform: PlatformInterface, plant: Plant) -> None:
    counter = platform.get_new_pulse_counter(1, "both", 20.0)
    plant.set_inputs(I_2=True)
    wait_for(lambda: counter.get_counter() == 1, 5, "the first edge")
    counter.set_counter(100)
    assert counter.get_counter() == 100
    plant.set_inputs(I_2=False)
    wait_for(lambda: counter.get_counter() == 101, 5, "an edge after set_counter")
    assert counter.stop() == 101
    assert counter.stop() == 101  # stopping twice is harmless
    with pytest.raises(NotFoundError):
        counter.get_counter()
    with pytest.raises(ValueError, match="pulse count"):
        counter.set_counter(-1)
