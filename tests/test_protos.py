"""The generated protobuf package is up to date with protos/ and speaks the contract."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from revlink.agent.v1 import agent_pb2
from revlink.platform.v1 import platform_pb2
from revlink.plugins.v1 import plugins_pb2
from revlink.uplink.v1 import uplink_pb2

REPO_ROOT = Path(__file__).resolve().parents[1]


def _load_generator() -> object:
    spec = importlib.util.spec_from_file_location("generate", REPO_ROOT / "protos/generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, dirs: list[Path]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for directory in dirs:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[str(path.relative_to(root))] = path.read_bytes()
    return files


def test_generated_code_is_not_stale(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "protos/generate.py"), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    generator = _load_generator()
    fresh = _tree(tmp_path, generator.generated_dirs(tmp_path))  # type: ignore[attr-defined]
    committed = _tree(REPO_ROOT, generator.generated_dirs(REPO_ROOT))  # type: ignore[attr-defined]
    assert sorted(fresh) == sorted(committed), "generated file set differs: run `make protos`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated files {stale}: run `make protos` and commit the result"


@pytest.mark.parametrize(
    ("module", "service", "rpcs"),
    [
        (
            platform_pb2,
            "PlatformService",
            {"GetDI", "GetDO", "GetAI", "GetAO", "SetDO", "SetAO", "GetIO", "SetIO", "ListIO"}
            | {"GetSystemStatus", "WatchInputs", "ScheduleDO", "ScheduleAO", "GetCounters"}
            | {"StartPulseCounter", "GetPulseCount", "AcquireLease", "RenewLease"},
        ),
        (
            agent_pb2,
            "DeviceAgentService",
            {"Publish", "GetAggregate", "Subscribe", "ListChannels", "GetStatus"},
        ),
        (
            plugins_pb2,
            "PluginHostService",
            {"ListPlugins", "CreateInstance", "StartInstance", "StopInstance", "RemoveInstance"}
            | {"GetInstanceStatus", "ReadChannels", "WriteChannel", "WatchChannels"},
        ),
    ],
)
def test_services_carry_the_rpcs_the_design_names(
    module: object, service: str, rpcs: set[str]
) -> None:
    descriptor = module.DESCRIPTOR.services_by_name[service]  # type: ignore[attr-defined]
    assert descriptor.full_name.startswith("revlink.")
    assert ".v1." in descriptor.full_name
    assert rpcs <= set(descriptor.methods_by_name)


def test_ints_stay_exact_on_the_wire() -> None:
    big = 2**62 + 1  # not representable as a double
    value = platform_pb2.IOValue(int_value=big)
    assert platform_pb2.IOValue.FromString(value.SerializeToString()).int_value == big
    exact = '{"n": 9007199254740993}'
    record = uplink_pb2.Record(seq=2**63 + 5, channel="tank", message_json=exact)
    decoded = uplink_pb2.Record.FromString(record.SerializeToString())
    assert decoded.seq == 2**63 + 5
    assert decoded.message_json == exact


def test_no_struct_in_any_proto() -> None:
    for proto in (REPO_ROOT / "protos").rglob("*.proto"):
        assert "google.protobuf.Struct" not in proto.read_text(), proto
