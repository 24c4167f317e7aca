"""The pure plant model: physics, switch hysteresis, pulses and seeded determinism."""

from __future__ import annotations

import itertools

import pytest

from bridges.platform.sim.plant import Plant, PlantParameters, PlantReadings


def _run(plant: Plant, steps: int, dt: float, pump_on: bool) -> list[PlantReadings]:
    return [plant.step(dt, pump_on) for _ in range(steps)]


def test_level_rises_with_the_pump_on_and_falls_with_it_off() -> None:
    plant = Plant(PlantParameters(fill_rate=5.0, drain_rate=2.0, initial_level=20.0))

    on = plant.step(1.0, pump_on=True)
    off = plant.step(1.0, pump_on=False)

    assert on.level_percent == pytest.approx(25.0)
    assert off.level_percent == pytest.approx(23.0)


def test_level_clamps_to_0_and_100_percent() -> None:
    plant = Plant(PlantParameters(fill_rate=50.0, drain_rate=50.0, initial_level=50.0))

    full = _run(plant, 5, 1.0, pump_on=True)[-1]
    empty = _run(plant, 5, 1.0, pump_on=False)[-1]

    assert (full.level_percent, full.level_ai, full.volume_l) == (100.0, 10000, 1000.0)
    assert (empty.level_percent, empty.level_ai, empty.volume_l) == (0.0, 0, 0.0)


def test_level_is_scaled_onto_the_analog_input() -> None:
    params = PlantParameters(initial_level=50.0, level_ai_zero=4000, level_ai_full=20000)

    reading = Plant(params).step(0.0, pump_on=False)

    assert reading.level_ai == 12000


def test_float_switch_has_hysteresis() -> None:
    params = PlantParameters(
        fill_rate=1.0, drain_rate=1.0, initial_level=84.0, float_switch_on=90.0,
        float_switch_off=85.0,
    )  # fmt: skip
    plant = Plant(params)

    def at(dt: float, pump_on: bool) -> tuple[float, bool]:
        reading = plant.step(dt, pump_on)
        return round(reading.level_percent, 6), reading.float_switch

    assert at(5.0, True) == (89.0, False)  # rising, below the on level
    assert at(1.0, True) == (90.0, True)  # closes at 90 %
    assert at(3.0, False) == (87.0, True)  # falling, stays closed above 85 %
    assert at(2.0, False) == (85.0, False)  # opens at 85 %
    assert at(3.0, True) == (88.0, False)  # rising again, stays open below 90 %


def test_float_switch_starts_closed_when_the_tank_starts_full() -> None:
    assert Plant(PlantParameters(initial_level=95.0)).step(0.0, False).float_switch


def test_pulse_count_matches_rate_times_time_and_carries_fractions() -> None:
    plant = Plant(PlantParameters(pulse_hz=3.0))

    # 0.1 s steps give 0.3 pulses each: only carried fractions make whole pulses.
    readings = _run(plant, 100, 0.1, pump_on=False)

    assert readings[2].pulse_count == 0
    assert readings[3].pulse_count == 1  # 1.2 pulses after 0.4 s
    assert abs(readings[-1].pulse_count - 30) <= 1  # 10 s at 3 Hz
    counts = [reading.pulse_count for reading in readings]
    assert counts == sorted(counts)


def test_pulse_level_is_a_square_wave_with_one_rising_edge_per_pulse() -> None:
    plant = Plant(PlantParameters(pulse_hz=1.0))

    readings = _run(plant, 100, 0.05, pump_on=False)  # 5 s, 10 samples per pulse

    levels = [reading.pulse_level for reading in readings]
    rising = sum(1 for before, after in itertools.pairwise(levels) if after > before)
    assert levels[:9] == [False] * 9  # low for the first half period (0.05..0.45 s)
    assert levels[10:19] == [True] * 9  # high for the second (0.55..0.95 s)
    assert abs(rising - readings[-1].pulse_count) <= 1


def test_temperature_follows_mean_amplitude_and_period_without_noise() -> None:
    params = PlantParameters(
        temperature_mean=200.0,
        temperature_amplitude=50.0,
        temperature_period_s=4.0,
        temperature_noise=0.0,
    )
    plant = Plant(params)

    temperatures = [plant.step(1.0, False).temperature_ai for _ in range(4)]

    assert temperatures == [250, 200, 150, 200]


def test_same_seed_gives_the_same_sequence() -> None:
    def sequence(seed: int) -> list[PlantReadings]:
        plant = Plant(PlantParameters(temperature_noise=5.0), seed=seed)
        return [plant.step(0.05 * (i % 3 + 1), pump_on=i % 7 < 4) for i in range(200)]

    assert sequence(42) == sequence(42)


def test_different_seeds_give_different_noise() -> None:
    def temperatures(seed: int) -> list[int]:
        plant = Plant(PlantParameters(temperature_noise=5.0), seed=seed)
        return [plant.step(0.05, False).temperature_ai for _ in range(50)]

    assert temperatures(1) != temperatures(2)


def test_noise_does_not_depend_on_the_global_random_state() -> None:
    import random

    first = Plant(seed=3).step(0.05, False)
    random.seed(999)
    random.random()
    assert Plant(seed=3).step(0.05, False) == first


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fill_rate": -1.0}, "fill rate"),
        ({"drain_rate": -0.5}, "drain rate"),
        ({"initial_level": 101.0}, "initial level"),
        ({"float_switch_on": 80.0, "float_switch_off": 85.0}, "float switch"),
        ({"pulse_hz": -2.0}, "pulse rate"),
        ({"temperature_period_s": 0.0}, "temperature period"),
        ({"tank_capacity_l": 0.0}, "tank capacity"),
        ({"fill_rate": float("nan")}, "NaN"),
    ],
)
def test_bad_parameters_are_rejected_by_name(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlantParameters(**changes)  # type: ignore[arg-type]


def test_negative_dt_is_rejected() -> None:
    with pytest.raises(ValueError, match="dt"):
        Plant().step(-0.1, False)
