"""pydoover 0.x's argument shapes and device-wide calls against a real platform bridge."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.sdk.errors import FailedPreconditionError, InvalidArgumentError
from apps.sdk.platform import PlatformInterface
from tests.rig.platform import Plant, PlatformBridge


@pytest.fixture
def platform(platform_bridge: PlatformBridge) -> Iterator[PlatformInterface]:
    client = PlatformInterface("test-app", platform_bridge.target)
    yield client
    client.close()


def test_pins_flatten_and_values_broadcast(platform: PlatformInterface, plant: Plant) -> None:
    plant.set_inputs(I_1=True, I_3=True, InputValue_2=1234)
    assert platform.get_di([0, 1]) == [True, False]
    assert platform.get_di([[0], (1, 2)]) == [True, False, True]
    assert platform.get_di([2]) is True  # one pin: a scalar, as in pydoover
    platform.set_do([2, [3, 4]], 1)  # one value for every pin; 1 is True
    assert [plant.get(f"O_{n}") for n in (3, 4, 5)] == [True, True, True]
    platform.set_do(range(2, 5), [False, 0, True])
    assert platform.get_do([2, 3, 4]) == [False, False, True]
    assert platform.get_ai([1]) == 1234
    assert platform.get_counters([0, 1]) == [0, 0]


def test_analog_floats_are_rounded_to_the_ios_unit(
    platform: PlatformInterface, plant: Plant
) -> None:
    platform.set_ao(0, 3300.4)  # mV, the unit the IO table gives for OutputValue_1
    assert plant.get("OutputValue_1") == 3300
    platform.set_ao([0, 1], 2500.6)
    assert (plant.get("OutputValue_1"), plant.get("OutputValue_2")) == (2501, 2501)
    assert platform.get_ao(0, 1) == [2501, 2501]
    units = {io.name: io.unit for io in platform.list_io()}
    assert units["OutputValue_1"] == "mV"
    assert (units["InputValue_1"], units["InputValue_4"], units["RTDValue_1"]) == (
        "mV",
        "uA",
        "0.1 degC",
    )
    assert units["I_1"] == units["Counter_1"] == ""


def test_bad_shapes_fail_before_any_call(platform: PlatformInterface, plant: Plant) -> None:
    with pytest.raises(ValueError, match="digital values"):
        platform.set_do(0, 2)
    with pytest.raises(ValueError, match="pins"):
        platform.get_di(True)
    with pytest.raises(ValueError, match="finite"):
        platform.set_ao(0, float("nan"))
    with pytest.raises(InvalidArgumentError, match="values"):
        platform.set_do([0, 1, 2], [True, False])  # neither one value nor one per pin
    assert plant.get("O_1") is False


def test_io_table_and_comms(platform: PlatformInterface) -> None:
    table = platform.get_io_table()
    assert table == {
        "DI": list(range(16)),
        "DO": list(range(16)),
        "AI": list(range(6)),
        "AO": [0, 1],
    }
    assert platform.test_comms() == "Comms Check Message"
    assert platform.test_comms("ping") == "ping"


def test_figures_without_a_source_are_none(platform: PlatformInterface) -> None:
    assert platform.get_system_voltage() is None
    assert platform.get_system_power() is None
    assert platform.get_location() is None


def test_power_calls_are_refused_unless_the_operator_enabled_them(
    platform: PlatformInterface,
) -> None:
    for call in (platform.reboot, platform.shutdown, lambda: platform.schedule_shutdown(60)):
        with pytest.raises(FailedPreconditionError, match="power control is disabled") as err:
            call()
        assert err.value.reason == "POWER_CONTROL_DISABLED"
    with pytest.raises(FailedPreconditionError, match="cannot power itself on") as startup:
        platform.schedule_startup(3600)
    assert startup.value.reason == "NOT_SUPPORTED"


def test_immunity_seconds(platform: PlatformInterface) -> None:
    assert platform.get_immunity_seconds() == 0.0
    assert 119 < platform.set_immunity_seconds(120) <= 120
    assert 118 < platform.get_immunity_seconds() <= 120
    assert platform.set_immunity_seconds(0) == 0.0
    with pytest.raises(InvalidArgumentError, match="immunity"):
        platform.set_immunity_seconds(-1)


async def test_async_twins_and_awaitable_plain_names(platform: PlatformInterface) -> None:
    assert await platform.test_comms_async("a") == "a"
    assert await platform.test_comms("b") == "b"
    assert await platform.get_location() is None
    assert (await platform.get_io_table_async())["AO"] == [0, 1]


def test_analog_reads_are_floats(platform: PlatformInterface, plant: Plant) -> None:
    plant.set_inputs(InputValue_1=-1234, RTDValue_1=215)
    value = platform.get_ai(0)
    assert isinstance(value, float)
    assert value == -1234.0
    assert platform.get_ai(0, 4) == [-1234.0, 215.0]
    assert all(isinstance(v, float) for v in platform.get_ai(0, 4))
    platform.set_ao(1, 7777)
    ao = platform.get_ao(1)
    assert isinstance(ao, float)
    assert ao == 7777.0
