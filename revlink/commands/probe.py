"""``revlink probe``: one health check, for container healthchecks (no curl or grpc_health_probe).

Exit 0 when the target is healthy (a gRPC health ``SERVING``, an HTTP 2xx), else 1 with a
one-line reason on stderr.
"""

from __future__ import annotations

from typing import Annotated

import typer

from revlink.commands._common import fail

__all__ = ["probe_app"]

probe_app = typer.Typer(
    rich_markup_mode=None,
    help="Check that a part is healthy: exit 0 if so, else 1 with the reason.",
    no_args_is_help=True,
)

TimeoutOption = Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the answer.")]


@probe_app.command("grpc")
def probe_grpc(
    target: Annotated[str, typer.Argument(help="HOST:PORT or unix:PATH of a bridge.")],
    service: Annotated[
        str, typer.Option(help="Service to ask about; empty asks about the whole server.")
    ] = "",
    timeout: TimeoutOption = 3.0,
) -> None:
    """Ask grpc.health.v1 whether TARGET is SERVING (every bridge answers it, token or not)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    command = "revlink probe grpc"
    request = health_pb2.HealthCheckRequest(service=service)
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(request, timeout=timeout)
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()
            if code == grpc.StatusCode.NOT_FOUND and not details:
                details = f"the server has no service {service!r}"
            fail(command, f"{target}: {code.name}" + (f": {details}" if details else ""), code=1)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        fail(command, f"{target}: {status}", code=1)
    typer.echo(f"{target} {status}")


@probe_app.command("http")
def probe_http(
    url: Annotated[str, typer.Argument(help="http(s):// URL, e.g. an app's health endpoint.")],
    timeout: TimeoutOption = 3.0,
) -> None:
    """GET URL and expect a 2xx answer (redirects are followed)."""
    import urllib.error
    import urllib.request

    command = "revlink probe http"
    if not url.startswith(("http://", "https://")):
        fail(command, f"{url}: not an http:// or https:// URL", code=1)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        fail(command, f"{url}: HTTP {exc.code} {exc.reason}", code=1)
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        fail(command, f"{url}: {reason}", code=1)
    if not 200 <= status < 300:
        fail(command, f"{url}: HTTP {status}", code=1)
    typer.echo(f"{url} HTTP {status}")
