"""Drives the simulated plant through a real process image, from the field side.

The simulator opens the image with revpimodio2 in simulator mode (inputs writable) and maps
the plant onto IOs by kind and pin, never by name, so it works on configs whose IOs were
renamed in piCtory. Other processes write the same image at the same time (the bridge resets
counters, tests poke inputs), so every cycle re-reads the whole image, changes only the IOs
whose value actually moves, and writes only those back.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from bridges.platform.errors import ProcessImageError, UnknownIOError
from bridges.platform.image import open_process_image
from bridges.platform.iotable import IOKind, IOSpec, IOTable, IOValue
from bridges.platform.sim.plant import Plant, PlantParameters, PlantReadings

__all__ = ["PinError", "Simulator", "SimulatorConfig", "SimulatorIOs", "stop_on_signals"]

log = structlog.get_logger(__name__)

COUNTER_MODULUS = 2**32  # the DIO's hardware counters are 32-bit and wrap
_PICONTROL_RUNNING = 0x01  # bit 0 of the base module's status byte (RevPiStatus)


class PinError(ValueError):
    """A configured pin does not exist in config.rsc, or two roles share one IO."""

    def __init__(self, field_name: str, pin: int, reason: str) -> None:
        super().__init__(f"{field_name}={pin}: {reason}")
        self.field_name = field_name
        self.pin = pin
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Where the image is, how fast to cycle, and which pins the plant is wired to."""

    procimg: Path
    configrsc: Path
    period_s: float = 0.05
    seed: int = 0
    pump_do: int = 0
    level_ai: int = 0
    temperature_ai: int = 4
    float_switch_di: int = 0
    pulse_di: int = 1
    pulse_counter: int = 1
    plant: PlantParameters = field(default_factory=PlantParameters)


@dataclass(frozen=True, slots=True)
class SimulatorIOs:
    """The IO names the pins resolved to in this config (for logs and for tests)."""

    pump: str
    level: str
    temperature: str
    float_switch: str
    pulse: str
    counter: str
    status: str | None  # the base module's status byte, if the config has a base module


