"""A single-phase energy meter feeding the plant's pump: voltage, current, power, energy.

The model is pure (no clock, no I/O, no global random state): the same seed and the same
sequence of ``step`` calls always give the same readings, so tests can check it exactly.

- Voltage is the nominal voltage with a slow swing and noise; frequency likewise.
- Current follows its target with a first-order lag: the pump's current while the pump runs,
  the idle current while it is off, plus the relay's load while the load relay is on. Without
  a pump signal (``pump_on=None``) the target swings slowly between idle and pump current.
- Power is voltage times current; energy integrates power; the meter's temperature follows
  the power it carries, slowly.
- ``over_limit`` is set while the power is above ``power_limit_w``, which a client can
  change, as it can switch ``relay``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields

__all__ = ["EnergyMeter", "MeterParameters", "MeterReadings"]


@dataclass(frozen=True, slots=True)
class MeterParameters:
    nominal_voltage: float = 230.0  # V
    voltage_swing: float = 2.0  # V, amplitude of the slow swing
    voltage_period_s: float = 300.0
    voltage_noise: float = 0.3  # V, standard deviation
    frequency: float = 50.0  # Hz
    frequency_noise: float = 0.01  # Hz, standard deviation
    idle_current: float = 0.35  # A with the pump off
    pump_current: float = 4.2  # A with the pump running
    relay_current: float = 2.0  # A that the load relay adds while on
    current_lag_s: float = 0.8  # time constant of the current following its target
    current_noise: float = 0.02  # A, standard deviation
    swing_period_s: float = 120.0  # without a pump signal: idle to pump current and back
    initial_energy_kwh: float = 1520.0
    ambient_temperature: float = 25.0  # degC
    heating: float = 0.01  # degC above ambient per W carried, once settled
    thermal_lag_s: float = 120.0
    power_limit_w: int = 1000  # initial limit; clients may write another

    def __post_init__(self) -> None:
        """Refuse parameters that make the model meaningless, naming the culprit."""
        for field in fields(self):
            value = getattr(self, field.name)
            if not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, not {value}")
        positive = ("voltage_period_s", "current_lag_s", "swing_period_s", "thermal_lag_s")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")
        non_negative = (
            "voltage_noise",
            "frequency_noise",
            "idle_current",
            "pump_current",
            "relay_current",
            "current_noise",
            "initial_energy_kwh",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if not 0 <= self.power_limit_w <= 65535:
            raise ValueError(f"power_limit_w must be 0-65535, not {self.power_limit_w}")


@dataclass(frozen=True, slots=True)
class MeterReadings:
    voltage: float  # V
    current: float  # A
    power: float  # W
    frequency: float  # Hz
    energy_wh: float  # Wh since the meter was made
    temperature: float  # degC
    over_limit: bool  # power above the limit
    relay: bool  # the load relay
    power_limit_w: int


class EnergyMeter:
    """One meter; ``step`` it with the time that passed and whether the pump runs."""

    def __init__(self, parameters: MeterParameters | None = None, seed: int = 0) -> None:
        self.parameters = p = parameters or MeterParameters()
        self._rng = random.Random(seed)
        self.elapsed_s = 0.0
        self._current = p.idle_current
        self._temperature = p.ambient_temperature
        self.energy_wh = p.initial_energy_kwh * 1000.0
        self.relay = False
        self.power_limit_w = p.power_limit_w

    def _target_current(self, pump_on: bool | None) -> float:
        p = self.parameters
        if pump_on is None:
            phase = 2 * math.pi * self.elapsed_s / p.swing_period_s
            swing = (1 - math.cos(phase)) / 2  # 0 at the start, 1 half a period in
            target = p.idle_current + (p.pump_current - p.idle_current) * swing
        else:
            target = p.pump_current if pump_on else p.idle_current
        return target + (p.relay_current if self.relay else 0.0)

    def step(self, dt_s: float, pump_on: bool | None = None) -> MeterReadings:
        """Advance by ``dt_s`` seconds (0 reads the present state, with fresh noise)."""
        if not dt_s >= 0:
            raise ValueError(f"dt_s must be >= 0, not {dt_s}")
        p, rng = self.parameters, self._rng
        self.elapsed_s += dt_s
        follow = 1 - math.exp(-dt_s / p.current_lag_s)
        self._current += (self._target_current(pump_on) - self._current) * follow
        current = max(0.0, self._current + rng.gauss(0, p.current_noise))
        swing = math.sin(2 * math.pi * self.elapsed_s / p.voltage_period_s)
        voltage = p.nominal_voltage + p.voltage_swing * swing + rng.gauss(0, p.voltage_noise)
        power = voltage * current
        self.energy_wh += power * dt_s / 3600.0
        settled = p.ambient_temperature + p.heating * power
        self._temperature += (settled - self._temperature) * (1 - math.exp(-dt_s / p.thermal_lag_s))
        return MeterReadings(
            voltage=voltage,
            current=current,
            power=power,
            frequency=p.frequency + rng.gauss(0, p.frequency_noise),
            energy_wh=self.energy_wh,
            temperature=self._temperature,
            over_limit=power > self.power_limit_w,
            relay=self.relay,
            power_limit_w=self.power_limit_w,
        )
