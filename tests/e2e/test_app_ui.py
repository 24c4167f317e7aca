"""An app's own UI operated from the dashboard in a real browser: a pydoover-0.x-style app
(``tests/e2e/ui_app.py``, async, awaiting plain names) on a real platform bridge and agent,
the real cloud, and the page. A press on the app's action runs its callback on the device and
the app's new state comes back to the page; the same with the device offline (pending, then
applied once it is back, exactly once); an edited config reaches the running app; an invalid
one is refused naming the field; a viewer sees the UI without controls."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bridges.platform.image import create_image_file
from tests.e2e.conftest import Stack
from tests.e2e.harness import poll, run_script, start_script
from tests.rig.agent import AgentProcess, agent_status, start_agent
from tests.rig.bridges import free_port, start_bridge
from tests.rig.cloud import CloudServer, unique
from tests.rig.platform import platform_argv

APP_KEY = "tank_monitor"


def apps_of(cloud: CloudServer, device_id: uuid.UUID) -> list[dict[str, Any]]:
    with cloud.http(cloud.admin_token()) as client:
        found: list[dict[str, Any]] = client.get(f"/api/v1/devices/{device_id}/apps").json()
    return found


def refills_in_cloud(cloud: CloudServer, device_id: uuid.UUID) -> Any:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/channels/tag_values/aggregate")
    return reply.json()["payload"].get(APP_KEY, {}).get("refills")


class SwitchableAgent:
    """The device's agent, restarted with or without the cloud: same queue, same address, so
    the app keeps talking to it while the cloud sees the device come and go."""

    def __init__(self, data: Path, logs: Path, cloud: CloudServer, token: str) -> None:
        self.data, self.logs, self.cloud, self.token = data, logs, cloud, token
        self.target = f"127.0.0.1:{free_port()}"
        self._running = contextlib.ExitStack()

    def start(self, *, online: bool) -> AgentProcess:
        self._running.close()
        url, token = (self.cloud.base_url, self.token) if online else (None, None)
        return self._running.enter_context(
            start_agent(self.data, self.logs, url, token, target=self.target)
        )

    def close(self) -> None:
        self._running.close()


@contextlib.contextmanager
def running_app(agent: AgentProcess, platform: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "APP_KEY": APP_KEY,
        "DDA_URI": agent.target,
        "PLT_URI": platform,
        "HEALTHCHECK_PORT": str(free_port()),
        "REVLINK_LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        app = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.ui_app"], env=env, stdout=out, stderr=out
        )
    try:
        yield app
    finally:
        app.terminate()
        try:
            app.wait(15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def test_an_apps_ui_is_operated_from_the_dashboard_online_and_offline(
    stack: Stack, tmp_path: Path
) -> None:
    cloud = stack.cloud
    device_id, token = cloud.device(unique("e2e-apps"))
    agents = SwitchableAgent(tmp_path / "agent", tmp_path / "logs", cloud, token)
    procimg = create_image_file(tmp_path / "procimg.bin")
    platform = f"127.0.0.1:{free_port()}"
    app_log = tmp_path / "app.log"
    with (
        start_bridge(platform_argv(procimg, platform), platform, tmp_path / "logs"),
        contextlib.closing(agents),
    ):
        agent = agents.start(online=True)
        with running_app(agent, platform, app_log) as app:
            poll(
                lambda: any(a["ui"] and a["config_schema"] for a in apps_of(cloud, device_id)),
                30,
                "the app's UI in the cloud",
            )
            env = {**stack.env("operator"), "E2E_APPS_DEVICE_ID": str(device_id)}
            run = start_script("appui.e2e.ts", "appui", env)
            try:
                run.wait_for_signal("go-offline", 90)
                # The page showed the press's new UI state; the app's tag commit of the same
                # press is a record of its own and may still be on its way up.
                poll(lambda: refills_in_cloud(cloud, device_id) == 1, 15, "the first refill")
                agents.start(online=False)
                run.answer("go-offline")
                run.wait_for_signal("pressed-offline", 60)
                assert refills_in_cloud(cloud, device_id) == 1
                agents.start(online=True)
                poll(lambda: agent_status(agents.target).cloud_connected, 20, "back online")
                run.answer("pressed-offline")
            finally:
                out = run.finish(120)
            assert run.process.returncode == 0, f"browser script failed:\n{out}"
            assert app.poll() is None, f"the app stopped:\n{app_log.read_text()[-3000:]}"
            # Exactly once: two presses, two refills (the one made offline ran once).
            poll(lambda: refills_in_cloud(cloud, device_id) == 2, 15, "two refills")
            viewer_env = {**stack.env("viewer"), "E2E_APPS_DEVICE_ID": str(device_id)}
            run_script("appui-viewer.e2e.ts", "appui-viewer", viewer_env)
        with cloud.http(cloud.admin_token()) as client:
            writes = client.get(
                f"/api/v1/devices/{device_id}/channel-writes", params={"channel": "ui_cmds"}
            ).json()
    assert writes, "the presses were channel writes"
    assert {w["state"] for w in writes} == {"applied"}
    assert httpx.get(f"{cloud.base_url}/healthz", timeout=5).status_code == 200
