"""``revlink plugins ...``: the plugin host's plugins and instances, over its gRPC API.

Every command talks to a running plugin host (``revlink bridge plugins``) through the SDK's
:class:`~apps.sdk.plugins.PluginsInterface`, so the CLI and an app manage instances alike.
A refused call prints the host's reason on one line and exits 1; ``--json`` prints what a
script wants instead of the aligned text.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from revlink.commands._common import fail

if TYPE_CHECKING:
    from apps.sdk.plugins import ChannelInfo, InstanceInfo, PluginsInterface
    from revlink.plugin_values import ChannelScalar

__all__ = ["plugins_app"]

plugins_app = typer.Typer(
    rich_markup_mode=None,
    help="Manage the plugin host's plugins and instances.",
    no_args_is_help=True,
)

# An absent host should fail in seconds, not after the SDK's app-friendly ten.
RETRY_FOR_S = 3.0
TIMEOUT_S = 5.0

HostOption = Annotated[
    str,
    typer.Option("--host", envvar="PLUGINS_URI", help="The plugin host's HOST:PORT."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
NameArgument = Annotated[str, typer.Argument(help="Instance name.")]


@contextmanager
def _host(command: str, host: str) -> Iterator[PluginsInterface]:
    """A client of the host; a failed call ends the command with one line and exit code 1."""
    from apps.sdk.errors import BridgeError, BridgeUnavailableError
    from apps.sdk.plugins import PluginsInterface

    client = PluginsInterface(plugins_uri=host, retry_for=RETRY_FOR_S, timeout=TIMEOUT_S)
    try:
        yield client
    except BridgeUnavailableError as exc:
        fail(command, f"the plugin host at {host} is not reachable ({_line(exc.details)})", 1)
    except BridgeError as exc:
        fail(command, _line(exc.details) or exc.code.name, 1)
    finally:
        client.close()


def _line(text: str) -> str:
    return " ".join(text.split())


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _echo_json(value: object) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    typer.echo(json.dumps(value, default=_json_default))


def _age(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    seconds = max(0.0, (datetime.now(UTC) - moment).total_seconds())
    if seconds < 120:
        return f"{seconds:.1f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        typer.echo(indent + "  ".join(cells).rstrip())


def _range(channel: ChannelInfo) -> str:
    low, high = channel.min_value, channel.max_value
    if low is None and high is None:
        return ""
    return f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"


def _value(value: ChannelScalar | None) -> str:
    return "-" if value is None else json.dumps(value)


def _print_instance(info: InstanceInfo, readings: Mapping[str, ChannelScalar] | None) -> None:
    fields = [
        ("instance", info.name),
        ("plugin", info.plugin_id),
        ("state", info.state),
        ("restarts", str(info.restart_count)),
        ("interval", f"{info.poll_interval:g}s"),
        ("last poll", _age(info.last_poll_time)),
        ("last error", info.last_error or "-"),
        ("config", json.dumps(info.config, sort_keys=True)),
    ]
    for label, text in fields:
        typer.echo(f"{label:<11}{text}")
    typer.echo("channels:")
    headers = ["ID", "NAME", "DIRECTION", "UNIT", "RANGE", "SAFE"]
    rows = []
    for c in info.channels:
        row = [c.id, c.name, c.direction, c.unit, _range(c), _value(c.safe_value)]
        rows.append(row if readings is None else [*row, _value(readings.get(c.id))])
    _table(headers if readings is None else [*headers, "VALUE"], rows, indent="  ")


def _print_change(info: InstanceInfo, as_json: bool) -> None:
    if as_json:
        _echo_json(info)
    else:
        typer.echo(f"{info.name}: {info.state}")


@plugins_app.command("list")
def list_plugins(host: HostOption = "localhost:50055", as_json: JsonOption = False) -> None:
    """List the plugins the host discovered, with why any failed to load."""
    with _host("revlink plugins list", host) as client:
        plugins = client.list_plugins()
    if as_json:
        _echo_json([dataclasses.asdict(p) for p in plugins])
        return
    rows = [[p.id, p.version, p.name, p.distribution, _line(p.load_error)] for p in plugins]
    _table(["ID", "VERSION", "NAME", "DISTRIBUTION", "LOAD ERROR"], rows)


@plugins_app.command("add")
def add(
    plugin_id: Annotated[str, typer.Argument(help="Plugin id, from `revlink plugins list`.")],
    name: Annotated[str, typer.Option("--name", help="Instance name: [A-Za-z0-9_-], 1-64.")],
    config: Annotated[str, typer.Option("--config", help="Instance config, a JSON object.")] = "{}",
    interval: Annotated[
        float | None,
        typer.Option("--interval", help="Poll interval in seconds (the host's default is 1)."),
    ] = None,
    start: Annotated[
        bool,
        typer.Option(
            "--start/--no-start",
            help="Start polling right away (an added instance is usually wanted running); "
            "--no-start only configures it.",
        ),
    ] = True,
    host: HostOption = "localhost:50055",
    as_json: JsonOption = False,
) -> None:
    """Create an instance of a plugin (config checked against its schema) and start it."""
    command = "revlink plugins add"
    try:
        parsed: Any = json.loads(config)
    except ValueError as exc:
        fail(command, f"--config is not JSON ({exc})", 1)
    if not isinstance(parsed, dict):
        fail(command, f"--config must be a JSON object, not {type(parsed).__name__}", 1)
    with _host(command, host) as client:
        info = client.create_instance(name, plugin_id, parsed, interval, start=start)
    if as_json:
        _echo_json(info)
    else:
        _print_instance(info, None)


@plugins_app.command("status")
def status(
    name: Annotated[
        str | None, typer.Argument(help="One instance, in detail; without it, all.")
    ] = None,
    host: HostOption = "localhost:50055",
    as_json: JsonOption = False,
) -> None:
    """Show every instance, or one with its channels and latest readings."""
    with _host("revlink plugins status", host) as client:
        if name is not None:
            info = client.get_instance_status(name)
            readings = client.read_channels(name)
        else:
            instances = client.list_instances()
    if name is not None:
        if as_json:
            _echo_json({**dataclasses.asdict(info), "readings": readings})
        else:
            _print_instance(info, readings)
    elif as_json:
        _echo_json([dataclasses.asdict(i) for i in instances])
    else:
        headers = ["NAME", "PLUGIN", "STATE", "RESTARTS", "LAST POLL", "LAST ERROR"]
        rows = [
            [i.name, i.plugin_id, i.state, str(i.restart_count), _age(i.last_poll_time), error]
            for i in instances
            for error in [_line(i.last_error) or "-"]
        ]
        _table(headers, rows)


@plugins_app.command("start")
def start(
    name: NameArgument, host: HostOption = "localhost:50055", as_json: JsonOption = False
) -> None:
    """Start an instance polling (it stays started across host restarts)."""
    with _host("revlink plugins start", host) as client:
        info = client.start_instance(name)
    _print_change(info, as_json)


@plugins_app.command("stop")
def stop(
    name: NameArgument, host: HostOption = "localhost:50055", as_json: JsonOption = False
) -> None:
    """Stop an instance: outputs to their safe values, then disconnect."""
    with _host("revlink plugins stop", host) as client:
        info = client.stop_instance(name)
    _print_change(info, as_json)


@plugins_app.command("remove")
def remove(
    name: NameArgument, host: HostOption = "localhost:50055", as_json: JsonOption = False
) -> None:
    """Stop an instance and forget it."""
    with _host("revlink plugins remove", host) as client:
        client.remove_instance(name)
    if as_json:
        _echo_json({"name": name, "removed": True})
    else:
        typer.echo(f"{name}: removed")
