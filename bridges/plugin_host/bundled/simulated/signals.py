"""Signal generators for the simulated device: plain functions of elapsed time and a seeded rng.

Nothing here reads a clock or a global random source, so a fixed seed and a stepped clock give
the same readings on every run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["RandomWalk", "Signal", "Sine", "Step"]


@dataclass(slots=True)
class Sine:
    amplitude: float
    period_s: float
    offset: float = 0.0
    noise: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def sample(self, elapsed: float) -> float:
        value = self.offset + self.amplitude * math.sin(2 * math.pi * elapsed / self.period_s)
        if self.noise:  # skipped at 0 so that a noiseless sine draws nothing from the rng
            value += self.rng.uniform(-self.noise, self.noise)
        return value

    @property
    def bounds(self) -> tuple[float, float]:
        reach = abs(self.amplitude) + self.noise
        return self.offset - reach, self.offset + reach


@dataclass(slots=True)
class RandomWalk:
    """Moves by at most ``step`` per sample, whatever the time between samples, within bounds."""

    start: float
    step: float
    low: float
    high: float
    rng: random.Random = field(default_factory=random.Random, repr=False)
    value: float = field(init=False)

    def __post_init__(self) -> None:
        self.value = min(max(self.start, self.low), self.high)

    def sample(self, elapsed: float) -> float:
        moved = self.value + self.rng.uniform(-self.step, self.step)
        self.value = min(max(moved, self.low), self.high)
        return self.value

    @property
    def bounds(self) -> tuple[float, float]:
        return self.low, self.high


@dataclass(slots=True)
class Step:
    """Holds each of ``values`` for ``period_s``, then starts over."""

    values: Sequence[float]
    period_s: float

    def sample(self, elapsed: float) -> float:
        index = int(max(elapsed, 0.0) // self.period_s) % len(self.values)
        return self.values[index]

    @property
    def bounds(self) -> tuple[float, float]:
        return min(self.values), max(self.values)


Signal = Sine | RandomWalk | Step
