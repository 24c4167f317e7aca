"""``revlink demo`` starts what exists, shows a live plant, and stops everything in order."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import httpx

from revlink.agent.v1 import agent_pb2 as apb
from revlink.agent.v1 import agent_pb2_grpc as apb_grpc
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.agent import agent_status
from tests.rig.bridges import free_port, free_port_run, wait_until_serving
from tests.rig.platform import wait_for


def agent_channels(target: str) -> set[str]:
    with grpc.insecure_channel(target) as channel:
        reply = apb_grpc.DeviceAgentServiceStub(channel).ListChannels(
            apb.ListChannelsRequest(), timeout=5
        )
    return {c.name for c in reply.channels if c.message_count}


def metric_samples(url: str) -> list[str]:
    """The sample lines of a Prometheus text page; none when nothing answers there."""
    try:
        page = httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return []
    assert page.status_code == 200, url
    return [line for line in page.text.splitlines() if line and not line.startswith("#")]


CONSOLE_LINE = re.compile(r"^\S+ \[(?P<level>\w+)\s*\] (?P<event>\S+)")


def log_records(path: Path) -> list[dict[str, Any]]:
    """Every line of a part's log as a record with a level and an event.

    Lines are JSON (REVLINK_LOG_FORMAT=json) or, from the apps, whose SDK logs in the console
    format whatever the variable says, ``<time> [<level>] <event> ...``. A line that is
    neither (a traceback, a stray print, a C library's message) counts as an error, so that
    it cannot go unnoticed.
    """
    records: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            match = CONSOLE_LINE.match(line)
            record = match.groupdict() if match else {"level": "error", "event": "?"}
        if not isinstance(record, dict):
            record = {"level": "error", "event": "?"}
        records.append({**record, "line": line})
    return records


# The energy meter's channels that become sensors (numbers; its relay and alarm are booleans),
# with the units and names the meter instance declares.
METER_SENSORS = {
    "plugin.meter.voltage": ("V", "Voltage"),
    "plugin.meter.current": ("A", "Current"),
    "plugin.meter.power": ("W", "Active power"),
    "plugin.meter.frequency": ("Hz", "Frequency"),
    "plugin.meter.energy": ("kWh", "Energy"),
    "plugin.meter.temperature": ("degC", "Meter temperature"),
    "plugin.meter.power_limit": ("W", "Power limit"),
}


def meter_sensors(cloud: str, token: str, device_id: str) -> dict[str, tuple[str, str]]:
    """The demo device's ``plugin.meter.*`` sensors in the cloud: (unit, name) by key."""
    reply = httpx.get(
        f"http://{cloud}/api/v1/devices/{device_id}/sensors",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert reply.status_code == 200, reply.text
    return {
        s["key"]: (s["unit"], s["name"])
        for s in reply.json()
        if (s["key"] or "").startswith("plugin.meter.")
    }


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _troubles(supervisor_log: Path, logs: Path) -> str:
    """The supervisor's warnings and errors, and every part's errors, for a failure's report."""
    lines = [
        r["line"]
        for r in log_records(supervisor_log)
        if r["level"] in ("warning", "error", "critical")
    ]
    for path in sorted(logs.glob("*.log")):
        bad = [r["line"] for r in log_records(path) if r["level"] in ("error", "critical")]
        lines += [f"{path.name}: {line}" for line in bad[-5:]]
    return "\n".join(lines) or "no part logged a warning or an error"


def test_demo_runs_a_simulated_plant_and_stops_cleanly(tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    cloud = f"127.0.0.1:{free_port()}"
    agent = f"127.0.0.1:{free_port()}"
    plugins = f"127.0.0.1:{free_port()}"
    meter = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "revlink", "demo", "--data-dir", str(tmp_path)]
    argv += ["--platform-listen", target, "--cloud-listen", cloud, "--agent-listen", agent]
    argv += ["--plugins-listen", plugins, "--meter-listen", meter]
    health = free_port_run(2, step=1)  # one per example app: the port and the next
    argv += ["--app-health-port", str(health)]
    metrics = free_port_run(3, step=2)
    argv += ["--metrics-port-base", str(metrics)]
    # Every part logs JSON (they inherit the variable), so levels can be read back exactly.
    env = {**os.environ, "REVLINK_LOG_FORMAT": "json"}
    supervisor_log = tmp_path / "supervisor.log"
    with (
        supervisor_log.open("w") as stderr,
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env) as demo,
    ):
        try:
            assert demo.stdout is not None
            banner = [demo.stdout.readline() for _ in range(15)]
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
            # The simulated energy meter serves Modbus TCP; the plugin host reads it.
            assert banner[7].split()[:3] == ["energy", "meter", f"modbus://{meter}"]
            # The bundled plugins run, and their readings reach the device agent.
            assert plugins in banner[8]
            wait_for(
                lambda: {"plugin.sim", "plugin.system", "plugin.meter"} <= agent_channels(agent),
                20,
                "plugin readings at the agent",
            )
            # The meter's readings reach the cloud as sensors with their units and names.
            token = login.json()["access_token"]
            devices = httpx.get(
                f"http://{cloud}/api/v1/devices", headers={"Authorization": f"Bearer {token}"}
            ).json()
            device_id = next(d["id"] for d in devices if d["name"] == "demo-revpi")
            wait_for(
                lambda: meter_sensors(cloud, token, device_id) == METER_SENSORS,
                30,
                "the meter's sensors, with units and names, in the cloud",
            )
            latest = httpx.get(
                f"http://{cloud}/api/v1/devices/{device_id}/sensors/plugin.meter.voltage"
                "/datapoints/latest",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert latest.status_code == 200, latest.text
            assert 220 < latest.json()["value"] < 240
            # Both example apps report healthy once they have completed a loop.
            for port in (health, health + 1):
                wait_for(lambda p=port: _healthy(p), 20, f"the app on :{port}")
            # The three Prometheus endpoints, on the base port and the next two even offsets.
            urls = {line.split()[0]: line.split()[-1] for line in banner[11:14]}
            assert urls == {
                "agent": f"http://127.0.0.1:{metrics}/metrics",
                "platform": f"http://127.0.0.1:{metrics + 2}/metrics",
                "plugins": f"http://127.0.0.1:{metrics + 4}/metrics",
            }
            assert any(
                line.startswith("revlink_agent_queue_depth")
                for line in metric_samples(urls["agent"])
            )
            # Checked after the stop, so that the stop is checked whatever they answer.
            unscraped = [
                part
                for part in ("platform", "plugins")
                if not any(line.startswith("revlink_") for line in metric_samples(urls[part]))
            ]
            assert banner[14].split() == ["logs", f"{tmp_path / 'logs'}/"]
            demo.send_signal(signal.SIGTERM)
            assert demo.wait(60) == 0
        except BaseException as exc:
            # A part that exits on its own stops the whole demo; say which, and what it logged.
            exc.add_note(_troubles(supervisor_log, tmp_path / "logs"))
            raise
        finally:
            demo.kill()
    logs = tmp_path / "logs"
    # Stopped in tiers: the apps, then the plugin host, then the bridges and the plant, then
    # the cloud; each part exited by itself, none was killed, nothing logged an error.
    supervisor = log_records(supervisor_log)
    stops = [(i, r["parts"]) for i, r in enumerate(supervisor) if r["event"] == "demo.stopping"]
    tiers = [tier for _, tier in stops]
    assert tiers == [
        ["tank_level", "pulse_meter"],
        ["plugins"],
        ["agent", "platform", "sim", "sim-modbus"],
        ["cloud"],
    ]
    stopped_at = {
        r["part"]: i for i, r in enumerate(supervisor) if r["event"] == "demo.part_stopped"
    }
    for (_, earlier), (next_tier_at, _) in itertools.pairwise(stops):
        assert all(stopped_at[part] < next_tier_at for part in earlier), supervisor
    parts = ["cloud", "agent", "platform", "sim", "sim-modbus", "plugins"]
    parts += ["tank_level", "pulse_meter"]
    for name in ["supervisor", *parts]:
        path = supervisor_log if name == "supervisor" else logs / f"{name}.log"
        bad = [r for r in log_records(path) if r["level"] in ("error", "critical")]
        assert not bad, f"{path.name}: {bad}"
    assert not [r for r in supervisor if r["event"] == "demo.part_killed"]
    assert {r["part"] for r in supervisor if r["event"] == "demo.part_stopped"} == set(parts)
    assert "bridge.stopped" in (logs / "platform.log").read_text()
    assert (tmp_path / "cloud.db").exists()  # the demo's cloud runs on the embedded SQLite
    assert (logs / "sim.log").exists()
    assert "sim_modbus.stopped" in (logs / "sim-modbus.log").read_text()
    assert "bridge.stopped" in (logs / "plugins.log").read_text()
    for app in ("tank_level", "pulse_meter"):
        assert "app.stopped" in (logs / f"{app}.log").read_text()
    assert not unscraped, f"no revlink_ metrics at the {unscraped} /metrics endpoints"
