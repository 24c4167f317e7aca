"""Starting ``revlink bridge agent`` as a real process for tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from tests.rig.bridges import BridgeProcess, free_port, python_module_argv, start_bridge

__all__ = ["AgentProcess", "agent", "agent_status", "start_agent"]


@dataclass
class AgentProcess:
    process: BridgeProcess
    target: str
    metrics_url: str


def agent_status(target: str) -> pb.GetStatusResponse:
    with grpc.insecure_channel(target) as channel:
        return pb_grpc.DeviceAgentServiceStub(channel).GetStatus(pb.GetStatusRequest(), timeout=5)


@contextlib.contextmanager
def start_agent(
    data_dir: Path,
    log_dir: Path,
    cloud_url: str | None = None,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
    target: str | None = None,
) -> Iterator[AgentProcess]:
    target = target or f"127.0.0.1:{free_port()}"
    metrics = f"127.0.0.1:{free_port()}"
    argv = python_module_argv("revlink", "bridge", "agent", "--listen", target)
    argv += ["--data-dir", str(data_dir)]
    if cloud_url:
        argv += ["--cloud-url", cloud_url]
    child_env = {"REVLINK_AGENT_METRICS_LISTEN": metrics, "REVLINK_LOG_FORMAT": "json"}
    if token:
        child_env["REVLINK_DEVICE_TOKEN"] = token
    with start_bridge(argv, target, log_dir, env={**child_env, **(env or {})}) as process:
        yield AgentProcess(process, target, f"http://{metrics}/metrics")


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """A fresh agent for one test, offline (no cloud)."""
    with start_agent(tmp_path / "agent", tmp_path / "logs") as process:
        yield process
