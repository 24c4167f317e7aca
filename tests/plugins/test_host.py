"""The plugin host as a process: discovery, lifecycle, failures, writes, persistence."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from revlink.plugins.v1 import plugins_pb2 as pb
from tests.rig.platform import wait_for
from tests.rig.plugins import PluginHostProcess, start_plugin_host

S = pb


@pytest.fixture
def host(plugin_site: Path, tmp_path: Path) -> Iterator[PluginHostProcess]:
    with start_plugin_host(plugin_site, tmp_path / "data", tmp_path / "logs") as process:
        yield process


def call(host: PluginHostProcess, method: str, request: object) -> object:
    with grpc.insecure_channel(host.target) as channel:
        return getattr(host.stub(channel), method)(request, timeout=10)


def create(
    host: PluginHostProcess,
    name: str,
    config: dict[str, object],
    plugin: str = "counter",
    interval: float = 0.05,
    start: bool = True,
) -> pb.InstanceStatus:
    request = pb.CreateInstanceRequest(
        name=name,
        plugin_id=plugin,
        config_json=json.dumps(config),
        start=start,
        poll_interval=Duration(nanos=int(interval * 1e9)),
    )
    reply = call(host, "CreateInstance", request)
    assert isinstance(reply, pb.CreateInstanceResponse)
    return reply.instance


def rpc_error(host: PluginHostProcess, method: str, request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(host, method, request)
    return caught.value


def readings(host: PluginHostProcess, name: str) -> dict[str, object]:
    reply = call(host, "ReadChannels", pb.ReadChannelsRequest(instance=name))
    assert isinstance(reply, pb.ReadChannelsResponse)
    return {r.channel_id: getattr(r.value, r.value.WhichOneof("kind")) for r in reply.readings}


def trace(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_installed_plugins_are_listed_with_their_schemas(host: PluginHostProcess) -> None:
    reply = call(host, "ListPlugins", pb.ListPluginsRequest())
    assert isinstance(reply, pb.ListPluginsResponse)
    plugins = {p.id: p for p in reply.plugins}
    assert {"counter", "stuck", "broken", "system", "simulated"} <= set(plugins)
    counter = plugins["counter"]
    assert (counter.name, counter.version, counter.distribution) == (
        "Counter",
        "1.0",
        "revlink-testplugins",
    )
    assert json.loads(counter.config_schema_json)["required"] == ["start"]
    assert "NoSuchClass" in plugins["broken"].load_error
    assert plugins["system"].distribution == "revlink"


def test_bad_requests_are_refused_with_the_reason(host: PluginHostProcess) -> None:
    def refused(name: str, plugin: str, config: str, interval: float = 1.0) -> grpc.RpcError:
        request = pb.CreateInstanceRequest(
            name=name,
            plugin_id=plugin,
            config_json=config,
            poll_interval=Duration(seconds=int(interval), nanos=int(interval % 1 * 1e9)),
        )
        return rpc_error(host, "CreateInstance", request)

    error = refused("a", "counter", '{"start": "zero"}')
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "config start:" in error.details()
    assert "config (root):" in refused("a", "counter", "{}").details()
    assert refused("a", "counter", "[1]").code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not JSON" in refused("a", "counter", "{nope").details()
    assert "A-Za-z0-9" in refused("bad name", "counter", '{"start": 0}').details()
    assert "A-Za-z0-9" in refused("x" * 65, "counter", '{"start": 0}').details()
    assert refused("a", "nope", "{}").code() == grpc.StatusCode.NOT_FOUND
    assert "failed to load" in refused("a", "broken", "{}").details()
    assert "outside" in refused("a", "counter", '{"start": 0}', interval=0.049).details()
    # The edges themselves are accepted.
    create(host, "x" * 64, {"start": 0}, interval=0.05, start=False)
    error = rpc_error(
        host, "CreateInstance", pb.CreateInstanceRequest(name="x" * 64, plugin_id="counter")
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert rpc_error(host, "StartInstance", pb.StartInstanceRequest(name="ghost")).code() == (
        grpc.StatusCode.NOT_FOUND
    )


def test_an_instance_polls_and_stops_with_outputs_at_safe_values(
    host: PluginHostProcess, tmp_path: Path
) -> None:
    log = tmp_path / "trace.jsonl"
    created = create(host, "c1", {"start": 100, "trace": str(log)}, start=False)
    assert created.state == S.INSTANCE_STATE_CONFIGURED
    assert [c.id for c in created.channels] == ["count", "level"]
    assert created.channels[1].max_value == 10

    started = call(host, "StartInstance", pb.StartInstanceRequest(name="c1"))
    assert isinstance(started, pb.StartInstanceResponse)
    wait_for(lambda: readings(host, "c1").get("count", 0) >= 110, 10, "ten polls")
    status = host.status("c1")
    assert status.state == S.INSTANCE_STATE_RUNNING
    assert status.HasField("last_poll_time")

    written = call(
        host,
        "WriteChannel",
        pb.WriteChannelRequest(
            instance="c1", channel_id="level", value=pb.ChannelValue(int_value=99)
        ),
    )
    assert isinstance(written, pb.WriteChannelResponse)
    assert (written.written.int_value, written.clamped) == (10, True)
    wait_for(lambda: readings(host, "c1").get("level") == 10, 5, "level read back")
    error = rpc_error(
        host,
        "WriteChannel",
        pb.WriteChannelRequest(
            instance="c1", channel_id="count", value=pb.ChannelValue(int_value=1)
        ),
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    unknown = pb.WriteChannelRequest(
        instance="c1", channel_id="nope", value=pb.ChannelValue(int_value=1)
    )
    assert rpc_error(host, "WriteChannel", unknown).code() == grpc.StatusCode.NOT_FOUND

    stopped = call(host, "StopInstance", pb.StopInstanceRequest(name="c1"))
    assert isinstance(stopped, pb.StopInstanceResponse)
    assert stopped.instance.state == S.INSTANCE_STATE_STOPPED
    events = trace(log)
    assert events[0] == {"event": "connect"}
    assert events[-2:] == [
        {"event": "write", "channel": "level", "value": 0},
        {"event": "disconnect"},
    ]
    assert {"event": "write", "channel": "level", "value": 10} in events
    late = pb.WriteChannelRequest(instance="c1", channel_id="level", value=pb.ChannelValue())
    assert rpc_error(host, "WriteChannel", late).code() == grpc.StatusCode.INVALID_ARGUMENT
    late.value.int_value = 3
    error = rpc_error(host, "WriteChannel", late)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not running" in error.details()

    call(host, "RemoveInstance", pb.RemoveInstanceRequest(name="c1"))
    gone = rpc_error(host, "GetInstanceStatus", pb.GetInstanceStatusRequest(name="c1"))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_failing_plugins_restart_with_backoff_and_spare_the_others(
    host: PluginHostProcess, tmp_path: Path
) -> None:
    create(host, "healthy", {"start": 0})
    create(host, "crashy", {"start": 0, "fail_after": 2, "trace": str(tmp_path / "crashy")})
    create(host, "hangy", {"start": 0, "hang_after": 1})
    create(host, "garbage", {"start": 0, "garbage_after": 1})
    create(host, "stuck", {}, plugin="stuck")
    create(host, "leaky", {"start": 0, "leak": True})

    def restarted(name: str) -> bool:
        return host.status(name).restart_count >= 2

    for name in ("crashy", "hangy", "garbage", "stuck"):
        wait_for(lambda name=name: restarted(name), 15, f"{name} restarted twice")
    assert "RuntimeError: boom after 2 reads" in host.status("crashy").last_error
    assert host.status("hangy").last_error == "read_inputs timed out after 0.5 s"
    assert host.status("stuck").last_error == "read_inputs timed out after 0.5 s"
    assert "returned list, not a dict" in host.status("garbage").last_error
    # Each failure put the outputs to their safe values before the next attempt.
    crashy = trace(tmp_path / "crashy")
    assert crashy[:3] == [
        {"event": "connect"},
        {"event": "write", "channel": "level", "value": 0},
        {"event": "disconnect"},
    ]
    healthy = host.status("healthy")
    assert (healthy.state, healthy.restart_count, healthy.last_error) == (
        S.INSTANCE_STATE_RUNNING,
        0,
        "",
    )
    leaky = host.status("leaky")
    assert (leaky.state, leaky.restart_count) == (S.INSTANCE_STATE_RUNNING, 0)
    assert "stray task" in host.process.output()
    assert "ZeroDivisionError" in host.process.output()
    before = readings(host, "healthy")["count"]
    time.sleep(0.3)
    assert readings(host, "healthy")["count"] > before  # type: ignore[operator]
    # A plugin thread stuck for good does not keep the host from a clean exit.
    assert host.process.stop(signal.SIGTERM, timeout=10) == 0


def test_instances_survive_a_host_restart(plugin_site: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_plugin_host(plugin_site, data, tmp_path / "logs") as first:
        create(first, "runs", {"start": 0}, interval=0.1)
        create(first, "idle", {"start": 5}, start=False)
        create(first, "paused", {"start": 7})
        call(first, "StopInstance", pb.StopInstanceRequest(name="paused"))
    with start_plugin_host(plugin_site, data, tmp_path / "logs") as second:
        reply = call(second, "ListInstances", pb.ListInstancesRequest())
        assert isinstance(reply, pb.ListInstancesResponse)
        by_name = {i.name: i for i in reply.instances}
        assert sorted(by_name) == ["idle", "paused", "runs"]
        assert json.loads(by_name["idle"].config_json) == {"start": 5}
        assert by_name["runs"].poll_interval.ToNanoseconds() == 100_000_000
        assert by_name["idle"].state == S.INSTANCE_STATE_CONFIGURED
        assert by_name["paused"].state == S.INSTANCE_STATE_CONFIGURED
        wait_for(lambda: readings(second, "runs").get("count", 0) >= 3, 10, "runs polls again")


def test_watch_streams_each_poll(host: PluginHostProcess) -> None:
    create(host, "w1", {"start": 0})
    create(host, "w2", {"start": 1000})
    with grpc.insecure_channel(host.target) as channel:
        stream = host.stub(channel).WatchChannels(
            pb.WatchChannelsRequest(instance="w2", channel_ids=["count"]), timeout=10
        )
        seen = [next(stream) for _ in range(3)]
        stream.cancel()
    assert {m.instance for m in seen} == {"w2"}
    counts = [m.readings[0].value.int_value for m in seen]
    assert all(len(m.readings) == 1 for m in seen)
    assert counts == sorted(counts)
    assert len(set(counts)) == 3
    assert counts[0] > 1000
    missing = pb.WatchChannelsRequest(instance="ghost")
    with grpc.insecure_channel(host.target) as channel, pytest.raises(grpc.RpcError) as caught:
        next(host.stub(channel).WatchChannels(missing, timeout=5))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_open_watches_end_when_the_host_stops(plugin_site: Path, tmp_path: Path) -> None:
    # A long grace period: without ending the streams, the stop would wait all of it.
    env = {"REVLINK_GRACE_PERIOD": "60"}
    with start_plugin_host(plugin_site, tmp_path / "d", tmp_path / "logs", env=env) as host:
        create(host, "w", {"start": 0})
        with grpc.insecure_channel(host.target) as channel:
            stream = host.stub(channel).WatchChannels(pb.WatchChannelsRequest(), timeout=60)
            next(stream)
            assert host.process.stop(signal.SIGTERM, timeout=20) == 0
            list(stream)  # what was polled before the stop, then a normal end (no error)
            assert stream.code() == grpc.StatusCode.OK
