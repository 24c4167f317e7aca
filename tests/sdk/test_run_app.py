"""``revlink app run`` as a real process: health, the loop at work, signals, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import AbstractContextManager

from tests.rig.agent import AgentProcess
from tests.rig.apps import app_healthy, app_process, finish
from tests.rig.bridges import free_port
from tests.rig.platform import Plant, PlatformBridge, wait_for


def run_app(
    bridge: PlatformBridge, agent: AgentProcess, port: int, **env: str
) -> AbstractContextManager[subprocess.Popen[str]]:
    argv = [sys.executable, "-m", "revlink", "app", "run", "tests.support.sample_app"]
    argv += ["--plt-uri", bridge.target, "--healthcheck-port", str(port), "--app-key", "mirror"]
    return app_process(argv, {**os.environ, "DDA_URI": agent.target, **env})


def test_app_runs_until_sigterm(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    port = free_port()
    with run_app(platform_bridge, agent, port) as app:
        wait_for(lambda: app_healthy(port), 20, "the app's health endpoint")
        plant.set_inputs(I_1=True)
        wait_for(lambda: plant.get("O_1") is True, 5, "DI 0 mirrored to DO 0")
        code, output = finish(app)
    assert code == 0
    assert "on_shutdown ran" in output
    assert plant.get("O_1") is False  # leased output back to its safe value


def test_an_app_that_keeps_failing_exits_non_zero(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    with run_app(platform_bridge, agent, free_port(), SAMPLE_APP_FAIL="1") as app:
        code, output = finish(app, stop=False)
    assert code == 1
    assert "always failing, on purpose" in output  # the traceback was logged
    assert "app.failed" in output
