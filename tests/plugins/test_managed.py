"""Cloud-managed instances: the desired set on ``plugin-host``, reconciled, status reported.

The pure parts (parsing, the plan) are tested alone; the rest with a real agent, reached by
cloud writes through its real uplink (a stand-in for the cloud's door), and a real plugin
host process. Every status is read where the cloud would get it: the agent's aggregate of
``plugin.NAME`` and the records it sends up.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from bridges.plugin_host.host import MAX_CONFIG_BYTES
from bridges.plugin_host.managed import (
    MANAGED_CHANNEL,
    DesiredSetError,
    Ids,
    Refusal,
    parse_desired,
    plan_changes,
)
from bridges.plugin_host.store import InstanceSpec, InstanceStore
from revlink.agent.v1 import agent_pb2 as apb
from revlink.agent.v1 import agent_pb2_grpc as apb_grpc
from revlink.plugins.v1 import plugins_pb2 as pb
from tests.rig.agent import AgentProcess, CloudDoor, agent_status, cloud_door, start_agent
from tests.rig.platform import wait_for
from tests.rig.plugins import PluginHostProcess, start_plugin_host

Json = dict[str, Any]
CLASH = "an instance named {} was made on this device; the cloud cannot manage it"


def entry(public_id: str = "", plugin: str = "counter", **fields: Any) -> Json:
    base = {"config": {"start": 0}, "poll_interval_s": 0.1, "enabled": True, "demo_mode": False}
    return base | {"public_id": public_id or str(uuid.uuid4()), "plugin_id": plugin} | fields


def spec(name: str, managed: bool = True, **fields: Any) -> InstanceSpec:
    settings: Json = {"config": {"start": 0}, "poll_interval_s": 0.1, "enabled": True}
    settings |= {"managed": managed, "public_id": f"id-{name}"} | fields
    return InstanceSpec(name, "counter", **settings)


# -- parsing and planning -------------------------------------------------------------------


def test_each_bad_entry_is_refused_alone_and_unknown_keys_are_ignored() -> None:
    desired = parse_desired(
        {
            "revision": 4,
            "future": True,
            "managed": {
                "ok": entry("p-ok", extra="ignored"),
                "plain": {k: v for k, v in entry("p-plain").items() if k != "demo_mode"},
                "scalar": 5,
                "no name!": entry(),
                "fast": entry("p-fast", poll_interval_s=0.001, demo_mode=True),
                "flag": entry(poll_interval_s=True),
                "big": entry(config={"blob": "x" * MAX_CONFIG_BYTES}),
                "listed": entry(config=[1]),
                "anon": entry() | {"public_id": "", "plugin_id": 7},
            },
        }
    )
    assert desired is not None
    assert (desired.revision, sorted(desired.entries)) == (4, ["ok", "plain"])
    ok = desired.entries["ok"]
    assert (ok.public_id, ok.plugin_id, ok.config, ok.poll_interval_s) == (
        "p-ok",
        "counter",
        {"start": 0},
        0.1,
    )
    assert desired.entries["plain"].demo_mode is False
    errors = {name: refusal.error for name, refusal in desired.refused.items()}
    assert errors == {
        "scalar": "entry scalar must be an object, not int",
        "no name!": "instance name 'no name!' must be 1-64 characters from [A-Za-z0-9_-]",
        "fast": "poll interval 0.001 s is outside 0.05-86400 s",
        "flag": "poll_interval_s must be a number, not bool",
        "big": f"config is larger than {MAX_CONFIG_BYTES} bytes",
        "listed": "config must be an object, not list",
        "anon": "public_id must be a non-empty string",
    }
    assert desired.refused["fast"].ids == Ids("p-fast", "counter", True)  # named in its status
    assert desired.refused["scalar"].ids == Ids()


def test_no_set_changes_nothing_and_a_set_that_is_no_object_is_an_error() -> None:
    assert parse_desired({}) is None  # the cloud has not written one
    assert parse_desired({"revision": 1, "other": {}}) is None
    with pytest.raises(DesiredSetError, match="managed must be an object, not list"):
        parse_desired({"managed": []})
    empty = parse_desired({"managed": {}})
    assert empty is not None
    assert plan_changes(empty, [spec("a"), spec("mine", managed=False)]).remove == ("a",)


def test_the_plan_touches_managed_instances_only_and_only_what_changed() -> None:
    current = [
        spec("same"),
        spec("config"),
        spec("moved", public_id="an-older-cloud-instance"),
        spec("off"),
        spec("on", enabled=False),
        spec("gone"),
        spec("broken"),
        spec("mine", managed=False),
        spec("local-only", managed=False),
    ]
    desired = parse_desired(
        {
            "managed": {
                "same": entry("id-same"),
                "config": entry("id-config", config={"start": 5}),
                "moved": entry("id-moved"),
                "off": entry("id-off", enabled=False),
                "on": entry("id-on", enabled=True),
                "broken": entry("id-broken", poll_interval_s="fast"),
                "mine": entry("id-mine"),
                "new": entry("id-new"),
            }
        }
    )
    assert desired is not None
    plan = plan_changes(desired, current)
    assert [want.name for want in plan.replace] == ["config", "moved"]
    assert [want.name for want in plan.create] == ["new"]
    assert (plan.stop, plan.start) == (("off",), ("on",))
    # The refused entry's old instance goes; nothing made on the device is ever touched.
    assert plan.remove == ("broken", "gone")
    assert {r.name: r.error for r in plan.refuse} == {
        "broken": "poll_interval_s must be a number, not str",
        "mine": CLASH.format("mine"),
    }
    assert Refusal("mine", CLASH.format("mine"), Ids("id-mine", "counter", False)) in plan.refuse
    # Carried out, the same set again plans nothing (the refusals stay).
    after = [
        spec("same"),
        spec("config", config={"start": 5}),
        spec("moved"),
        spec("off", enabled=False),
        spec("on"),
        spec("new"),
        spec("mine", managed=False),
        spec("local-only", managed=False),
    ]
    again = plan_changes(desired, after)
    assert not again.changes_instances
    assert [r.name for r in again.refuse] == ["broken", "mine"]


def test_instances_saved_before_cloud_management_load_as_made_on_the_device(
    tmp_path: Path,
) -> None:
    path = tmp_path / "instances.json"
    old = {"name": "a", "plugin_id": "counter", "config": {}, "poll_interval_s": 1.0}
    path.write_text(json.dumps({"version": 1, "instances": [old | {"enabled": True}]}))
    store = InstanceStore(path)
    (loaded,) = store.load()
    assert (loaded.managed, loaded.public_id) == (False, "")
    store.save([loaded, InstanceSpec("b", "counter", managed=True, public_id="p-b")])
    assert [(s.name, s.managed, s.public_id) for s in store.load()] == [
        ("a", False, ""),
        ("b", True, "p-b"),
    ]


# -- with a real agent and a real plugin host -----------------------------------------------


@dataclass
class Device:
    """A real agent connected to a stand-in cloud door that writes ``plugin-host``."""

    door: CloudDoor
    agent: AgentProcess
    root: Path
    revision: int = 0

    def want(self, **entries: Json) -> Json:
        """Write the cloud's whole set, as the cloud does on every change."""
        self.revision += 1
        aggregate = {"managed": entries, "revision": self.revision}
        self.write(aggregate)
        return aggregate

    def write(self, aggregate: Json) -> None:
        ack = self.door.write(MANAGED_CHANNEL, aggregate)
        assert not ack.refused, ack.detail

    def host(self, site: Path) -> AbstractContextManager[PluginHostProcess]:
        return start_plugin_host(site, self.root / "plugins", self.root / "logs", self.agent.target)

    def aggregate(self, channel: str) -> Json:
        with grpc.insecure_channel(self.agent.target) as grpc_channel:
            stub = apb_grpc.DeviceAgentServiceStub(grpc_channel)
            reply = stub.GetAggregate(apb.GetAggregateRequest(channel=channel), timeout=5)
        return dict(json.loads(reply.aggregate_json or "{}"))

    def count(self, name: str) -> int:
        """The counter's latest reading as the agent holds it; -1 before the first."""
        return int(self.aggregate(f"plugin.{name}").get("readings", {}).get("count", -1))

    def status(self, name: str) -> Json:
        return dict(self.aggregate(f"plugin.{name}").get("status", {}))

    def wait_status(self, name: str, **expected: Any) -> Json:
        wait_for(lambda: expected.items() <= self.status(name).items(), 15, f"{name}: {expected}")
        return self.status(name)

    def wait_sent(self, name: str, after: int, **expected: Any) -> None:
        """Wait for a status like ``expected`` among those sent up after the first ``after``."""

        def sent() -> bool:
            return any(expected.items() <= s.items() for s in self.statuses_sent(name)[after:])

        wait_for(sent, 15, f"{name}: {expected} sent")

    def statuses_sent(self, name: str) -> list[Json]:
        """The status records the agent sent up for ``name``, oldest first."""
        records = self.door.records_on(f"plugin.{name}")
        statuses = [json.loads(r.aggregate_json) for r in records if '"status"' in r.aggregate_json]
        assert all(r.no_datapoints for r in records if '"status"' in r.aggregate_json)
        return [s["status"] for s in statuses]


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Device]:
    with (
        cloud_door() as door,
        start_agent(tmp_path / "agent", tmp_path / "logs", door.url, "door-token") as agent,
    ):
        wait_for(lambda: agent_status(agent.target).cloud_connected, 15, "the agent at the door")
        yield Device(door, agent, tmp_path)


