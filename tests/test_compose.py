"""The Compose files and the image, checked without a Docker engine.

Every service runs a real ``revlink`` command, every variable it sets is one the code reads,
every app has a healthcheck on its own port, and every secret it asks for is documented.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridges.agent.settings import AgentSettings
from bridges.platform.settings import PlatformSettings
from bridges.plugin_host.settings import PluginHostSettings
from cloud.core.config import CloudSettings

ROOT = Path(__file__).resolve().parents[1]
FILES = ["docker-compose.device.yml", "docker-compose.cloud.yml"]
SDK_VARIABLES = {"APP_KEY", "DDA_URI", "PLT_URI", "PLUGINS_URI", "CONFIG_FP", "HEALTHCHECK_PORT"}
SDK_VARIABLES |= {"DEBUG", "REVLINK_BRIDGE_TOKEN"}
LOG_VARIABLES = {"REVLINK_LOG_FORMAT", "REVLINK_LOG_LEVEL"}


def known_variables() -> set[str]:
    names = SDK_VARIABLES | LOG_VARIABLES
    for settings in (PlatformSettings, AgentSettings, PluginHostSettings, CloudSettings):
        names |= {f"REVLINK_{field.upper()}" for field in settings.model_fields}
    return names


def services() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name in FILES:
        document = yaml.safe_load((ROOT / name).read_text())
        for service, spec in document["services"].items():
            found.append((name, service, spec))
    return found


REVLINK_SERVICES = [s for s in services() if "revlink" in str(s[2].get("image", ""))]


@pytest.mark.parametrize(("file", "service", "spec"), REVLINK_SERVICES)
def test_each_service_runs_a_real_command(file: str, service: str, spec: dict[str, Any]) -> None:
    command = spec["command"]
    if command[:2] == ["app", "run"]:
        module = importlib.import_module(command[2])
        assert any(
            getattr(v, "main_loop", None) for v in vars(module).values() if isinstance(v, type)
        )
        return
    cut = next((i for i, arg in enumerate(command) if arg.startswith("--")), len(command))
    result = subprocess.run(
        [sys.executable, "-m", "revlink", *command[:cut], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"{file}:{service}: {result.stderr}"
    for flag in command[cut::2]:
        assert flag in result.stdout, f"{file}:{service}: unknown flag {flag}"


@pytest.mark.parametrize(("file", "service", "spec"), REVLINK_SERVICES)
def test_every_variable_is_one_the_code_reads(
    file: str, service: str, spec: dict[str, Any]
) -> None:
    unknown = set(spec.get("environment", {})) - known_variables()
    assert not unknown, f"{file}:{service} sets variables nothing reads: {sorted(unknown)}"


def test_apps_have_healthchecks_on_their_own_ports() -> None:
    ports = []
    for _, service, spec in REVLINK_SERVICES:
        if spec["command"][:2] == ["app", "run"]:
            port = spec["environment"]["HEALTHCHECK_PORT"]
            assert f"127.0.0.1:{port}/" in " ".join(spec["healthcheck"]["test"]), service
            ports.append(port)
    assert len(ports) == len(set(ports)) >= 2


def test_required_secrets_are_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in FILES:
        for variable in re.findall(r"\$\{(\w+):\?", (ROOT / name).read_text()):
            assert variable in readme, f"{variable} ({name}) is not in the README"


def test_the_image_holds_every_package() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]["packages"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile
    assert "--require-hashes -r requirements.lock" in dockerfile


def test_the_image_holds_the_built_dashboard() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stage = re.search(r"FROM node:\S+ AS (\w+)\n(.*?)\nFROM ", dockerfile, re.S)
    assert stage, "no node stage builds the dashboard"
    name, steps = stage.groups()
    assert "COPY frontend/package.json frontend/package-lock.json" in steps
    assert "RUN npm ci" in steps
    assert "RUN npm run build" in steps
    copied = re.search(rf"COPY --from={name} /build/dist (\S+)", dockerfile)
    assert copied, "the final image does not take the build"
    served = re.search(r"REVLINK_DASHBOARD_DIR=(\S+)", dockerfile)
    assert served
    workdir = re.findall(r"WORKDIR (\S+)", dockerfile)[-1]
    assert served.group(1) == f"{workdir}/{copied.group(1).removeprefix('./')}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "frontend" not in ignored
    assert {"frontend/node_modules", "frontend/dist"} <= set(ignored)
