"""The newcomer's path: ``revlink demo`` prints a dashboard URL and a login; the browser opens
it, signs in and watches the demo tank's level move on the live page."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import poll, run_script
from tests.rig.bridges import free_port, free_port_run


class Banner:
    """The demo's stdout, read line by line in a thread (a silent demo cannot hang us)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: list[str] = []
        self._stdout = process.stdout
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        """After the process has ended: finish reading and close the pipe."""
        self._reader.join(10)
        self._stdout.close()

    def field(self, name: str) -> list[str] | None:
        """The words after ``name`` on the banner line that starts with it."""
        for line in list(self.lines):
            words = line.split()
            if words and words[0] == name:
                return words[1:]
        return None


def test_demo_banner_leads_to_a_live_tank_level(browser_ready: None, tmp_path: Path) -> None:
    cloud = f"127.0.0.1:{free_port()}"
    health = free_port()
    argv = [sys.executable, "-m", "revlink", "demo", "--data-dir", str(tmp_path)]
    argv += ["--cloud-listen", cloud, "--platform-listen", f"127.0.0.1:{free_port()}"]
    argv += ["--agent-listen", f"127.0.0.1:{free_port()}"]
    argv += ["--plugins-listen", f"127.0.0.1:{free_port()}", "--app-health-port", str(health)]
    argv += ["--meter-listen", f"127.0.0.1:{free_port()}"]
    argv += ["--metrics-port-base", str(free_port_run(3, step=2))]
    demo = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    banner = Banner(demo)
    try:
        try:
            poll(
                lambda: demo.poll() is not None or banner.field("logs") is not None,
                90,
                "the demo's banner",
            )
        except TimeoutError:
            pytest.fail("no banner from revlink demo:\n" + "\n".join(banner.lines))
        assert demo.poll() is None, "revlink demo exited:\n" + "\n".join(banner.lines)
        text = "\n".join(banner.lines)
        dashboard = banner.field("dashboard")
        login = banner.field("login")
        assert dashboard, f"the banner has no 'dashboard URL' line:\n{text}"
        assert login, f"the banner has no login line:\n{text}"
        assert len(login) >= 3, f"the login line is not 'login EMAIL password PW':\n{text}"
        assert login[1] == "password", f"the login line is not 'login EMAIL password PW':\n{text}"
        url, email, password = dashboard[0], login[0], login[2]
        assert url.startswith(f"http://{cloud}"), f"dashboard {url} is not on the demo cloud"

        # The level sensor appears once the tank app has published (its key names it).
        token = httpx.post(
            f"http://{cloud}/api/v1/auth/login", json={"email": email, "password": password}
        ).json()["access_token"]
        found: dict[str, str] = {}

        def level_sensor() -> bool:
            reply = httpx.get(
                f"http://{cloud}/api/v1/sensors", headers={"Authorization": f"Bearer {token}"}
            )
            found.update({s["key"]: s["public_id"] for s in reply.json() if s["key"]})
            # The simulated Modbus meter's power, read by the plugin host, is there too.
            return {"tank_level.level_percent", "plugin.meter.power"} <= found.keys()

        poll(level_sensor, 60, "the demo's tank level and meter power sensors", every=0.5)
        run_script(
            "demo.e2e.ts",
            "demo",
            {
                "E2E_BASE_URL": f"http://{cloud}",
                "E2E_DASHBOARD_URL": url,
                "E2E_EMAIL": email,
                "E2E_PASSWORD": password,
                "E2E_LEVEL_SENSOR": found["tank_level.level_percent"],
                "E2E_POWER_SENSOR": found["plugin.meter.power"],
            },
        )
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        code: int | None
        try:
            code = demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
            code = None
        banner.close()
    assert code == 0, f"revlink demo did not stop cleanly on SIGINT (exit {code})"
