"""The platform bridge's Prometheus endpoint, scraped over HTTP from a real bridge process."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf.duration_pb2 import Duration
from prometheus_client.parser import text_string_to_metric_families

from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.bridges import BridgeProcess, free_port, start_bridge
from tests.rig.platform import platform_argv, wait_for

SERVICE = "revlink.platform.v1.PlatformService"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample the endpoint serves, by name and labels."""
    reply = httpx.get(url, timeout=10)
    reply.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def handled(samples: Samples, method: str, code: str, service: str = SERVICE) -> float:
    labels = {"service": service, "method": method, "code": code}
    return value(samples, "revlink_grpc_server_handled_total", **labels) or 0.0


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (from its socket fds and /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target.removeprefix("socket:[").removesuffix("]"))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # 0A: LISTEN
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


class Metered:
    def __init__(self, process: BridgeProcess, url: str) -> None:
        self.process = process
        self.url = url
        self.channel = grpc.insecure_channel(process.target)
        self.stub = pb_grpc.PlatformServiceStub(self.channel)

    def scrape(self) -> Samples:
        return scrape(self.url)


@pytest.fixture
def metered(procimg: Path, tmp_path: Path) -> Iterator[Metered]:
    target, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env: Mapping[str, str] = {"REVLINK_PLATFORM_METRICS_LISTEN": metrics}
    argv = platform_argv(procimg, target)
    with start_bridge(argv, target, tmp_path / "logs", env=env) as process:
        bridge = Metered(process, f"http://{metrics}/metrics")
        try:
            yield bridge
        finally:
            bridge.channel.close()


def test_rpcs_are_counted_by_method_and_code(metered: Metered) -> None:
    for _ in range(3):
        metered.stub.GetDI(pb.GetDIRequest(pins=[0]), timeout=5)
    with pytest.raises(grpc.RpcError) as err:
        metered.stub.GetDI(pb.GetDIRequest(pins=[999]), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]

    samples = metered.scrape()
    assert handled(samples, "GetDI", "OK") == 3
    assert handled(samples, "GetDI", "NOT_FOUND") == 1
    timed = {"service": SERVICE, "method": "GetDI"}
    assert value(samples, "revlink_grpc_server_started_total", **timed) == 4
    assert value(samples, "revlink_grpc_server_handling_seconds_count", **timed) == 4
    assert value(samples, "revlink_grpc_server_handling_seconds_bucket", **timed, le="+Inf") == 4
    # The rig's readiness probe went through the same interceptor.
    assert handled(samples, "Check", "OK", service="grpc.health.v1.Health") >= 1
    # The bridge's own process figures are there too.
    assert (value(samples, "process_resident_memory_bytes") or 0) > 0


def test_io_cycle_leases_pulse_counters_and_watchers(metered: Metered) -> None:
    stub = metered.stub
    samples = metered.scrape()
    assert (value(samples, "revlink_platform_io_cycle_seconds_count") or 0) > 0
    assert value(samples, "revlink_platform_io_cycle_interval_seconds") == 0.02
    assert value(samples, "revlink_platform_io_cycle_overruns_total") is not None
    assert value(samples, "revlink_platform_io_cycle_errors_total") == 0
    assert value(samples, "revlink_platform_active_leases") == 0
    assert value(samples, "revlink_platform_lease_expiries_total") == 0

    lease = stub.AcquireLease(pb.AcquireLeaseRequest(holder="m", ttl=Duration(seconds=60)))
    stub.SetDO(pb.SetDORequest(pins=[0, 1], values=[True], lease_id=lease.lease_id), timeout=5)
    counter = stub.StartPulseCounter(pb.StartPulseCounterRequest(di_pin=0), timeout=5)
    watch = stub.WatchInputs(pb.WatchInputsRequest(send_initial=True), timeout=60)
    next(watch)  # the stream is open once its first message is here
    samples = metered.scrape()
    assert value(samples, "revlink_platform_active_leases") == 1
    assert value(samples, "revlink_platform_leased_outputs") == 2
    assert value(samples, "revlink_platform_running_pulse_counters") == 1
    assert value(samples, "revlink_platform_open_watch_streams") == 1
    watching = {"service": SERVICE, "method": "WatchInputs"}
    assert value(samples, "revlink_grpc_server_started_total", **watching) == 1
    assert handled(samples, "WatchInputs", "OK") + handled(samples, "WatchInputs", "CANCELLED") == 0

    watch.cancel()
    stub.StopPulseCounter(pb.StopPulseCounterRequest(counter_id=counter.counter_id), timeout=5)
    stub.ReleaseLease(pb.ReleaseLeaseRequest(lease_id=lease.lease_id), timeout=5)
    wait_for(
        lambda: handled(metered.scrape(), "WatchInputs", "CANCELLED") == 1,
        10,
        "the cancelled stream to be counted",
    )
    samples = metered.scrape()
    assert value(samples, "revlink_platform_open_watch_streams") == 0
    assert value(samples, "revlink_platform_active_leases") == 0
    assert value(samples, "revlink_platform_leased_outputs") == 0
    assert value(samples, "revlink_platform_running_pulse_counters") == 0
    # Streams are counted, not timed.
    assert value(samples, "revlink_grpc_server_handling_seconds_count", **watching) is None


def test_a_lease_left_to_expire_is_counted(metered: Metered) -> None:
    lease = metered.stub.AcquireLease(
        pb.AcquireLeaseRequest(holder="gone", ttl=Duration(nanos=200_000_000)), timeout=5
    )
    metered.stub.SetDO(pb.SetDORequest(pins=[3], values=[True], lease_id=lease.lease_id))
    wait_for(
        lambda: value(metered.scrape(), "revlink_platform_lease_expiries_total") == 1,
        10,
        "the lease to expire",
    )
    samples = metered.scrape()
    assert value(samples, "revlink_platform_active_leases") == 0
    assert value(samples, "revlink_platform_leased_outputs") == 0


def test_an_empty_metrics_listen_disables_the_endpoint(procimg: Path, tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    argv = platform_argv(procimg, target, "--metrics-listen", "")
    with start_bridge(argv, target, tmp_path / "logs") as process:
        grpc_port = int(target.rsplit(":", 1)[1])
        assert listening_ports(process.process.pid) == {grpc_port}
    assert "metrics.disabled" in process.output()
