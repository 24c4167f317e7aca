"""Readings reach the device agent (and the cloud's commands reach the plugin's outputs)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
from google.protobuf.duration_pb2 import Duration

from apps.sdk.agent import DeviceAgentInterface
from bridges.plugin_host.bundled.simulated import SimulatedPlugin
from bridges.plugin_host.discovery import DiscoveredPlugin
from bridges.plugin_host.host import PluginHost
from bridges.plugin_host.runner import Reading
from bridges.plugin_host.store import InstanceStore
from bridges.plugin_host.telemetry import AgentLink
from revlink.agent.v1 import agent_pb2 as apb
from revlink.agent.v1 import agent_pb2_grpc as apb_grpc
from revlink.plugins.v1 import plugins_pb2 as pb
from tests.rig.agent import agent_status, start_agent
from tests.rig.cloud import CloudServer
from tests.rig.platform import wait_for
from tests.rig.plugins import PluginHostProcess, start_plugin_host


def agent_call(target: str, method: str, request: object) -> object:
    with grpc.insecure_channel(target) as channel:
        return getattr(apb_grpc.DeviceAgentServiceStub(channel), method)(request, timeout=5)


def aggregate(target: str, channel: str) -> dict[str, object]:
    reply = agent_call(target, "GetAggregate", apb.GetAggregateRequest(channel=channel))
    assert isinstance(reply, apb.GetAggregateResponse)
    return dict(json.loads(reply.aggregate_json))


def message_count(target: str, channel: str) -> int:
    reply = agent_call(target, "ListChannels", apb.ListChannelsRequest())
    assert isinstance(reply, apb.ListChannelsResponse)
    return next((c.message_count for c in reply.channels if c.name == channel), 0)


def host_call(host: PluginHostProcess, method: str, request: object) -> object:
    with grpc.insecure_channel(host.target) as channel:
        return getattr(host.stub(channel), method)(request, timeout=10)


def create(host: PluginHostProcess, name: str, config: dict[str, object]) -> None:
    host_call(
        host,
        "CreateInstance",
        pb.CreateInstanceRequest(
            name=name,
            plugin_id="counter",
            config_json=json.dumps(config),
            poll_interval=Duration(nanos=100_000_000),
            start=True,
        ),
    )


def host_count(host: PluginHostProcess, name: str) -> int:
    reply = host_call(host, "ReadChannels", pb.ReadChannelsRequest(instance=name))
    assert isinstance(reply, pb.ReadChannelsResponse)
    return next(r.value.int_value for r in reply.readings if r.channel_id == "count")


def test_every_poll_reaches_the_agent_once_even_across_an_agent_restart(
    plugin_site: Path, tmp_path: Path
) -> None:
    agent_dir = tmp_path / "agent"
    with start_agent(agent_dir, tmp_path / "logs") as agent:
        target = agent.target
        with start_plugin_host(
            plugin_site, tmp_path / "plugins", tmp_path / "logs", agent_uri=target
        ) as host:
            create(host, "tele", {"start": 0})
            wait_for(lambda: message_count(target, "plugin.tele") >= 5, 10, "readings at agent")
            readings = aggregate(target, "plugin.tele")["readings"]
            assert isinstance(readings, dict)
            assert set(readings) == {"count", "level"}

            agent.process.stop()  # the agent goes away while the host keeps polling
            time.sleep(1.5)
            with start_agent(agent_dir, tmp_path / "logs", target=target):
                # Within the outage the host went on counting; those polls arrive now.
                polled = host_count(host, "tele")
                wait_for(
                    lambda: message_count(target, "plugin.tele") >= polled,
                    20,
                    "the agent caught up",
                )
                host_call(host, "StopInstance", pb.StopInstanceRequest(name="tele"))
                final = host_count(host, "tele")
                wait_for(
                    lambda: message_count(target, "plugin.tele") == final,
                    10,
                    f"exactly {final} records, one per poll",
                )
                time.sleep(0.5)
                assert message_count(target, "plugin.tele") == final
                latest = aggregate(target, "plugin.tele")["readings"]
                assert isinstance(latest, dict)
                assert latest["count"] == final


def test_cloud_commands_write_outputs_and_report_the_outcome(
    plugin_site: Path, tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    log = tmp_path / "trace.jsonl"
    with (
        start_agent(tmp_path / "agent", tmp_path / "logs", cloud.base_url, token) as agent,
        start_plugin_host(
            plugin_site, tmp_path / "plugins", tmp_path / "logs", agent_uri=agent.target
        ) as host,
    ):
        wait_for(lambda: agent_status(agent.target).cloud_connected, 10, "agent online")
        create(host, "valve", {"start": 0, "trace": str(log)})
        wait_for(lambda: message_count(agent.target, "plugin.valve") >= 2, 10, "running")
        time.sleep(0.3)  # the host's command subscription is in place

        def command(payload: dict[str, object]) -> None:
            cloud.send_command(device_id, "plugin.valve", payload)

        command({"write": {"level": 42, "count": 1}})
        wait_for(
            lambda: "writes" in aggregate(agent.target, "plugin.valve"), 10, "outcome reported"
        )
        writes = aggregate(agent.target, "plugin.valve")["writes"]
        assert isinstance(writes, dict)
        assert {k: v for k, v in writes["level"].items() if k != "time"} == {
            "requested": 42,
            "written": 10,
            "clamped": True,
            "error": "",
        }
        assert "is an input" in writes["count"]["error"]
        assert "written" not in writes["count"]
        assert {"event": "write", "channel": "level", "value": 10} in [
            json.loads(line) for line in log.read_text().splitlines()
        ]

        command({"open": True})
        wait_for(lambda: "command_error" in aggregate(agent.target, "plugin.valve"), 10, "refusal")
        refusal = aggregate(agent.target, "plugin.valve")["command_error"]
        assert isinstance(refusal, dict)
        assert '{"write"' in refusal["error"]
        assert host.status("valve").state == pb.INSTANCE_STATE_RUNNING

        # The outcomes are bookkeeping: in the cloud's aggregate, never its sensors; the
        # channels' units and names, declared with the first readings, are on the sensors.
        assert aggregate(agent.target, "plugin.valve")["$fields"] == {
            "count": {"unit": "", "name": "Reads so far"},
            "level": {"unit": "%", "name": "Level"},
        }
        wait_for(
            lambda: "command_error" in cloud_aggregate(cloud, device_id, "plugin.valve"),
            10,
            "the outcomes in the cloud",
        )
        with cloud.http(cloud.admin_token()) as client:
            sensors = client.get("/api/v1/sensors", params={"device_id": str(device_id)}).json()
        assert {s["key"]: (s["name"], s["unit"]) for s in sensors} == {
            "plugin.valve.count": ("Reads so far", ""),
            "plugin.valve.level": ("Level", "%"),
        }


def cloud_aggregate(cloud: CloudServer, device_id: object, channel: str) -> dict[str, object]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get(f"/api/v1/devices/{device_id}/channels/{channel}/aggregate")
    return dict(reply.json()["payload"]) if reply.status_code == 200 else {}


def test_a_command_sent_while_the_host_is_down_is_carried_out_when_it_returns(
    plugin_site: Path, tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    trace = tmp_path / "trace.jsonl"
    host_dir = tmp_path / "plugins"
    with start_agent(tmp_path / "agent", tmp_path / "logs", cloud.base_url, token) as agent:
        wait_for(lambda: agent_status(agent.target).cloud_connected, 10, "agent online")
        with start_plugin_host(plugin_site, host_dir, tmp_path / "logs", agent.target) as host:
            create(host, "valve", {"start": 0, "trace": str(trace)})
            # The instance has never had a command; its starting point is kept all the same.
            cursors = host_dir / "command_cursors.json"
            wait_for(lambda: cursors.exists() and "valve" in cursors.read_text(), 10, "cursor")

        cloud.send_command(device_id, "plugin.valve", {"write": {"level": 7}})

        with start_plugin_host(plugin_site, host_dir, tmp_path / "logs", agent.target):
            wait_for(lambda: "writes" in aggregate(agent.target, "plugin.valve"), 15, "the replay")
            writes = aggregate(agent.target, "plugin.valve")["writes"]
            assert isinstance(writes, dict)
            assert (writes["level"]["written"], writes["level"]["error"]) == (7, "")
            time.sleep(0.5)

        with start_plugin_host(plugin_site, host_dir, tmp_path / "logs", agent.target):
            time.sleep(1.5)  # a third start: the command was handled and is not repeated
    written = [
        event
        for event in map(json.loads, trace.read_text().splitlines())
        if event["event"] == "write" and event["value"] == 7
    ]
    assert written == [{"event": "write", "channel": "level", "value": 7}]


async def test_the_first_readings_declare_the_channels_and_a_lost_declaration_is_resent(
    tmp_path: Path,
) -> None:
    plugins = {"simulated": DiscoveredPlugin("simulated", "s:S", "revlink", SimulatedPlugin)}
    host = PluginHost(plugins, InstanceStore(tmp_path / "instances.json"))
    await host.create("sim", "simulated", "{}")
    link = AgentLink(host, DeviceAgentInterface("t", "127.0.0.1:1"), outbox_size=2)

    def poll(n: int) -> None:
        link.readings("sim", [Reading("tank_temp", 20.0 + n, n + 1)])

    poll(0)
    poll(1)
    first, second = link.outbox
    assert first.aggregate["$fields"] == {
        "tank_temp": {"unit": "degC", "name": "Tank temperature"},
        "line_pressure": {"unit": "bar", "name": "Line pressure"},
        "valve_state": {"unit": "", "name": "Valve state"},
        "setpoint": {"unit": "%", "name": "Setpoint"},
    }
    assert first.aggregate["readings"] == first.message == {"tank_temp": 20.0}
    assert "$fields" not in second.aggregate
    assert (first.datapoints, second.datapoints) == (True, True)
    poll(2)  # the full outbox drops the record that declared: the next one declares again
    poll(3)
    assert ["$fields" in r.aggregate for r in link.outbox] == [False, True]

    await link.apply_command("sim", {"write": {"setpoint": 50}})  # not running: refused
    outcome = link.outbox[-1]
    assert "not running" in outcome.aggregate["writes"]["setpoint"]["error"]
    assert (outcome.message, outcome.datapoints) == ({}, False)  # an outcome is no reading
