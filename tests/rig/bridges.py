"""Fixtures for real bridge processes: free ports, start, wait for SERVING, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["BridgeProcess", "free_port", "free_port_run", "start_bridge", "wait_until_serving"]

# Test bridges serve no Prometheus endpoint unless a test asks for one: their default ports
# are fixed, and many bridges run at once.
QUIET_METRICS = {
    "REVLINK_AGENT_METRICS_LISTEN": "",
    "REVLINK_PLATFORM_METRICS_LISTEN": "",
    "REVLINK_PLUGINS_METRICS_LISTEN": "",
    "REVLINK_MODBUS_METRICS_LISTEN": "",
}

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_run(count: int, step: int) -> int:
    """A port P with P, P + step, ... (``count`` of them) free on 127.0.0.1: for commands
    that derive several ports from one base (``revlink demo --metrics-port-base``)."""
    for _ in range(100):
        base = free_port()
        try:
            with contextlib.ExitStack() as held:
                for i in range(count):
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind(("127.0.0.1", base + i * step))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports found")


def wait_until_serving(target: str, timeout: float = 20.0, service: str = "") -> None:
    """Poll grpc.health.v1 on ``target`` until it answers SERVING, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last_error = f"status {reply.status}"
            except grpc.RpcError as exc:
                last_error = f"{exc.code().name}: {exc.details()}"
            time.sleep(0.05)
    raise TimeoutError(f"{target} not SERVING after {timeout:.0f} s ({last_error})")


@dataclass
class BridgeProcess:
    """A bridge running as a child process, with its output in ``log_path``."""

    process: subprocess.Popen[bytes]
    target: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit code (SIGKILL after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def start_bridge(
    argv: Sequence[str],
    target: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> Iterator[BridgeProcess]:
    """Start ``argv`` (a bridge command), wait until ``target`` is SERVING, stop it after.

    ``argv`` runs with this interpreter's environment plus ``env``; output goes to a log file
    that the failure message quotes, so a bridge that dies on start says why.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"bridge-{len(list(log_dir.iterdir()))}.log"
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **QUIET_METRICS, **(env or {})}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            list(argv), stdout=log_file, stderr=subprocess.STDOUT, env=child_env, cwd=REPO_ROOT
        )
    bridge = BridgeProcess(process=process, target=target, log_path=log_path)
    try:
        try:
            wait_until_serving(target, timeout)
        except TimeoutError as exc:
            bridge.stop(signal.SIGKILL)
            pytest.fail(f"{exc}; exit code {process.returncode}; output:\n{bridge.output()}")
        yield bridge
    finally:
        bridge.stop()


def python_module_argv(module: str, *args: str) -> list[str]:
    """Command line running ``python -m module args...`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