class Simulator:
    """One plant bound to one process image; ``step`` it by hand or ``run`` it in real time."""

    def __init__(self, config: SimulatorConfig) -> None:
        if not config.period_s > 0:
            raise ValueError(f"period must be > 0 s, not {config.period_s}")
        self.config = config
        self.plant = Plant(config.plant, seed=config.seed)
        self._rpi: Any = open_process_image(config.procimg, config.configrsc, simulator=True)
        try:
            self._table = IOTable.from_modio(self._rpi, simulator=True)
            self.ios = _resolve(self._rpi, self._table, config)
        except BaseException:
            self._rpi.cleanup()
            raise
        self._last_pulses = 0
        self._closed = False

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def step(self, dt_seconds: float) -> PlantReadings:
        """One read-compute-write cycle: advance the plant by ``dt_seconds`` of plant time."""
        if self._closed:
            raise RuntimeError("simulator is closed")
        self._read()
        io = self._rpi.io
        readings = self.plant.step(dt_seconds, pump_on=bool(io[self.ios.pump].value))
        self._set(self.ios.level, self._clamp(self.ios.level, readings.level_ai))
        self._set(self.ios.temperature, self._clamp(self.ios.temperature, readings.temperature_ai))
        self._set(self.ios.float_switch, readings.float_switch)
        self._set(self.ios.pulse, readings.pulse_level)
        new_pulses = readings.pulse_count - self._last_pulses
        self._last_pulses = readings.pulse_count
        if new_pulses:
            # Added to what the image holds now, so a counter reset by the bridge restarts at 0.
            current = int(io[self.ios.counter].value)
            io[self.ios.counter].value = (current + new_pulses) % COUNTER_MODULUS
        self._set_running(True)
        self._write()
        return readings

    def run(self, stop_event: threading.Event) -> int:
        """Step at ``period_s`` until ``stop_event`` is set; return the number of steps.

        The plant advances by the wall-clock time that really passed, so it runs in real time
        even when a cycle is late. A late cycle is not followed by a burst of catch-up cycles:
        the schedule restarts from now.
        """
        period = self.config.period_s
        log.info(
            "sim_running",
            procimg=str(self.config.procimg),
            period_ms=round(period * 1000, 3),
            seed=self.config.seed,
            pump_do=self.ios.pump,
            level_ai=self.ios.level,
            temperature_ai=self.ios.temperature,
            float_switch_di=self.ios.float_switch,
            pulse_di=self.ios.pulse,
            pulse_counter=self.ios.counter,
            status=self.ios.status,
        )
        steps = 0
        last = next_tick = time.monotonic()
        while not stop_event.is_set():
            now = time.monotonic()
            self.step(now - last)
            steps += 1
            last = now
            next_tick += period
            now = time.monotonic()
            if next_tick <= now:
                next_tick = now + period
            stop_event.wait(next_tick - now)
        log.info("sim_stopped", steps=steps, plant_seconds=round(self.plant.elapsed_s, 3))
        return steps

    def close(self) -> None:
        """Clear the running bit (the plant is gone) and release the image; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.ios.status is not None:
                self._read()
                self._set_running(False)
                self._write()
        finally:
            self._rpi.cleanup()

    def _read(self) -> None:
        if not self._rpi.readprocimg():
            raise ProcessImageError(f"process image {self.config.procimg}: read failed")

    def _write(self) -> None:
        if not self._rpi.writeprocimg():
            raise ProcessImageError(f"process image {self.config.procimg}: write failed")

    def _set(self, name: str, value: IOValue) -> None:
        # Untouched IOs are not marked for writing, so a value someone else just wrote stays.
        io = self._rpi.io[name]
        if io.value != value:
            io.value = value

    def _clamp(self, name: str, value: int) -> int:
        spec = self._table.by_name(name)
        return max(spec.min_value, min(spec.max_value, value))

    def _set_running(self, running: bool) -> None:
        if self.ios.status is None:
            return
        current = int(self._rpi.io[self.ios.status].value)
        wanted = current | _PICONTROL_RUNNING if running else current & ~_PICONTROL_RUNNING
        self._set(self.ios.status, wanted)


def _resolve(rpi: Any, table: IOTable, config: SimulatorConfig) -> SimulatorIOs:
    def pin(kind: IOKind, field_name: str) -> IOSpec:
        number: int = getattr(config, field_name)
        try:
            return table.by_pin(kind, number)
        except UnknownIOError as exc:
            raise PinError(field_name, number, str(exc)) from None

    level = pin(IOKind.AI, "level_ai")
    temperature = pin(IOKind.AI, "temperature_ai")
    float_switch = pin(IOKind.DI, "float_switch_di")
    pulse = pin(IOKind.DI, "pulse_di")
    if temperature.name == level.name:
        raise PinError("temperature_ai", config.temperature_ai, f"{level.name} is the level AI")
    if pulse.name == float_switch.name:
        raise PinError("pulse_di", config.pulse_di, f"{pulse.name} is the float switch DI")
    return SimulatorIOs(
        pump=pin(IOKind.DO, "pump_do").name,
        level=level.name,
        temperature=temperature.name,
        float_switch=float_switch.name,
        pulse=pulse.name,
        counter=pin(IOKind.COUNTER, "pulse_counter").name,
        status=_status_io(rpi, table),
    )


def _status_io(rpi: Any, table: IOTable) -> str | None:
    """The base module's status byte: its first input byte, as on every RevPi base."""
    bases = [device for device in rpi.device if int(device.position) == 0]
    if not bases:
        return None
    offset = int(bases[0].offset)
    for spec in table.of_kind(IOKind.OTHER):
        if (
            spec.is_input
            and spec.device_position == 0
            and spec.byte_address == offset
            and spec.bit_length == 8
        ):
            return spec.name
    return None


@contextmanager
def stop_on_signals(stop_event: threading.Event) -> Iterator[None]:
    """Set ``stop_event`` on SIGTERM or SIGINT while inside; restore the old handlers after.

    Must be entered from the main thread (a Python rule for signal handlers).
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        stop_event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
