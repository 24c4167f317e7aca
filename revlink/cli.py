"""The ``revlink`` command: one console script that starts every revlink process.

Each subcommand parses its flags (every flag also reads a ``REVLINK_*`` variable), configures
logging and hands over to the part it starts. Parts are imported inside the commands so that
a device install never needs the cloud's packages and vice versa.
"""

from __future__ import annotations

from typing import Annotated

import typer

from revlink import __version__
from revlink.commands.app import app_app
from revlink.commands.bridge import bridge_app
from revlink.commands.cloud import cloud_app
from revlink.commands.demo import demo_command
from revlink.commands.io import io_app
from revlink.commands.plugins import plugins_app
from revlink.commands.probe import probe_app
from revlink.commands.sample import sample_config_command
from revlink.commands.sim import sim_command
from revlink.commands.sim_modbus import sim_modbus_command
from revlink.logs import LogFormat, configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    rich_markup_mode=None,
    name="revlink",
    help="revlink: device apps on a Revolution Pi, streamed to a cloud.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"revlink {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    log_level: Annotated[
        str, typer.Option(envvar="REVLINK_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "info",
    log_format: Annotated[
        str, typer.Option(envvar="REVLINK_LOG_FORMAT", help="console or json.")
    ] = "console",
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Configure logging for whichever process the subcommand starts."""
    if log_format not in ("console", "json"):
        raise typer.BadParameter("must be 'console' or 'json'", param_hint="--log-format")
    fmt: LogFormat = "json" if log_format == "json" else "console"
    configure_logging(log_level, fmt)


app.add_typer(bridge_app, name="bridge")
app.add_typer(app_app, name="app")
app.add_typer(cloud_app, name="cloud")
app.add_typer(plugins_app, name="plugins")
app.add_typer(probe_app, name="probe")
app.add_typer(io_app, name="io")
app.command("sim")(sim_command)
app.command("sim-modbus")(sim_modbus_command)
app.command("demo")(demo_command)
app.command("sample-config")(sample_config_command)


def main() -> None:
    app()
