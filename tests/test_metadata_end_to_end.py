"""Units and names, end to end: a bundled plugin and an app declare them, the cloud shows them.

A real cloud (PostgreSQL), a real device agent uplinked to it, a real plugin host running the
bundled ``simulated`` plugin, and an app publishing through the SDK. The plugin's channels and
the app's declared field arrive as sensors with their units and display names; a command's
outcome is kept in the channel aggregate but registers no ``writes.*`` sensor; the sensors are
reachable by device and key; and a unit a person edited survives the plugin declaring again.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration

from apps.sdk.agent import DeviceAgentInterface
from revlink.plugins.v1 import plugins_pb2 as pb
from tests.rig.agent import agent_status, start_agent
from tests.rig.cloud import CloudServer
from tests.rig.platform import wait_for
from tests.rig.plugins import PluginHostProcess, start_plugin_host

EXPECTED = {
    "plugin.sim.tank_temp": ("Tank temperature", "degC"),
    "plugin.sim.line_pressure": ("Line pressure", "bar"),
    "plugin.sim.valve_state": ("Valve state", ""),
    "plugin.sim.setpoint": ("Setpoint", "%"),
    "tank.level_percent": ("Tank level", "%"),
}


def start_simulated(host: PluginHostProcess) -> None:
    with grpc.insecure_channel(host.target) as channel:
        host.stub(channel).CreateInstance(
            pb.CreateInstanceRequest(
                name="sim",
                plugin_id="simulated",
                config_json=json.dumps({"seed": 1}),
                poll_interval=Duration(nanos=200_000_000),
                start=True,
            ),
            timeout=10,
        )


def sensors(cloud: CloudServer, device_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/sensors")
        assert reply.status_code == 200, reply.text
        return {s["key"]: s for s in reply.json()}


def sim_aggregate(cloud: CloudServer, device_id: uuid.UUID) -> dict[str, Any]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/channels/plugin.sim/aggregate")
    payload: dict[str, Any] = reply.json()["payload"] if reply.status_code == 200 else {}
    return payload


def settled(agent_target: str) -> bool:
    """Everything the agent has queued so far is committed in the cloud."""
    status = agent_status(agent_target)
    return status.cloud_connected and status.last_acked_seq == status.last_enqueued_seq


def test_declared_units_and_names_reach_the_cloud_and_outcomes_do_not_become_sensors(
    plugin_site: Path, tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    logs = tmp_path / "logs"
    with start_agent(tmp_path / "agent", logs, cloud.base_url, token) as agent:
        wait_for(lambda: agent_status(agent.target).cloud_connected, 10, "agent online")
        app = DeviceAgentInterface("tank-app", agent.target)
        try:
            app.declare_fields("tank", {"level_percent": {"unit": "%", "name": "Tank level"}})
            app.publish_to_channel("tank", {"level_percent": 42.5, "pump": True})
        finally:
            app.close()

        with start_plugin_host(plugin_site, tmp_path / "plugins", logs, agent.target) as host:
            start_simulated(host)
            wait_for(lambda: set(EXPECTED) <= set(sensors(cloud, device_id)), 20, "every sensor")
            found = sensors(cloud, device_id)
            assert {k: (s["name"], s["unit"]) for k, s in found.items()} == EXPECTED

            # A write, clamped to the setpoint's 0..100; its outcome is bookkeeping.
            cloud.send_command(device_id, "plugin.sim", {"write": {"setpoint": 150}})
            wait_for(
                lambda: "setpoint" in sim_aggregate(cloud, device_id).get("writes", {}),
                20,
                "the write's outcome in the cloud",
            )
            outcome = sim_aggregate(cloud, device_id)["writes"]["setpoint"]
            assert (outcome["requested"], outcome["written"], outcome["clamped"]) == (
                150,
                100,
                True,
            )
            # The outcome was committed with whatever sensors its record would register.
            assert set(sensors(cloud, device_id)) == set(EXPECTED)  # no plugin.sim.writes.*

            # By device and key, as by UUID.
            with cloud.http(cloud.admin_token()) as client:
                base = f"/api/v1/devices/{device_id}/sensors/plugin.sim.tank_temp"
                by_key = client.get(base).json()
                assert by_key == found["plugin.sim.tank_temp"]
                latest = client.get(f"{base}/datapoints/latest").json()
                assert (latest["sensor_public_id"], latest["unit"]) == (
                    by_key["public_id"],
                    "degC",
                )
                series = client.get(f"{base}/datapoints").json()
                assert (series["unit"], series["name"]) == ("degC", "Tank temperature")
                assert series["count"] >= 1
                # A person sets another unit on one sensor, by its key.
                edited = client.patch(
                    f"/api/v1/devices/{device_id}/sensors/plugin.sim.line_pressure",
                    json={"unit": "psi"},
                )
                assert edited.status_code == 200, edited.text

        # The host's next run declares the channels again: the edited unit stays.
        with start_plugin_host(plugin_site, tmp_path / "plugins", logs, agent.target):
            first_seq = agent_status(agent.target).last_enqueued_seq
            wait_for(
                lambda: agent_status(agent.target).last_enqueued_seq > first_seq + 2,
                20,
                "the restarted host's readings",
            )
            wait_for(lambda: settled(agent.target), 20, "the cloud caught up again")
    assert sim_aggregate(cloud, device_id)["$fields"]["line_pressure"] == {
        "unit": "bar",
        "name": "Line pressure",
    }
    pressure = sensors(cloud, device_id)["plugin.sim.line_pressure"]
    assert (pressure["unit"], pressure["declared_unit"], pressure["unit_edited"]) == (
        "psi",
        "bar",
        True,
    )
    assert pressure["name"] == "Line pressure"
