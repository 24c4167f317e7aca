"""The README's "Write your own app" steps, run as written: its app file, its commands and its
unit test, copied out of README.md into a directory outside the repository."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rig.agent import AgentProcess
from tests.rig.platform import Plant, PlatformBridge, wait_for

README = Path(__file__).resolve().parents[1] / "README.md"
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Section:
    app: str
    commands: list[str]
    test: str


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture(scope="module")
def section() -> Section:
    text = README.read_text()
    body = text[text.index("## Write your own app") :]
    body = body[: body.index("\n## ", 1)]
    python = _blocks(body, "python")
    app = next(b for b in python if b.startswith("# mirror.py"))
    test = next(b for b in python if b.startswith("# test_mirror.py"))
    shell = next(b for b in _blocks(body, "sh") if "revlink app run mirror" in b)
    commands = [line for line in shell.splitlines() if line and not line.startswith("#")]
    return Section(app, commands, test)


@pytest.fixture
def workdir(tmp_path: Path, section: Section) -> Path:
    """A directory outside the repository holding the README's files."""
    (tmp_path / "mirror.py").write_text(section.app)
    (tmp_path / "test_mirror.py").write_text(section.test)
    return tmp_path


def _env(agent: AgentProcess, bridge: PlatformBridge) -> dict[str, str]:
    # The README's flags as written; where the bridges are comes from pydoover's variables,
    # as the demo's ports are the defaults the commands rely on.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "APP_KEY")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # `source .venv/bin/activate`
    env["DDA_URI"], env["PLT_URI"] = agent.target, bridge.target
    return env


@pytest.fixture
def started(
    workdir: Path, agent: AgentProcess, platform_bridge: PlatformBridge
) -> tuple[Path, dict[str, str]]:
    return workdir, _env(agent, platform_bridge)


@pytest.mark.parametrize("index", [0, 1], ids=["revlink-app-run", "python-mirror-py"])
def test_the_commands_run_the_app_as_written(
    section: Section,
    started: tuple[Path, dict[str, str]],
    plant: Plant,
    index: int,
) -> None:
    workdir, env = started
    argv = shlex.split(section.commands[index])
    with subprocess.Popen(
        argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as app:
        try:
            plant.set_inputs(InputValue_1=6000)
            wait_for(lambda: plant.get("O_3") is True, 20, "the lamp on DO 2")
            plant.set_inputs(InputValue_1=2000)
            wait_for(lambda: plant.get("O_3") is False, 10, "the lamp off")
            # The README's port is taken now: a second copy says so in one line, exit 2.
            second = subprocess.run(
                argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=60
            )
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert "49210" in lines[0]
            assert "--healthcheck-port" in lines[0]
        finally:
            app.send_signal(signal.SIGTERM)
            output, _ = app.communicate(timeout=30)
    assert app.returncode == 0, output


def test_the_unit_test_example_passes_outside_the_repository(workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mirror.py"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
