"""What the dashboard's browser tests and benchmark share: the browser check, the script runner,
and a device that streams through a real agent.

The browser scripts live in ``frontend/e2e`` (TypeScript, run by vitest, driving Debian's
chromium through playwright-core). Python owns the stack and hands it to a script through
``E2E_*`` environment variables; a script that needs the stack to act while it watches (start
an agent, publish a burst) writes a file in its output folder and waits for the answer file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from apps.sdk.agent import DeviceAgentInterface
from tests.rig.agent import AgentProcess, agent_status, start_agent
from tests.rig.cloud import CloudServer

__all__ = [
    "CHROMIUM",
    "FRONTEND",
    "OUTPUT_ROOT",
    "Device",
    "ScriptRun",
    "browser_problems",
    "poll",
    "run_script",
    "start_script",
    "streaming_device",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
FRONTEND = REPO_ROOT / "frontend"
OUTPUT_ROOT = FRONTEND / "e2e-output"
CHROMIUM = Path("/usr/bin/chromium")
VITEST = FRONTEND / "node_modules" / ".bin" / "vitest"
VITEST_CONFIG = "e2e/vitest.config.ts"


def browser_problems() -> list[str]:
    """What is missing for the browser tests to run (empty when all is there)."""
    problems = []
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"{CHROMIUM} not found (apt-get install chromium)")
    for package in ("playwright-core", "vitest"):
        if not (FRONTEND / "node_modules" / package / "package.json").exists():
            problems.append(f"frontend/node_modules/{package} missing (cd frontend && npm ci)")
    if not (FRONTEND / "dist" / "index.html").exists():
        problems.append("frontend/dist/index.html missing (cd frontend && npm run build)")
    return problems


def poll(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.1) -> None:
    """Wait until ``predicate()`` is truthy; raise TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class ScriptRun:
    """A browser script running under vitest; its output folder is where it leaves files."""

    script: str
    process: subprocess.Popen[str]
    output_dir: Path
    _output: str | None = None

    def signal_path(self, name: str) -> Path:
        return self.output_dir / f"{name}.signal"

    def wait_for_signal(self, name: str, timeout: float) -> dict[str, Any]:
        """Wait for the script to write ``<name>.signal`` (JSON); fail fast if it exits."""
        path = self.signal_path(name)
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.script} exited ({self.process.returncode}) before signalling "
                    f"{name!r}:\n{self.finish(0)}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.script} did not signal {name!r} within {timeout} s")
            time.sleep(0.05)
        data: dict[str, Any] = json.loads(path.read_text() or "{}")
        return data

    def answer(self, name: str, data: Mapping[str, Any] | None = None) -> None:
        """Write ``<name>.answer`` (JSON) for the script to pick up."""
        path = self.output_dir / f"{name}.answer"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(data or {})))
        tmp.replace(path)

    def finish(self, timeout: float) -> str:
        """Wait for the script to end (kill it after ``timeout``); its whole output."""
        if self._output is None:
            try:
                out, _ = self.process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                out, _ = self.process.communicate()
                out += f"\n[killed after {timeout} s]"
            self._output = out
        return self._output


def start_script(script: str, scenario: str, env: Mapping[str, str]) -> ScriptRun:
    """Start ``frontend/e2e/<script>`` under vitest; screenshots go to e2e-output/<scenario>."""
    output_dir = OUTPUT_ROOT / scenario
    output_dir.mkdir(parents=True, exist_ok=True)
    for stale in output_dir.iterdir():
        if stale.is_file():
            stale.unlink()
    child_env = {
        **os.environ,
        "E2E_OUTPUT_DIR": str(output_dir),
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        **env,
    }
    argv = [str(VITEST), "run", "--config", VITEST_CONFIG, f"e2e/{script}"]
    process = subprocess.Popen(
        argv,
        cwd=FRONTEND,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return ScriptRun(script, process, output_dir)


def run_script(
    script: str, scenario: str, env: Mapping[str, str], timeout: float = 90
) -> ScriptRun:
    """Run a browser script to its end; raise AssertionError with vitest's output if it fails."""
    run = start_script(script, scenario, env)
    check(run, timeout)
    return run


def check(run: ScriptRun, timeout: float) -> str:
    out = run.finish(timeout)
    if run.process.returncode != 0:
        raise AssertionError(f"browser script {run.script} failed:\n{out}")
    return out


@dataclass
class Device:
    """A registered device whose real agent streams ``tank`` readings and obeys ``pump``."""

    id: uuid.UUID
    name: str
    agent: AgentProcess
    dda: DeviceAgentInterface
    commands: list[dict[str, Any]] = field(default_factory=list)
    published: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.commands)


def tank_reading(tick: int) -> dict[str, float]:
    """A reading that differs from the previous one at every tick."""
    return {
        "level": round(50 + 30 * math.sin(tick / 7) + tick % 3 * 0.01, 2),
        "temperature": round(21 + 3 * math.cos(tick / 11) + tick % 5 * 0.01, 2),
    }


@contextlib.contextmanager
def streaming_device(
    cloud: CloudServer,
    data_dir: Path,
    log_dir: Path,
    name: str,
    period: float = 0.3,
) -> Iterator[Device]:
    """Register ``name``, run a real agent for it, publish ``tank`` every ``period`` s.

    The ``pump`` channel's subscriber records each command it receives and publishes it back
    as the channel aggregate ``{"last_command": payload}``, so the dashboard can show it too.
    """
    device_id, token = cloud.device(name)
    with start_agent(data_dir, log_dir, cloud_url=cloud.base_url, token=token) as agent:
        poll(lambda: agent_status(agent.target).cloud_connected, 20, "the agent to reach the cloud")
        dda = DeviceAgentInterface("e2e-tank", agent.target)
        device = Device(device_id, name, agent, dda)

        def on_command(channel: str, payload: dict[str, Any]) -> None:
            with device._lock:
                device.commands.append(payload)
            dda.publish_to_channel(channel, {"last_command": payload}, record_log=False)

        stop = threading.Event()

        def publish() -> None:
            tick = 0
            while not stop.is_set():
                reading = tank_reading(tick)
                try:
                    dda.publish_to_channel("tank", reading, aggregate={"mode": "auto", **reading})
                except Exception:  # the agent stopping at teardown; nothing to report
                    if stop.is_set():
                        return
                    raise
                device.published += 1
                tick += 1
                stop.wait(period)

        try:
            dda.publish_to_channel("pump", {"last_command": "none yet"}, record_log=False)
            dda.add_subscription("pump", on_command, events=("command",))
            if not dda.wait_for_channels_sync(["pump"], timeout=10):
                raise TimeoutError("the pump subscription did not sync")
            publisher = threading.Thread(target=publish, name="e2e-publisher", daemon=True)
            publisher.start()
            try:
                yield device
            finally:
                stop.set()
                publisher.join(10)
        finally:
            dda.close()


def sensor_ids(base_url: str, token: str, device_id: uuid.UUID, keys: list[str]) -> dict[str, str]:
    """Wait until the cloud has registered the device's sensors ``keys``; key → public_id."""
    found: dict[str, str] = {}

    def all_there() -> bool:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as c:
            reply = c.get("/api/v1/sensors", params={"device_id": str(device_id)})
            reply.raise_for_status()
            found.update({s["key"]: s["public_id"] for s in reply.json() if s["key"] in keys})
        return set(found) == set(keys)

    poll(all_there, 20, f"sensors {keys}", every=0.2)
    return found
