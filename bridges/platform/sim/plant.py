"""The simulated plant: a tank with a pump, a float switch, a temperature probe and a flow meter.

The model is pure (no process image, no clock, no global random state) so that it can be
tested exactly and replayed: the same seed and the same sequence of ``step`` calls always give
the same readings. ``bridges.platform.sim.runner`` maps the readings onto piCtory IOs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["Plant", "PlantParameters", "PlantReadings"]


@dataclass(frozen=True, slots=True)
class PlantParameters:
    """How the plant behaves; units are chosen to match what a RevPi AIO/DIO would report.

    The level rises at ``fill_rate`` while the pump runs and falls at ``drain_rate`` while it
    is off, so each rate alone says how fast the tank changes in that state. Temperatures are in
    0.1 degC (the RTD's unit), so ``temperature_mean=215`` is 21.5 degC.
    """

    tank_capacity_l: float = 1000.0
    fill_rate: float = 5.0  # % per second while the pump runs
    drain_rate: float = 2.0  # % per second while the pump is off
    initial_level: float = 20.0  # %
    float_switch_on: float = 90.0  # % at which the high-level float switch closes
    float_switch_off: float = 85.0  # % below which it opens again (hysteresis)
    level_ai_zero: int = 0  # AI value (mV) at 0 % level
    level_ai_full: int = 10000  # AI value (mV) at 100 % level
    temperature_mean: float = 215.0  # 0.1 degC
    temperature_amplitude: float = 30.0  # 0.1 degC
    temperature_period_s: float = 60.0
    temperature_noise: float = 2.0  # standard deviation, 0.1 degC
    pulse_hz: float = 2.0  # flow-meter pulses per second

    def __post_init__(self) -> None:
        """Reject parameters that would make the model meaningless, naming the culprit."""
        if any(math.isnan(value) for value in self._floats()):
            raise ValueError("plant parameters must not be NaN")
        checks = [
            (self.tank_capacity_l > 0, f"tank capacity must be > 0, not {self.tank_capacity_l}"),
            (self.fill_rate >= 0, f"fill rate must be >= 0 %/s, not {self.fill_rate}"),
            (self.drain_rate >= 0, f"drain rate must be >= 0 %/s, not {self.drain_rate}"),
            (
                0 <= self.initial_level <= 100,
                f"initial level must be within 0..100 %, not {self.initial_level}",
            ),
            (
                0 <= self.float_switch_off < self.float_switch_on <= 100,
                "float switch levels must satisfy 0 <= off < on <= 100, not "
                f"off={self.float_switch_off} on={self.float_switch_on}",
            ),
            (
                self.temperature_period_s > 0,
                f"temperature period must be > 0 s, not {self.temperature_period_s}",
            ),
            (
                self.temperature_noise >= 0,
                f"temperature noise must be >= 0, not {self.temperature_noise}",
            ),
            (self.pulse_hz >= 0, f"pulse rate must be >= 0 Hz, not {self.pulse_hz}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def _floats(self) -> tuple[float, ...]:
        return (
            self.tank_capacity_l,
            self.fill_rate,
            self.drain_rate,
            self.initial_level,
            self.float_switch_on,
            self.float_switch_off,
            self.temperature_mean,
            self.temperature_amplitude,
            self.temperature_period_s,
            self.temperature_noise,
            self.pulse_hz,
        )


@dataclass(frozen=True, slots=True)
class PlantReadings:
    """What the plant's sensors show after a step, already in process-image units."""

    level_percent: float
    volume_l: float
    level_ai: int  # mV on the level transmitter's analog input
    temperature_ai: int  # 0.1 degC on the RTD input
    float_switch: bool  # high-level switch, with hysteresis
    pulse_count: int  # flow-meter pulses since the plant started (never wraps)
    pulse_level: bool  # the pulse train itself, for a DI an edge counter watches


class Plant:
    """The plant's state; advance it with ``step``."""

    def __init__(self, parameters: PlantParameters | None = None, *, seed: int = 0) -> None:
        self.parameters = parameters or PlantParameters()
        # A private generator: the noise sequence depends on the seed only, not on whoever
        # else in the process draws random numbers.
        self._rng = random.Random(seed)
        self._elapsed_s = 0.0
        self._level = self.parameters.initial_level
        self._float_switch = self._level >= self.parameters.float_switch_on
        self._pulses = 0
        self._pulse_phase = 0.0  # fraction of the current pulse period, 0 <= phase < 1

    @property
    def elapsed_s(self) -> float:
        """Simulated seconds so far (the sum of every step's ``dt``)."""
        return self._elapsed_s

    def step(self, dt_seconds: float, pump_on: bool) -> PlantReadings:
        """Advance the plant by ``dt_seconds`` with the pump in the given state."""
        if not dt_seconds >= 0:  # also rejects NaN
            raise ValueError(f"dt must be >= 0 s, not {dt_seconds}")
        p = self.parameters
        self._elapsed_s += dt_seconds

        rate = p.fill_rate if pump_on else -p.drain_rate
        self._level = min(100.0, max(0.0, self._level + rate * dt_seconds))
        if self._level >= p.float_switch_on:
            self._float_switch = True
        elif self._level <= p.float_switch_off:
            self._float_switch = False

        # Integer pulses plus a carried fraction: the count never drifts however long it runs.
        self._pulse_phase += p.pulse_hz * dt_seconds
        whole = math.floor(self._pulse_phase)
        self._pulses += whole
        self._pulse_phase -= whole

        angle = 2 * math.pi * self._elapsed_s / p.temperature_period_s
        temperature = p.temperature_mean + p.temperature_amplitude * math.sin(angle)
        temperature += self._rng.gauss(0.0, p.temperature_noise)

        span = p.level_ai_full - p.level_ai_zero
        return PlantReadings(
            level_percent=self._level,
            volume_l=self._level / 100.0 * p.tank_capacity_l,
            level_ai=round(p.level_ai_zero + span * self._level / 100.0),
            temperature_ai=round(temperature),
            float_switch=self._float_switch,
            pulse_count=self._pulses,
            # Low for the first half of each pulse period, high for the second: one rising
            # edge per pulse, so an edge counter on the DI agrees with ``pulse_count``.
            pulse_level=self._pulse_phase >= 0.5,
        )
