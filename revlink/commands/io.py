"""``revlink io ...``: the platform bridge's IO table and an operator's output takeover.

Outputs have one owner: an output an app wrote under its watchdog lease belongs to that app
until the lease is released or expires, and other writes to it are refused. ``revlink io
takeover`` is the explicit, logged way round that for an operator (a manual test, an
emergency stop): it takes the outputs over under a lease of its own, and gives them back to
their safe values when it ends. It talks to the bridge through the SDK's
:class:`~apps.sdk.platform.PlatformInterface`, as an app does.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from revlink.commands._common import fail

if TYPE_CHECKING:
    from apps.sdk.platform import PlatformInterface
    from apps.sdk.platform_types import IOInfo, Value

__all__ = ["io_app"]

io_app = typer.Typer(
    rich_markup_mode=None,
    help="The platform bridge's IOs and who owns each output.",
    no_args_is_help=True,
)

HOLDER = "operator"
LEASE_TTL_S = 5.0  # a takeover that dies (kill -9) frees its outputs within this
RENEW_EVERY_S = 1.0
# An absent bridge should fail in seconds, not after the SDK's app-friendly ten.
RETRY_FOR_S = 3.0
TIMEOUT_S = 5.0
_TRUE, _FALSE = {"1", "true", "on", "yes"}, {"0", "false", "off", "no"}

UriOption = Annotated[
    str,
    typer.Option(
        "--platform-uri",
        envvar="PLT_URI",
        help="The platform bridge's HOST:PORT.",
        metavar="HOST:PORT",
    ),
]


@contextmanager
def _bridge(command: str, uri: str) -> Iterator[PlatformInterface]:
    """A client of the bridge; a failed call ends the command with one line and exit code 1."""
    from apps.sdk.errors import BridgeError, BridgeUnavailableError
    from apps.sdk.platform import PlatformInterface

    client = PlatformInterface(HOLDER, uri, False, retry_for=RETRY_FOR_S, timeout=TIMEOUT_S)
    try:
        yield client
    except BridgeUnavailableError as exc:
        fail(command, f"the platform bridge at {uri} is not reachable ({_line(exc.details)})", 1)
    except BridgeError as exc:
        fail(command, _line(exc.details) or exc.code.name, 1)
    finally:
        client.close()


def _line(text: str) -> str:
    return " ".join(text.split())


def _expiry(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f"{max(0.0, (moment - datetime.now(UTC)).total_seconds()):.1f}s"


def _text(value: Value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _parse(command: str, info: IOInfo, text: str) -> Value:
    """``--value`` for one output: a bool for bit outputs, an integer for the others."""
    if info.bit_length == 1:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        fail(command, f"--value {text!r}: {info.name} is a bit output, give true or false")
    try:
        return int(text)
    except ValueError:
        fail(command, f"--value {text!r}: {info.name} takes an integer ({info.unit or 'raw'})")


def _stop_on_sigterm() -> None:
    """SIGTERM ends a hold as Ctrl-C does: the lease is released, not left to expire."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@io_app.command("list")
def list_io(
    platform_uri: UriOption = "localhost:50053",
    outputs: Annotated[bool, typer.Option("--outputs", help="Only outputs.")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also status bytes and other OTHER IOs.")
    ] = False,
) -> None:
    """Print the IO table: name, kind, pin, value, and each output's owner and the time its
    lease has left unless renewed."""
    command = "revlink io list"
    with _bridge(command, platform_uri) as bridge:
        ios = [
            io
            for io in bridge.list_io()
            if (show_all or io.kind != "OTHER") and (io.writable or not outputs)
        ]
        read = bridge.get_io(*(io.name for io in ios)) if ios else []
    values = read if isinstance(read, list) else [read]
    rows = [
        [io.name, io.kind, str(io.pin), _text(value), io.owner, _expiry(io.owner_lease_expire_time)]
        for io, value in zip(ios, values, strict=True)
    ]
    _table(["NAME", "KIND", "PIN", "VALUE", "OWNER", "EXPIRES IN"], rows)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@io_app.command("takeover")
def takeover(
    names: Annotated[
        list[str], typer.Argument(help="Outputs by piCtory name, e.g. O_1.", metavar="NAME")
    ],
    value: Annotated[
        str | None,
        typer.Option(
            help="Write this to every named output once they are held: true/false for bit "
            "outputs, an integer (e.g. mV) for analog ones.",
            metavar="V",
            show_default=False,
        ),
    ] = None,
    hold: Annotated[
        float | None,
        typer.Option(
            help="Seconds to hold the outputs; default: until Ctrl-C.",
            min=0,
            metavar="SECONDS",
            show_default=False,
        ),
    ] = None,
    platform_uri: UriOption = "localhost:50053",
    reason: Annotated[
        str, typer.Option(help="Why, for the bridge's log.", metavar="TEXT")
    ] = "operator takeover from the command line",
) -> None:
    """Take outputs over from whichever app owns them.

    Acquires a watchdog lease as holder "operator", takes the named outputs over to it (the
    bridge logs lease.takeover with the previous owners and --reason; their apps' writes are
    refused from then on), writes --value to them if given, and keeps renewing the lease while
    it holds them: until --hold elapses, or Ctrl-C. Then it releases the lease, and the outputs
    go to their safe values (an app that writes them next owns them again). If this command
    is killed, the outputs go to their safe values when the lease expires (5 s).
    """
    command = "revlink io takeover"
    with _bridge(command, platform_uri) as bridge:
        known = {io.name: io for io in bridge.list_io()}
        for name in names:
            if name not in known:
                fail(command, f"no IO named {name!r} (revlink io list shows them)", 1)
            if not known[name].writable:
                fail(command, f"{name} is not an output", 1)
        values = {} if value is None else {n: _parse(command, known[n], value) for n in names}
        _stop_on_sigterm()
        bridge.acquire_lease(LEASE_TTL_S)
        try:
            _hold(command, bridge, names, values, hold, reason)
        finally:
            bridge.release_lease(restore_safe_values=True)
        typer.echo(f"released {' '.join(names)}: back to their safe values")


def _hold(
    command: str,
    bridge: PlatformInterface,
    names: Sequence[str],
    values: dict[str, Value],
    hold: float | None,
    reason: str,
) -> None:
    lease = bridge.lease_id
    for name, previous in bridge.take_over_outputs(names, reason=reason).items():
        typer.echo(f"{name}: taken over from {previous}" if previous else f"{name}: taken over")
    if values:
        bridge.set_io(values)
        typer.echo(" ".join(f"{name}={_text(v)}" for name, v in values.items()))
    until = "Ctrl-C" if hold is None else f"{hold:g} s have passed"
    typer.echo(f"holding {' '.join(names)} as {HOLDER} until {until}")
    deadline = None if hold is None else time.monotonic() + hold
    try:
        while deadline is None or time.monotonic() < deadline:
            left = RENEW_EVERY_S if deadline is None else deadline - time.monotonic()
            time.sleep(max(0.0, min(RENEW_EVERY_S, left)))
            bridge.renew_lease()
            if bridge.lease_id != lease:  # the bridge restarted: what it held is gone
                fail(command, "the platform bridge lost the takeover's lease (it restarted?)", 1)
    except KeyboardInterrupt:
        pass
