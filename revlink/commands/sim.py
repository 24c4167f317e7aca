"""``revlink sim``: run the simulated plant on a process image until SIGTERM or SIGINT.

Every problem an operator can fix (missing image, bad config, a pin the config lacks, a bad
parameter) ends the command with exit code 2 and one line on stderr, because this runs under
supervisors and in terminals where a traceback hides the one fact that matters.
"""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from revlink.commands._common import fail

__all__ = ["sim_command"]

_PIN_FLAGS = {
    "pump_do": "--pump-do",
    "level_ai": "--level-ai",
    "temperature_ai": "--temperature-ai",
    "float_switch_di": "--float-switch-di",
    "pulse_di": "--pulse-di",
    "pulse_counter": "--pulse-counter",
}


def _fail(reason: str) -> NoReturn:
    fail("revlink sim", reason)


def _pin(help_text: str, env: str) -> Any:
    """A pin or plant option; each reads REVLINK_SIM_<NAME> too."""
    return typer.Option(envvar=f"REVLINK_SIM_{env}", help=help_text)


def sim_command(
    procimg: Annotated[
        Path, typer.Option(envvar="REVLINK_PROCIMG", help="Process image (device or file).")
    ] = Path("/dev/piControl0"),
    configrsc: Annotated[
        Path, typer.Option(envvar="REVLINK_CONFIGRSC", help="piCtory config.rsc.")
    ] = Path("/etc/revpi/config.rsc"),
    seed: Annotated[
        int, typer.Option(envvar="REVLINK_SIM_SEED", help="Seed of the temperature noise.")
    ] = 0,
    period_ms: Annotated[
        float, typer.Option(envvar="REVLINK_SIM_PERIOD_MS", help="Cycle period in ms.")
    ] = 50.0,
    pump_do: Annotated[int, _pin("DO pin of the pump (fills the tank).", "PUMP_DO")] = 0,
    level_ai: Annotated[int, _pin("AI pin of the level transmitter.", "LEVEL_AI")] = 0,
    temperature_ai: Annotated[
        int, _pin("AI pin of the temperature probe (0.1 degC).", "TEMPERATURE_AI")
    ] = 4,
    float_switch_di: Annotated[
        int, _pin("DI pin of the high-level float switch.", "FLOAT_SWITCH_DI")
    ] = 0,
    pulse_di: Annotated[int, _pin("DI pin of the flow-meter pulse train.", "PULSE_DI")] = 1,
    pulse_counter: Annotated[
        int, _pin("COUNTER pin counting the flow-meter pulses.", "PULSE_COUNTER")
    ] = 1,
    fill_rate: Annotated[float, _pin("Level rise in %/s while the pump runs.", "FILL_RATE")] = 5.0,
    drain_rate: Annotated[
        float, _pin("Level fall in %/s while the pump is off.", "DRAIN_RATE")
    ] = 2.0,
    pulse_hz: Annotated[float, _pin("Flow-meter pulses per second.", "PULSE_HZ")] = 2.0,
    initial_level: Annotated[float, _pin("Tank level at start, in %.", "INITIAL_LEVEL")] = 20.0,
    create_image: Annotated[
        bool,
        typer.Option(
            "--create-image",
            envvar="REVLINK_SIM_CREATE_IMAGE",
            help="Create (or zero) the image file first, to run without hardware.",
        ),
    ] = False,
) -> None:
    """Simulate a plant (tank, pump, float switch, temperature, flow pulses) on the image."""
    # Imported here: revpimodio2 is in the device extra, and other commands must not need it.
    from bridges.platform.errors import ProcessImageError
    from bridges.platform.sim.plant import PlantParameters
    from bridges.platform.sim.runner import PinError, Simulator, SimulatorConfig, stop_on_signals

    try:
        parameters = PlantParameters(
            fill_rate=fill_rate,
            drain_rate=drain_rate,
            pulse_hz=pulse_hz,
            initial_level=initial_level,
        )
    except ValueError as exc:
        _fail(str(exc))
    if not period_ms > 0:
        _fail(f"--period-ms must be > 0, not {period_ms}")
    if create_image:
        _create_image(procimg)
    config = SimulatorConfig(
        procimg=procimg,
        configrsc=configrsc,
        period_s=period_ms / 1000.0,
        seed=seed,
        pump_do=pump_do,
        level_ai=level_ai,
        temperature_ai=temperature_ai,
        float_switch_di=float_switch_di,
        pulse_di=pulse_di,
        pulse_counter=pulse_counter,
        plant=parameters,
    )
    stop = threading.Event()
    try:
        with stop_on_signals(stop), Simulator(config) as simulator:
            simulator.run(stop)
    except PinError as exc:
        _fail(f"{_PIN_FLAGS.get(exc.field_name, exc.field_name)} {exc.pin}: {exc.reason}")
    except ProcessImageError as exc:
        _fail(str(exc))


def _create_image(procimg: Path) -> None:
    """Zero a plain file; refuse a device node, which belongs to the real piControl driver."""
    from bridges.platform.image import create_image_file

    try:
        if procimg.exists() and not stat.S_ISREG(procimg.stat().st_mode):
            _fail(f"--create-image: {procimg} is not a regular file; refusing to overwrite it")
        create_image_file(procimg)
    except OSError as exc:
        _fail(f"--create-image: cannot create {procimg} ({exc.strerror})")
