"""The plugin host's Prometheus endpoint, scraped over HTTP from a real host process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from revlink.plugins.v1 import plugins_pb2 as pb
from revlink.plugins.v1 import plugins_pb2_grpc as pb_grpc
from tests.platform.test_bridge_metrics import Samples, handled, listening_ports, scrape, value
from tests.rig.bridges import free_port
from tests.rig.platform import wait_for
from tests.rig.plugins import PluginHostProcess, start_plugin_host

SERVICE = "revlink.plugins.v1.PluginHostService"
STATES = ("configured", "connecting", "running", "error", "stopped")


class Metered:
    def __init__(self, host: PluginHostProcess, url: str) -> None:
        self.host = host
        self.url = url
        self.channel = grpc.insecure_channel(host.target)
        self.stub = pb_grpc.PluginHostServiceStub(self.channel)

    def scrape(self) -> Samples:
        return scrape(self.url)

    def create(self, name: str, config: dict[str, object], start: bool = True) -> None:
        request = pb.CreateInstanceRequest(
            name=name,
            plugin_id="counter",
            config_json=json.dumps(config),
            start=start,
            poll_interval=Duration(nanos=50_000_000),
        )
        self.stub.CreateInstance(request, timeout=10)


def instances(samples: Samples, state: str) -> float | None:
    return value(samples, "revlink_plugins_instances", state=state)


def in_state(samples: Samples, instance: str) -> str:
    """The one state the per-instance state set marks with 1."""
    marked = [
        state
        for state in STATES
        if value(samples, "revlink_plugins_instance_state", instance=instance, state=state) == 1
    ]
    assert len(marked) == 1, marked
    return marked[0]


def per_instance(samples: Samples, name: str, instance: str) -> float:
    return value(samples, name, instance=instance) or 0.0


@pytest.fixture
def metered(plugin_site: Path, tmp_path: Path) -> Iterator[Metered]:
    metrics = f"127.0.0.1:{free_port()}"
    env = {"REVLINK_PLUGINS_METRICS_LISTEN": metrics}
    with start_plugin_host(plugin_site, tmp_path / "data", tmp_path / "logs", env=env) as host:
        bridge = Metered(host, f"http://{metrics}/metrics")
        try:
            yield bridge
        finally:
            bridge.channel.close()


def test_instance_states_polls_and_rpcs(metered: Metered) -> None:
    samples = metered.scrape()
    assert all(instances(samples, state) == 0 for state in STATES)

    metered.create("m-ok", {"start": 0}, start=False)
    samples = metered.scrape()
    assert instances(samples, "configured") == 1
    assert in_state(samples, "m-ok") == "configured"
    assert value(samples, "revlink_plugins_polls_total", instance="m-ok") == 0
    assert value(samples, "revlink_plugins_poll_errors_total", instance="m-ok") == 0

    metered.stub.StartInstance(pb.StartInstanceRequest(name="m-ok"), timeout=10)
    wait_for(
        lambda: per_instance(metered.scrape(), "revlink_plugins_polls_total", "m-ok") >= 3,
        10,
        "three polls",
    )
    samples = metered.scrape()
    assert instances(samples, "running") == 1
    assert in_state(samples, "m-ok") == "running"
    polls = per_instance(samples, "revlink_plugins_polls_total", "m-ok")
    assert per_instance(samples, "revlink_plugins_poll_duration_seconds_count", "m-ok") == polls
    assert per_instance(samples, "revlink_plugins_poll_errors_total", "m-ok") == 0
    assert per_instance(samples, "revlink_plugins_instance_restarts_total", "m-ok") == 0

    metered.stub.StopInstance(pb.StopInstanceRequest(name="m-ok"), timeout=10)
    samples = metered.scrape()
    assert instances(samples, "stopped") == 1
    assert instances(samples, "running") == 0
    assert in_state(samples, "m-ok") == "stopped"

    with pytest.raises(grpc.RpcError) as err:
        metered.stub.GetInstanceStatus(pb.GetInstanceStatusRequest(name="nope"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    metered.stub.RemoveInstance(pb.RemoveInstanceRequest(name="m-ok"), timeout=10)
    samples = metered.scrape()
    assert handled(samples, "CreateInstance", "OK", SERVICE) == 1
    assert handled(samples, "StartInstance", "OK", SERVICE) == 1
    assert handled(samples, "GetInstanceStatus", "NOT_FOUND", SERVICE) == 1
    timed = {"service": SERVICE, "method": "CreateInstance"}
    assert value(samples, "revlink_grpc_server_handling_seconds_count", **timed) == 1
    # A removed instance leaves no series behind.
    assert all(instances(samples, state) == 0 for state in STATES)
    assert value(samples, "revlink_plugins_polls_total", instance="m-ok") is None
    assert (
        value(samples, "revlink_plugins_instance_state", instance="m-ok", state="stopped") is None
    )


def test_failed_polls_and_restarts_are_counted(metered: Metered) -> None:
    metered.create("m-crash", {"start": 0, "fail_after": 2})
    metered.create("m-hang", {"start": 0, "hang_after": 1})  # the 0.5 s call timeout
    metered.create("m-garbage", {"start": 0, "garbage_after": 1})
    failing = ("m-crash", "m-hang", "m-garbage")

    def restarted() -> bool:
        samples = metered.scrape()
        restarts = "revlink_plugins_instance_restarts_total"
        return all(per_instance(samples, restarts, name) >= 1 for name in failing)

    wait_for(restarted, 15, "each failing instance to restart")
    samples = metered.scrape()
    for name in failing:
        errors = per_instance(samples, "revlink_plugins_poll_errors_total", name)
        assert errors >= 1, name
        assert per_instance(samples, "revlink_plugins_polls_total", name) > errors, name
    assert per_instance(samples, "revlink_plugins_poll_duration_seconds_sum", "m-hang") >= 0.5


def test_records_dropped_from_the_agent_outbox_are_counted(
    plugin_site: Path, tmp_path: Path
) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    env = {"REVLINK_PLUGINS_METRICS_LISTEN": metrics, "REVLINK_PLUGINS_OUTBOX_SIZE": "5"}
    away = f"127.0.0.1:{free_port()}"  # no agent there: records pile up in the outbox
    with start_plugin_host(
        plugin_site, tmp_path / "data", tmp_path / "logs", agent_uri=away, env=env
    ) as host:
        bridge = Metered(host, f"http://{metrics}/metrics")
        try:
            bridge.create("m-out", {"start": 0})
            dropped = "revlink_plugins_outbox_dropped_records_total"
            wait_for(lambda: (value(bridge.scrape(), dropped) or 0) >= 3, 10, "records dropped")
            assert value(bridge.scrape(), "revlink_plugins_outbox_records") == 5
        finally:
            bridge.channel.close()


def test_an_empty_metrics_listen_disables_the_endpoint(plugin_site: Path, tmp_path: Path) -> None:
    env = {"REVLINK_PLUGINS_METRICS_LISTEN": ""}
    with start_plugin_host(plugin_site, tmp_path / "data", tmp_path / "logs", env=env) as host:
        grpc_port = int(host.target.rsplit(":", 1)[1])
        assert listening_ports(host.process.process.pid) == {grpc_port}
    assert "metrics.disabled" in host.process.output()
