"""``revlink sim-modbus``: a simulated energy meter on Modbus TCP, until SIGTERM or SIGINT.

The meter (``revlink.simulators``) serves voltage, current, power, frequency, energy and its
temperature in input registers, a power limit in a holding register, a load relay coil and an
over-limit discrete input. Given the plant's process image (``--procimg``), its current follows
the pump (a DO, ``--pump-do``); without it, the current swings slowly. A problem an operator
can fix (a port in use, a missing image, a bad flag) ends it with exit code 2 and one line.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import structlog
import typer

from revlink.commands._common import fail

if TYPE_CHECKING:
    from revlink.simulators.meter_server import MeterServer

__all__ = ["sim_modbus_command"]

log = structlog.get_logger("revlink.sim_modbus")


def _fail(reason: str) -> NoReturn:
    fail("revlink sim-modbus", reason)


def sim_modbus_command(
    listen: Annotated[
        str,
        typer.Option(envvar="REVLINK_SIM_MODBUS_LISTEN", help="HOST:PORT to serve Modbus TCP on."),
    ] = "127.0.0.1:5020",
    slave_id: Annotated[
        int, typer.Option(envvar="REVLINK_SIM_MODBUS_SLAVE_ID", help="The meter's unit id.")
    ] = 1,
    seed: Annotated[
        int, typer.Option(envvar="REVLINK_SIM_MODBUS_SEED", help="Seed of the meter's noise.")
    ] = 0,
    period_ms: Annotated[
        float,
        typer.Option(envvar="REVLINK_SIM_MODBUS_PERIOD_MS", help="Update period in ms."),
    ] = 100.0,
    procimg: Annotated[
        Path | None,
        typer.Option(
            envvar="REVLINK_SIM_MODBUS_PROCIMG",
            help="The plant's process image: the current follows its pump. Default: none, "
            "the current swings slowly.",
            show_default=False,
        ),
    ] = None,
    configrsc: Annotated[
        Path,
        typer.Option(envvar="REVLINK_CONFIGRSC", help="piCtory config.rsc of that image."),
    ] = Path("/etc/revpi/config.rsc"),
    pump_do: Annotated[
        int, typer.Option(envvar="REVLINK_SIM_MODBUS_PUMP_DO", help="DO pin of the pump.")
    ] = 0,
) -> None:
    """Simulate an energy meter (Modbus TCP) whose current follows the plant's pump."""
    from bridges.kit.address import ListenAddress, ListenAddressError
    from bridges.platform.errors import ProcessImageError, UnknownIOError
    from revlink.simulators.energy_meter import EnergyMeter
    from revlink.simulators.meter_server import MeterServer, ProcessImagePump

    try:
        address = ListenAddress.parse(listen)
    except ListenAddressError as exc:
        _fail(f"--listen: {exc}")
    if address.is_unix:
        _fail("--listen: Modbus TCP needs HOST:PORT, not a unix socket")
    if not 0 <= slave_id <= 247:
        _fail(f"--slave-id must be 0-247, not {slave_id}")
    if not period_ms > 0:
        _fail(f"--period-ms must be > 0, not {period_ms}")
    pump = None
    if procimg is not None:
        try:
            pump = ProcessImagePump(procimg, configrsc, pump_do)
        except UnknownIOError as exc:
            _fail(f"--pump-do {pump_do}: {exc}")
        except ProcessImageError as exc:
            _fail(str(exc))
    host = address.host.removeprefix("[").removesuffix("]")
    server = MeterServer(
        EnergyMeter(seed=seed),
        host,
        address.port,
        slave_id=slave_id,
        period_s=period_ms / 1000.0,
        pump=pump,
    )
    try:
        asyncio.run(_serve(server))
    except OSError as exc:
        _fail(str(exc))
    finally:
        if pump is not None:
            pump.close()


async def _serve(server: MeterServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = await server.start()
    log.info(
        "sim_modbus.running",
        listen=f"{server.host}:{port}",
        slave_id=server.slave_id,
        period_ms=round(server.period_s * 1000, 3),
        pump=getattr(server.pump, "io_name", None),
    )
    try:
        cycles = await server.run(stop)
    finally:
        await server.close()
    log.info("sim_modbus.stopped", cycles=cycles, meter_seconds=round(server.meter.elapsed_s, 3))
