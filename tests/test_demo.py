"""``revlink demo`` starts what exists, shows a live plant, and stops everything together."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx

from revlink.agent.v1 import agent_pb2 as apb
from revlink.agent.v1 import agent_pb2_grpc as apb_grpc
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.agent import agent_status
from tests.rig.bridges import free_port, wait_until_serving
from tests.rig.platform import wait_for


def agent_channels(target: str) -> set[str]:
    with grpc.insecure_channel(target) as channel:
        reply = apb_grpc.DeviceAgentServiceStub(channel).ListChannels(
            apb.ListChannelsRequest(), timeout=5
        )
    return {c.name for c in reply.channels if c.message_count}


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_demo_runs_a_simulated_plant_and_stops_cleanly(tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    cloud = f"127.0.0.1:{free_port()}"
    agent = f"127.0.0.1:{free_port()}"
    plugins = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "revlink", "demo", "--data-dir", str(tmp_path)]
    argv += ["--platform-listen", target, "--cloud-listen", cloud, "--agent-listen", agent]
    argv += ["--plugins-listen", plugins]
    health = free_port()
    argv += ["--app-health-port", str(health)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as demo:
        try:
            assert demo.stdout is not None
            banner = [demo.stdout.readline() for _ in range(8)]
            assert "revlink demo is running" in banner[0]
            # The dashboard comes first: the URL a newcomer opens, then the login to use there.
            assert banner[1].split() == ["dashboard", f"http://{cloud}/"]
            page = httpx.get(f"http://{cloud}/")
            assert page.status_code == 200
            assert '<div id="app">' in page.text
            _, email, _, password = banner[2].split()
            login = httpx.post(
                f"http://{cloud}/api/v1/auth/login", json={"email": email, "password": password}
            )
            assert login.status_code == 200
            assert f"http://{cloud}/docs" in banner[3]
            assert agent in banner[4]
            wait_for(lambda: agent_status(agent).cloud_connected, 15, "the demo agent online")
            assert target in banner[5]
            wait_until_serving(target)
            with grpc.insecure_channel(target) as channel:
                platform = pb_grpc.PlatformServiceStub(channel)
                status = platform.GetSystemStatus(pb.GetSystemStatusRequest(), timeout=5)
                assert status.simulated
                # The plant simulator is driving the image: the RTD temperature moves.
                seen = set()
                deadline = time.monotonic() + 10
                while len(seen) < 3 and time.monotonic() < deadline:
                    seen.add(platform.GetAI(pb.GetAIRequest(pins=[4]), timeout=5).values[0])
                    time.sleep(0.1)
                assert len(seen) >= 3, seen
                assert platform.GetSystemStatus(pb.GetSystemStatusRequest()).picontrol_running
                # The tank level app closes the loop: the tank starts at 20 %, below its start
                # level, so the app switches the pump on.
                wait_for(
                    lambda: platform.GetDO(pb.GetDORequest(pins=[0]), timeout=5).values[0],
                    20,
                    "the tank app to start the pump",
                )
            # Both bundled plugins run, and their readings reach the device agent.
            assert plugins in banner[7]
            wait_for(
                lambda: {"plugin.sim", "plugin.system"} <= agent_channels(agent),
                20,
                "plugin readings at the agent",
            )
            # Both example apps report healthy once they have completed a loop.
            for port in (health, health + 1):
                wait_for(lambda p=port: _healthy(p), 20, f"the app on :{port}")
            demo.send_signal(signal.SIGINT)
            assert demo.wait(30) == 0
        finally:
            demo.kill()
    logs = tmp_path / "logs"
    assert "bridge.stopped" in (logs / "platform.log").read_text()
    assert (tmp_path / "cloud.db").exists()  # the demo's cloud runs on the embedded SQLite
    assert (logs / "sim.log").exists()
    assert "bridge.stopped" in (logs / "plugins.log").read_text()
