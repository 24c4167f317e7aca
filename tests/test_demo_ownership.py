"""Beside ``revlink demo``, a second app cannot take the tank's pump from ``tank_level``."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import grpc

from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.bridges import REPO_ROOT, free_port, free_port_run, wait_until_serving
from tests.rig.platform import wait_for


def owner(platform: pb_grpc.PlatformServiceStub, name: str) -> str:
    ios = platform.ListIO(pb.ListIORequest(), timeout=5).ios
    return next(str(io.owner) for io in ios if io.name == name)


def lines(path: Path, event: str) -> list[str]:
    """The lines of a process's log that record ``event`` (console or JSON format)."""
    return [line for line in path.read_text(errors="replace").splitlines() if event in line]


def test_a_second_app_beside_the_demo_cannot_take_the_pump(tmp_path: Path) -> None:
    target, agent = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "revlink", "demo", "--data-dir", str(tmp_path / "demo")]
    argv += ["--platform-listen", target, "--agent-listen", agent]
    argv += ["--cloud-listen", f"127.0.0.1:{free_port()}"]
    argv += ["--plugins-listen", f"127.0.0.1:{free_port()}"]
    argv += ["--app-health-port", str(free_port_run(2, step=1))]  # tank_level, pulse_meter
    argv += ["--metrics-port-base", str(free_port_run(3, step=2))]  # agent, platform, plugins
    argv += ["--meter-listen", f"127.0.0.1:{free_port()}"]
    thief_argv = [sys.executable, "-m", "revlink", "app", "run", "tests.support.pump_thief"]
    thief_argv += ["--app-key", "thief", "--plt-uri", target, "--dda-uri", agent]
    thief_argv += ["--healthcheck-port", str(free_port())]
    thief_log = tmp_path / "thief.log"
    logs = tmp_path / "demo" / "logs"
    with (
        (tmp_path / "demo.out").open("w") as out,
        subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT) as demo,
    ):
        try:
            wait_until_serving(target, 60)
            with grpc.insecure_channel(target) as channel:
                platform = pb_grpc.PlatformServiceStub(channel)
                # tank_level writes the pump in its setup and every loop, under its lease.
                wait_for(lambda: owner(platform, "O_1") == "tank_level", 60, "tank_level's pump")
                with (
                    thief_log.open("w") as thief_out,
                    subprocess.Popen(
                        thief_argv,
                        stdout=thief_out,
                        stderr=subprocess.STDOUT,
                        cwd=REPO_ROOT,
                    ) as thief,
                ):
                    try:
                        wait_for(
                            lambda: len(lines(thief_log, "app.output_owned")) >= 3,
                            60,
                            "the thief's writes refused three times",
                        )
                        assert owner(platform, "O_1") == "tank_level"
                        assert thief.poll() is None  # refused, logged, still running
                        thief.send_signal(signal.SIGTERM)
                        assert thief.wait(30) == 0
                    finally:
                        thief.kill()
                assert owner(platform, "O_1") == "tank_level"
            demo.send_signal(signal.SIGINT)
            assert demo.wait(60) == 0
        finally:
            demo.kill()
    refusal = lines(thief_log, "app.output_owned")[0]
    for words in ("warning", "O_1 is owned by 'tank_level'", "refused a write from 'thief'"):
        assert words in refusal, refusal
    # The bridge logged it too; tank_level never lost a write.
    bridge = lines(logs / "platform.log", "output.write_refused")[0]
    for words in ("warning", "O_1", "thief", "tank_level"):
        assert words in bridge, bridge
    tank = (logs / "tank_level.log").read_text()
    assert "app.output_owned" not in tank
    assert "app.loop_failed" not in tank
