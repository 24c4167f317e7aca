"""``revlink app run`` as a real process: health, the loop at work, signals, exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.rig.agent import AgentProcess, start_agent
from tests.rig.bridges import free_port
from tests.rig.platform import Plant, PlatformBridge, wait_for


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    with start_agent(tmp_path / "agent", tmp_path / "logs") as process:
        yield process


def run_app(
    bridge: PlatformBridge, agent: AgentProcess, port: int, **env: str
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "revlink", "app", "run", "tests.support.sample_app"]
    argv += ["--plt-uri", bridge.target, "--healthcheck-port", str(port), "--app-key", "mirror"]
    return subprocess.Popen(
        argv,
        env={**os.environ, "DDA_URI": agent.target, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_app_runs_until_sigterm(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    port = free_port()
    with run_app(platform_bridge, agent, port) as app:
        try:
            wait_for(lambda: healthy(port), 20, "the app's health endpoint")
            plant.set_inputs(I_1=True)
            wait_for(lambda: plant.get("O_1") is True, 5, "DI 0 mirrored to DO 0")
            app.send_signal(signal.SIGTERM)
            assert app.wait(20) == 0
        finally:
            app.kill()
        output = app.stdout.read() if app.stdout else ""
    assert "on_shutdown ran" in output
    assert plant.get("O_1") is False  # leased output back to its safe value


def test_an_app_that_keeps_failing_exits_non_zero(
    platform_bridge: PlatformBridge, agent: AgentProcess
) -> None:
    with run_app(platform_bridge, agent, free_port(), SAMPLE_APP_FAIL="1") as app:
        try:
            assert app.wait(30) == 1
        finally:
            app.kill()
        output = app.stdout.read() if app.stdout else ""
    assert "always failing, on purpose" in output  # the traceback was logged
    assert "app.failed" in output
