"""``revlink demo``: every part that exists, on one machine, with a simulated RevPi."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from revlink.commands._common import fail

__all__ = ["demo_command"]


def _wait_serving(target: str, timeout: float = 30.0) -> None:
    import time

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{target} did not become SERVING within {timeout:.0f} s")


def demo_command(
    data_dir: Annotated[
        Path,
        typer.Option(envvar="REVLINK_DATA_DIR", help="Where the demo keeps its files and logs."),
    ] = Path("var/demo"),
    platform_listen: Annotated[
        str,
        typer.Option(envvar="REVLINK_PLATFORM_LISTEN", help="Platform bridge address."),
    ] = "127.0.0.1:50053",
    seed: Annotated[int, typer.Option(help="Seed of the plant simulator.")] = 0,
) -> None:
    """Run the platform bridge on a fresh process image with the plant simulator driving it."""
    from bridges.platform import SAMPLE_CONFIGRSC
    from bridges.platform.image import create_image_file
    from revlink.supervisor import Part, Supervisor

    procimg = create_image_file(data_dir / "procimg.bin")
    supervisor = Supervisor(data_dir / "logs")
    files = ["--procimg", str(procimg), "--configrsc", str(SAMPLE_CONFIGRSC)]
    try:
        supervisor.start(
            Part(
                "platform",
                ["bridge", "platform", *files, "--listen", platform_listen],
                ready=lambda: _wait_serving(platform_listen),
            )
        )
        supervisor.start(Part("sim", ["sim", *files, "--seed", str(seed)]))
    except (TimeoutError, OSError) as exc:
        supervisor.stop_all()
        fail("revlink demo", f"{exc}; see the logs in {data_dir / 'logs'}")
    typer.echo(
        "revlink demo is running (Ctrl-C stops it):\n"
        f"  platform bridge  grpc://{platform_listen}  (revlink.platform.v1.PlatformService)\n"
        f"  plant simulator  drives {procimg} with config {SAMPLE_CONFIGRSC.name}\n"
        f"  logs             {data_dir / 'logs'}/"
    )
    raise typer.Exit(supervisor.run_until_stopped())