def host_call(host: PluginHostProcess, method: str, request: object) -> Any:
    with grpc.insecure_channel(host.target) as channel:
        return getattr(host.stub(channel), method)(request, timeout=10)


def names(host: PluginHostProcess) -> list[str]:
    return [i.name for i in host_call(host, "ListInstances", pb.ListInstancesRequest()).instances]


def connects(trace: Path) -> int:
    lines = trace.read_text().splitlines() if trace.exists() else []
    return sum(json.loads(line)["event"] == "connect" for line in lines)


KEYS = ("id", "name", "direction", "unit", "min", "max")
COUNTER_CHANNELS = [
    dict(zip(KEYS, ("count", "Reads so far", "input", "", None, None), strict=True)),
    dict(zip(KEYS, ("level", "Level", "bidirectional", "%", 0, 10), strict=True)),
]


def test_the_cloud_creates_changes_stops_and_removes_an_instance(
    plugin_site: Path, device: Device, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.jsonl"
    public_id = str(uuid.uuid4())
    tank = entry(public_id, config={"start": 0, "trace": str(trace)})
    with device.host(plugin_site) as host:
        device.want(tank=tank)
        running = device.wait_status("tank", state="running")
        assert {k: v for k, v in running.items() if k != "time"} == {
            "state": "running",
            "error": "",
            "restarts": 0,
            "managed": True,
            "public_id": public_id,
            "plugin_id": "counter",
            "demo_mode": False,
            "channels": COUNTER_CHANNELS,
        }
        assert running["time"].endswith("+00:00")
        wait_for(lambda: device.count("tank") >= 3, 10, "readings")
        readings = [r for r in device.door.records_on("plugin.tank") if r.message_json]
        assert readings
        assert not any(r.no_datapoints for r in readings)  # readings make sensors, statuses not

        device.want(tank=tank | {"demo_mode": True})  # carried, reported, runs the same
        device.wait_status("tank", demo_mode=True, state="running")

        device.want(tank=tank | {"config": {"start": 1000, "trace": str(trace)}})
        wait_for(lambda: device.count("tank") >= 1000, 10, "the new config's readings")
        status = host_call(host, "GetInstanceStatus", pb.GetInstanceStatusRequest(name="tank"))
        assert json.loads(status.instance.config_json)["start"] == 1000
        assert connects(trace) == 2  # replaced once, for the config; not for demo_mode
        device.wait_status("tank", state="running", demo_mode=False, restarts=0)

        device.want(tank=tank | {"config": {"start": 1000, "trace": str(trace)}, "enabled": False})
        device.wait_status("tank", state="stopped")
        assert host.status("tank").state == pb.INSTANCE_STATE_STOPPED

        device.want()
        removed = device.wait_status("tank", state="removed")
        assert (removed["public_id"], removed["plugin_id"], removed["channels"]) == (
            public_id,
            "counter",
            [],
        )
        assert names(host) == []
        wait_for(lambda: device.statuses_sent("tank")[-1]["state"] == "removed", 10, "sent up")
        assert json.loads((tmp_path / "plugins" / "instances.json").read_text())["instances"] == []


def test_what_cannot_be_applied_is_refused_alone_and_a_local_instance_is_left_alone(
    plugin_site: Path, device: Device
) -> None:
    long_name = "n" * 65  # a valid channel, not a valid instance name
    with device.host(plugin_site) as host:
        local = pb.CreateInstanceRequest(
            name="mine", plugin_id="counter", config_json='{"start": 7}', start=True
        )
        host_call(host, "CreateInstance", local)
        wanted = {
            "ok": entry("p-ok", plugin="simulated", config={}),
            "mine": entry("p-mine"),
            "ghost": entry("p-ghost", plugin="nope"),
            "typo": entry("p-typo", config={"start": "zero"}),
            "hasty": entry("p-hasty", poll_interval_s=0.001),
            "scalar": 5,
            long_name: entry("p-long"),
            "crashy": entry("p-crashy", config={"start": 0, "fail_after": 2}),
        }
        device.want(**wanted)
        assert device.wait_status("ok", state="running")["public_id"] == "p-ok"

        def refusal(name: str) -> str:
            return str(device.wait_status(name, state="refused")["error"])

        assert refusal("mine") == CLASH.format("mine")
        assert (device.status("mine")["public_id"], device.status("mine")["channels"]) == (
            "p-mine",
            [],
        )
        status = host.status("mine")  # and the device's own instance runs on, untouched
        assert status.state == pb.INSTANCE_STATE_RUNNING
        assert json.loads(status.config_json) == {"start": 7}
        assert refusal("ghost") == "plugin 'nope' is not installed"
        assert "start" in refusal("typo")
        assert "outside" in refusal("hasty")
        assert refusal("scalar") == "entry scalar must be an object, not int"
        assert "1-64 characters" in refusal(long_name)
        # A failing plugin is no refusal: it is created, and its runner's changes are told.
        crashy = device.wait_status("crashy", state="error")
        assert "boom after 2 reads" in crashy["error"]
        wait_for(lambda: device.status("crashy")["restarts"] >= 1, 10, "crashy restarted")
        assert names(host) == ["crashy", "mine", "ok"]

        # Refusals are tried again with the next set: this time the config is right.
        device.want(**wanted | {"typo": entry("p-typo", config={"start": 0})})
        device.wait_status("typo", state="running", error="")
        assert device.status("ghost")["state"] == "refused"
        assert names(host) == ["crashy", "mine", "ok", "typo"]


def test_the_same_set_again_or_after_a_host_restart_restarts_nothing(
    plugin_site: Path, device: Device, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.jsonl"
    steady = entry("p-steady", config={"start": 0, "trace": str(trace)})
    with device.host(plugin_site) as host:
        aggregate = device.want(steady=steady)
        device.wait_status("steady", state="running")
        time.sleep(0.5)
        sent = len(device.statuses_sent("steady"))
        device.write(aggregate)  # the very same set once more
        time.sleep(1.0)
        assert connects(trace) == 1
        assert host.status("steady").restart_count == 0
        assert len(device.statuses_sent("steady")) == sent  # nothing changed: nothing sent
        device.want(steady=steady, probe=entry("p-probe"))
        device.wait_status("probe", state="running")
        assert connects(trace) == 1

    sent = len(device.statuses_sent("steady"))
    with device.host(plugin_site) as host:  # the subscription replays the current set
        wait_for(lambda: connects(trace) == 2, 10, "steady back")
        device.wait_sent("steady", sent, state="running", public_id="p-steady")
        time.sleep(1.0)
        assert connects(trace) == 2  # started once by the host, not replaced by the replay
        assert names(host) == ["probe", "steady"]
        saved = json.loads((tmp_path / "plugins" / "instances.json").read_text())["instances"]
        assert [(s["name"], s["managed"]) for s in saved] == [("probe", True), ("steady", True)]

    device.want(probe=entry("p-probe"))  # steady is dropped while the host is down
    sent = len(device.statuses_sent("probe"))
    with device.host(plugin_site) as host:
        wait_for(lambda: names(host) == ["probe"], 10, "steady removed after the restart")
        removed = device.wait_status("steady", state="removed")
        assert removed["public_id"] == "p-steady"  # kept in the store for this
        device.wait_sent("probe", sent, state="running")
