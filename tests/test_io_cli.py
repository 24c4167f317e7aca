"""``revlink io takeover`` and ``revlink io list`` as processes, against a real platform bridge."""

from __future__ import annotations

import signal
import subprocess
import sys

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.bridges import free_port
from tests.rig.platform import Plant, PlatformBridge


def revlink_io(*args: str) -> list[str]:
    return [sys.executable, "-m", "revlink", "--log-level", "warning", "io", *args]


def app_lease(stub: pb_grpc.PlatformServiceStub, holder: str) -> str:
    reply = stub.AcquireLease(
        pb.AcquireLeaseRequest(holder=holder, ttl=Duration(seconds=120)), timeout=5
    )
    return str(reply.lease_id)


def owners(stub: pb_grpc.PlatformServiceStub) -> dict[str, str]:
    ios = stub.ListIO(pb.ListIORequest(), timeout=5).ios
    return {io.name: io.owner for io in ios if io.owner}


def test_takeover_holds_the_outputs_until_ctrl_c_then_releases_them(
    platform_bridge: PlatformBridge, plant: Plant
) -> None:
    with grpc.insecure_channel(platform_bridge.target) as channel:
        stub = pb_grpc.PlatformServiceStub(channel)
        tank = app_lease(stub, "tank_level")
        stub.SetDO(pb.SetDORequest(pins=[0], values=[True], lease_id=tank), timeout=5)
        argv = revlink_io(
            *("takeover", "O_1", "--value", "false", "--reason", "pump test"),
            *("--platform-uri", platform_bridge.target),
        )
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as cli:
            try:
                assert cli.stdout is not None
                lines = [cli.stdout.readline().strip() for _ in range(3)]
                assert lines == [
                    "O_1: taken over from tank_level",
                    "O_1=false",
                    "holding O_1 as operator until Ctrl-C",
                ]
                assert plant.get("O_1") is False
                assert owners(stub) == {"O_1": "operator"}
                with pytest.raises(grpc.RpcError) as err:
                    stub.SetDO(pb.SetDORequest(pins=[0], values=[True], lease_id=tank), timeout=5)
                assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
                assert "owned by 'operator'" in err.value.details()  # type: ignore[attr-defined]
                cli.send_signal(signal.SIGINT)
                assert cli.wait(30) == 0
                assert cli.stdout.read().strip() == "released O_1: back to their safe values"
            finally:
                cli.kill()
        assert owners(stub) == {}
        # The app that owned the output gets it back with its next write.
        stub.SetDO(pb.SetDORequest(pins=[0], values=[True], lease_id=tank), timeout=5)
        assert plant.get("O_1") is True
    line = next(x for x in platform_bridge.process.output().splitlines() if "lease.takeover" in x)
    for word in ("warning", "tank_level", "operator", "O_1", "pump test"):
        assert word in line, (word, line)


def test_takeover_with_hold_ends_by_itself_and_restores_safe_values(
    platform_bridge: PlatformBridge, plant: Plant
) -> None:
    result = subprocess.run(
        revlink_io(
            *("takeover", "OutputValue_1", "O_5", "--value", "1", "--hold", "0.5"),
            *("--platform-uri", platform_bridge.target),
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "OutputValue_1: taken over",
        "O_5: taken over",
        "OutputValue_1=1 O_5=true",
        "holding OutputValue_1 O_5 as operator until 0.5 s have passed",
        "released OutputValue_1 O_5: back to their safe values",
    ]
    assert (plant.get("OutputValue_1"), plant.get("O_5")) == (0, False)
    with grpc.insecure_channel(platform_bridge.target) as channel:
        assert owners(pb_grpc.PlatformServiceStub(channel)) == {}


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["NOPE"], 1, ["no IO named 'NOPE'"]),
        (["I_1"], 1, ["I_1 is not an output"]),
        (["O_1", "--value", "maybe"], 2, ["O_1 is a bit output"]),
        (["OutputValue_1", "--value", "20000", "--hold", "0"], 1, ["20000", "OutputValue_1"]),
    ],
)
def test_takeover_errors_are_one_line(
    platform_bridge: PlatformBridge, args: list[str], code: int, words: list[str]
) -> None:
    argv = revlink_io("takeover", *args, "--platform-uri", platform_bridge.target)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("revlink io takeover: ")
    for word in words:
        assert word in lines[0]


def test_takeover_without_a_bridge_is_one_line() -> None:
    target = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        revlink_io("takeover", "O_1", "--platform-uri", target),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"revlink io takeover: the platform bridge at {target} is")
    assert len(result.stderr.strip().splitlines()) == 1


def test_list_shows_values_and_owners(platform_bridge: PlatformBridge) -> None:
    with grpc.insecure_channel(platform_bridge.target) as channel:
        stub = pb_grpc.PlatformServiceStub(channel)
        stub.SetDO(
            pb.SetDORequest(pins=[1], values=[True], lease_id=app_lease(stub, "tank_level")),
            timeout=5,
        )
        result = subprocess.run(
            revlink_io("list", "--outputs", "--platform-uri", platform_bridge.target),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["NAME", "KIND", "PIN", "VALUE", "OWNER", "EXPIRES", "IN"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["O_2"][:5] == ["O_2", "DO", "1", "true", "tank_level"]
    assert by_name["O_2"][5].endswith("s")
    assert by_name["O_1"] == ["O_1", "DO", "0", "false"]
    assert by_name["OutputValue_1"] == ["OutputValue_1", "AO", "0", "0"]
    assert "I_1" not in by_name
