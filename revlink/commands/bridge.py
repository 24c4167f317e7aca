"""``revlink bridge ...``: the device-side gRPC bridges."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from revlink.commands._common import fail, settings_from

__all__ = ["bridge_app"]

bridge_app = typer.Typer(help="Device-side gRPC bridges.", no_args_is_help=True)

ListenOption = Annotated[
    str | None,
    typer.Option("--listen", help="HOST:PORT or unix:PATH to serve gRPC on.", show_default=False),
]


@bridge_app.command("platform")
def platform(
    listen: ListenOption = None,
    procimg: Annotated[
        Path | None,
        typer.Option(help="Process image [env REVLINK_PROCIMG; default /dev/piControl0]."),
    ] = None,
    configrsc: Annotated[
        Path | None,
        typer.Option(help="piCtory config [env REVLINK_CONFIGRSC; default /etc/revpi/config.rsc]."),
    ] = None,
    cycle_ms: Annotated[
        int | None,
        typer.Option(help="IO cycle in ms, 5-2000 [env REVLINK_PLATFORM_CYCLE_MS; default 20]."),
    ] = None,
    safe_values: Annotated[
        str | None,
        typer.Option(
            help='Watchdog safe values, JSON {"O_1": false, "OutputValue_1": 0} '
            "[env REVLINK_PLATFORM_SAFE_VALUES; default off/0]."
        ),
    ] = None,
) -> None:
    """Serve the RevPi's I/O over gRPC (default 127.0.0.1:50053)."""
    from bridges.kit import BridgeStartError
    from bridges.platform.errors import PlatformError
    from bridges.platform.main import run_platform_bridge
    from bridges.platform.settings import PlatformSettings

    command = "revlink bridge platform"
    parsed_safe = None
    if safe_values is not None:
        try:
            parsed_safe = json.loads(safe_values)
        except ValueError as exc:
            fail(command, f"--safe-values is not JSON ({exc})")
    settings = settings_from(
        command,
        PlatformSettings,
        platform_listen=listen,
        procimg=procimg,
        configrsc=configrsc,
        platform_cycle_ms=cycle_ms,
        platform_safe_values=parsed_safe,
    )
    try:
        asyncio.run(run_platform_bridge(settings))
    except (PlatformError, BridgeStartError, ValueError) as exc:
        fail(command, exc)
