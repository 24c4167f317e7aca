"""A simulated device: input channels driven by signal generators, outputs that read back.

For trying the host, a dashboard or an app without hardware. Each input channel follows a
signal (a sine, a random walk or a step sequence, see :mod:`.config` for the parameters), and
each output is a bidirectional channel whose last written value appears in the next reading,
so that a write can be observed. ``{}`` is a valid config and gives a small default device.

The simulation (re)starts at ``connect()``: time zero, random walks at their start, outputs at
their initial values and, with a ``seed``, the same sequence of readings every time. Time comes
from the ``clock`` given to the constructor, which tests replace to step through a signal.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from bridges.plugin_host.bundled.simulated.config import (
    CONFIG_SCHEMA,
    InputSpec,
    OutputSpec,
    parse,
)
from bridges.plugin_host.bundled.simulated.signals import RandomWalk, Signal, Sine, Step
from bridges.plugin_host.sdk import Channel, DevicePlugin, Direction, PluginMeta, Value

__all__ = ["SimulatedPlugin"]


class SimulatedPlugin(DevicePlugin):
    meta = PluginMeta(
        "simulated",
        "Simulated device",
        "1.0.0",
        "Inputs that follow sine, random-walk or step signals; outputs that read back",
    )
    config_schema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config)
        self._clock = clock
        self._inputs, self._outputs = parse(self.config)
        self._seed: int | None = self.config.get("seed")
        self._start()

    def _start(self) -> None:
        self._origin = self._clock()
        self._signals = {spec.id: self._signal(spec) for spec in self._inputs}
        self._written: dict[str, Value] = {spec.id: spec.initial for spec in self._outputs}

    def _signal(self, spec: InputSpec) -> Signal:
        # One rng per channel, seeded by its id too: adding a channel leaves the others as
        # they were. A str seed is hashed with SHA-512, the same in every process.
        rng = random.Random() if self._seed is None else random.Random(f"{self._seed}/{spec.id}")
        p = spec.params
        if spec.signal == "sine":
            return Sine(p["amplitude"], p["period_s"], p.get("offset", 0), p.get("noise", 0), rng)
        if spec.signal == "random_walk":
            return RandomWalk(p["start"], p["step"], p["min"], p["max"], rng)
        return Step(p["values"], p["period_s"])

    def channels(self) -> list[Channel]:
        inputs = [
            Channel(spec.id, spec.name, Direction.INPUT, spec.unit, *self._signals[spec.id].bounds)
            for spec in self._inputs
        ]
        return inputs + [self._output_channel(spec) for spec in self._outputs]

    @staticmethod
    def _output_channel(spec: OutputSpec) -> Channel:
        return Channel(
            spec.id,
            spec.name,
            Direction.BIDIRECTIONAL,
            spec.unit,
            spec.min,
            spec.max,
            spec.safe_value,
        )

    async def connect(self) -> None:
        self._start()

    async def read_inputs(self) -> dict[str, Value]:
        elapsed = self._clock() - self._origin
        values: dict[str, Value] = {
            channel_id: signal.sample(elapsed) for channel_id, signal in self._signals.items()
        }
        values.update(self._written)
        return values

    async def write_output(self, channel_id: str, value: Value) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"output {channel_id} takes a number, not {value!r}")
        self._written[channel_id] = value
