"""The plugin host as a real process, with a test plugin distribution installed beside it."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from revlink.plugins.v1 import plugins_pb2 as pb
from revlink.plugins.v1 import plugins_pb2_grpc as pb_grpc
from tests.rig.bridges import BridgeProcess, free_port, python_module_argv, start_bridge

__all__ = [
    "PluginHostProcess",
    "install_test_plugins",
    "module_plugin_host",
    "plugin_site",
    "start_plugin_host",
]

DIST_SOURCE = Path(__file__).resolve().parents[1] / "support" / "plugin_dist"

# Short timeouts and backoffs so failure cases play out in a second, not half a minute.
FAST = {"REVLINK_PLUGIN_CALL_TIMEOUT": "0.5", "REVLINK_PLUGIN_RESTART_BACKOFF_MAX": "1"}


def install_test_plugins(site: Path) -> Path:
    """Install ``revlink-testplugins`` into ``site`` as pip would: package plus .dist-info."""
    shutil.copytree(DIST_SOURCE / "revlink_testplugins", site / "revlink_testplugins")
    info = site / "revlink_testplugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: revlink-testplugins\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[revlink.plugins]\n"
        "counter = revlink_testplugins:Counter\n"
        "stuck = revlink_testplugins:Stuck\n"
        "broken = revlink_testplugins:NoSuchClass\n"
    )
    return site


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``revlink-testplugins`` installed, for a host's PYTHONPATH."""
    return install_test_plugins(tmp_path_factory.mktemp("site"))


@dataclass
class PluginHostProcess:
    process: BridgeProcess
    target: str

    def stub(self, channel: grpc.Channel) -> pb_grpc.PluginHostServiceStub:
        return pb_grpc.PluginHostServiceStub(channel)

    def status(self, name: str) -> pb.InstanceStatus:
        with grpc.insecure_channel(self.target) as channel:
            reply = self.stub(channel).GetInstanceStatus(
                pb.GetInstanceStatusRequest(name=name), timeout=5
            )
        return reply.instance


@contextlib.contextmanager
def start_plugin_host(
    site: Path,
    data_dir: Path,
    log_dir: Path,
    agent_uri: str = "",
    env: Mapping[str, str] | None = None,
    target: str | None = None,
) -> Iterator[PluginHostProcess]:
    target = target or f"127.0.0.1:{free_port()}"
    argv = python_module_argv("revlink", "bridge", "plugins", "--listen", target)
    argv += ["--data-dir", str(data_dir), "--agent-uri", agent_uri]
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    child_env = {**FAST, "PYTHONPATH": path, **(env or {})}
    with start_bridge(argv, target, log_dir, env=child_env) as process:
        yield PluginHostProcess(process, target)


@pytest.fixture(scope="module")
def module_plugin_host(
    plugin_site: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PluginHostProcess]:
    """One plugin host shared by a test module whose tests use distinct instance names."""
    root = tmp_path_factory.mktemp("host")
    with start_plugin_host(plugin_site, root / "data", root / "logs") as process:
        yield process
