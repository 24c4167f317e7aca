"""Output watchdog, concurrent writers, bad files and auth on the real platform bridge."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from bridges.platform import SAMPLE_CONFIGRSC
from bridges.platform.image import create_image_file, open_process_image
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.bridges import free_port, start_bridge
from tests.rig.platform import Plant, PlatformBridge, platform_argv, wait_for

Stub = pb_grpc.PlatformServiceStub


@contextlib.contextmanager
def lease_client(target: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """An app process holding a lease on outputs, killed at the latest on exit."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.support.lease_client", target, *args],
        stdout=subprocess.PIPE,
        text=True,
    ) as client:
        assert client.stdout is not None
        try:
            assert client.stdout.readline().strip() == "READY"
            yield client
        finally:
            client.kill()


def test_outputs_go_safe_when_the_lease_holder_is_killed(
    platform_bridge: PlatformBridge, plant: Plant
) -> None:
    with lease_client(platform_bridge.target, "0.4", "4", "1", "0", "3000") as client:
        assert plant.get("O_5") is True
        assert plant.get("OutputValue_1") == 3000
        time.sleep(1.2)  # three TTLs: renewals keep the outputs where the app put them
        assert plant.get("O_5") is True
        assert plant.get("OutputValue_1") == 3000
        client.send_signal(signal.SIGKILL)
        client.wait()
        wait_for(lambda: plant.get("O_5") is False, 5.0, "O_5 back to its safe value")
        wait_for(lambda: plant.get("OutputValue_1") == 0, 5.0, "AO back to 0")
    assert "lease.expired" in platform_bridge.process.output()


@pytest.mark.parametrize(
    "platform_bridge", [["--safe-values", '{"O_6": true, "OutputValue_2": -2000}']], indirect=True
)
def test_configured_safe_values(platform_bridge: PlatformBridge, plant: Plant) -> None:
    with lease_client(platform_bridge.target, "0.4", "5", "0", "1", "4000") as client:
        assert plant.get("O_6") is False
        client.kill()
        client.wait()
        wait_for(lambda: plant.get("O_6") is True, 5.0, "O_6 to its configured safe value")
        wait_for(lambda: plant.get("OutputValue_2") == -2000, 5.0, "AO 2 to -2000")


async def test_release_and_unknown_leases(platform_stub: Stub, plant: Plant) -> None:
    lease = await platform_stub.AcquireLease(
        pb.AcquireLeaseRequest(holder="t", ttl=Duration(seconds=30))
    )
    await platform_stub.SetDO(pb.SetDORequest(pins=[7], values=[True], lease_id=lease.lease_id))
    await platform_stub.ReleaseLease(
        pb.ReleaseLeaseRequest(lease_id=lease.lease_id, restore_safe_values=True)
    )
    assert plant.get("O_8") is False
    for call in (
        platform_stub.RenewLease(pb.RenewLeaseRequest(lease_id=lease.lease_id)),
        platform_stub.SetDO(pb.SetDORequest(pins=[7], values=[True], lease_id="nope")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform_stub.AcquireLease(pb.AcquireLeaseRequest(holder="t"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_concurrent_writers_never_clobber_each_other(
    platform_bridge: PlatformBridge, plant: Plant
) -> None:
    """Two gRPC clients toggle O_1 and O_2 while another process writes O_8: one byte, no loss."""
    other_app = open_process_image(platform_bridge.procimg, SAMPLE_CONFIGRSC)

    async def toggler(pin: int, final: bool) -> None:
        async with grpc.aio.insecure_channel(platform_bridge.target) as channel:
            stub = pb_grpc.PlatformServiceStub(channel)
            for i in range(150):
                await stub.SetDO(pb.SetDORequest(pins=[pin], values=[i % 2 == 0]))
            await stub.SetDO(pb.SetDORequest(pins=[pin], values=[final]))

    async def other_process_writer() -> None:
        for i in range(150):
            other_app.io.O_8.value = i % 2 == 0
            other_app.writeprocimg()
            await asyncio.sleep(0)
        other_app.io.O_8.value = True
        other_app.writeprocimg()

    try:
        await asyncio.gather(toggler(0, True), toggler(1, True), other_process_writer())
    finally:
        other_app.cleanup()
    assert plant.raw(159) == bytes([0b1000_0011])


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda d: (d / "missing.bin", SAMPLE_CONFIGRSC), ["missing.bin", "not found"]),
        (
            lambda d: (create_image_file(d / "img"), _write(d / "bad.rsc", "{not json")),
            ["bad.rsc", "not valid piCtory JSON"],
        ),
        (
            lambda d: (create_image_file(d / "img"), _write(d / "part.rsc", '{"App": {}}')),
            ["part.rsc", "Summary"],
        ),
        (
            lambda d: (_write(d / "short.bin", "\0" * 100), SAMPLE_CONFIGRSC),
            ["short.bin", "100 bytes", "needs 213"],
        ),
    ],
)
def test_unusable_files_exit_with_one_line(tmp_path: Path, setup: object, words: list[str]) -> None:
    image, config = setup(tmp_path)  # type: ignore[operator]
    result = subprocess.run(
        [
            *(sys.executable, "-m", "revlink", "bridge", "platform"),
            *("--procimg", str(image), "--configrsc", str(config)),
            *("--listen", f"127.0.0.1:{free_port()}"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("revlink bridge platform: ")
    for word in words:
        assert word in lines[0]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_real_bridge_health_reflection_and_token(procimg: Path, tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    env = {"REVLINK_BRIDGE_TOKEN": "plant-secret"}
    with (
        start_bridge(platform_argv(procimg, target), target, tmp_path, env=env),
        grpc.insecure_channel(target) as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        service = "revlink.platform.v1.PlatformService"
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert service in ProtoReflectionDescriptorDatabase(channel).get_services()
        platform = pb_grpc.PlatformServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            platform.ListIO(pb.ListIORequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        ios = platform.ListIO(
            pb.ListIORequest(), metadata=(("authorization", "Bearer plant-secret"),), timeout=5
        ).ios
        assert len(ios) > 0


def test_open_watches_end_when_the_bridge_stops(procimg: Path, tmp_path: Path) -> None:
    # A long grace period: without ending the streams, the stop would wait all of it.
    target = f"127.0.0.1:{free_port()}"
    env = {"REVLINK_GRACE_PERIOD": "60"}
    with (
        start_bridge(platform_argv(procimg, target), target, tmp_path, env=env) as bridge,
        grpc.insecure_channel(target) as channel,
    ):
        stream = pb_grpc.PlatformServiceStub(channel).WatchInputs(
            pb.WatchInputsRequest(send_initial=True), timeout=60
        )
        next(stream)  # the initial snapshot: the watch is in place
        assert bridge.stop(signal.SIGTERM, timeout=20) == 0
        list(stream)  # a normal end, no error
        assert stream.code() == grpc.StatusCode.OK
