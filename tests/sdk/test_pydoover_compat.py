"""A pydoover 0.x app, imports changed and nothing else, run as a process like any app."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import grpc
import pytest

from apps.sdk import Application, DeviceAgentInterface, PlatformInterface, Schema
from apps.sdk.runner import build, parse_options
from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from tests.rig.agent import AgentProcess
from tests.rig.apps import app_healthy, app_process, finish
from tests.rig.bridges import free_port
from tests.rig.platform import Plant, PlatformBridge, wait_for


def aggregate(agent: AgentProcess, channel: str) -> dict[str, object]:
    with grpc.insecure_channel(agent.target) as conn:
        reply = pb_grpc.DeviceAgentServiceStub(conn).GetAggregate(
            pb.GetAggregateRequest(channel=channel), timeout=5
        )
    return dict(json.loads(reply.aggregate_json or "{}"))


def publish(agent: AgentProcess, channel: str, message: dict[str, object], **kw: object) -> None:
    """Publish as another pydoover app on the device would."""
    peer = DeviceAgentInterface("peer-app", agent.target)
    try:
        assert peer.publish_to_channel(channel, message, **kw) is True
    finally:
        peer.close()


@pytest.mark.parametrize(
    "command",
    [
        ["tests.support.pydoover_app"],
        ["revlink", "app", "run", "tests.support.pydoover_app"],
        ["tests.support.pydoover_async_app"],
    ],
    ids=["its own run_app", "revlink app run", "async, awaiting plain names"],
)
def test_a_pydoover_0x_app_runs_with_only_its_imports_changed(
    platform_bridge: PlatformBridge,
    agent: AgentProcess,
    plant: Plant,
    tmp_path: Path,
    command: list[str],
) -> None:
    config = tmp_path / "config.json"
    # Both limits differ from the schema's defaults (3000 and 7000), so the file is in use.
    config.write_text(json.dumps({"start_below": 4000, "stop_above": 6000}))
    port = free_port()
    env = {
        **os.environ,
        "APP_KEY": "pump-1",
        "DDA_URI": agent.target,
        "PLT_URI": platform_bridge.target,
        "CONFIG_FP": str(config),
        "HEALTHCHECK_PORT": str(port),
    }
    argv = [sys.executable, "-m", *command]
    with app_process(argv, env) as app:
        wait_for(lambda: app_healthy(port), 20, "the app's health endpoint")
        plant.set_inputs(InputValue_1=3500)
        wait_for(lambda: plant.get("O_1") is True, 5, "the pump started below 4000")
        wait_for(
            lambda: aggregate(agent, "tag_values") == {"pump-1": {"running": True}},
            5,
            "the tag in pydoover's channel",
        )
        plant.set_inputs(InputValue_1=6500)
        wait_for(lambda: plant.get("O_1") is False, 5, "the pump stopped above 6000")
        plant.set_inputs(InputValue_1=3500)
        wait_for(lambda: plant.get("O_1") is True, 5, "the pump started again")
        # Another app sets this app's tag the way pydoover writes tags; get_tag sees it,
        # and the telemetry message, merged into the channel's aggregate, carries it.
        publish(agent, "tag_values", {"pump-1": {"limit": 5}}, record_log=False)
        wait_for(lambda: aggregate(agent, "pump").get("limit") == 5, 5, "the other app's tag")
        assert aggregate(agent, "pump")["running"] is True
        publish(agent, "pump_commands", {"forced_off": True})
        wait_for(lambda: plant.get("O_1") is False, 5, "the command stopped the pump")
        code, output = finish(app)
    assert code == 0, output
    assert "app.loop_failed" not in output, output
    assert "app_key=pump-1" in output or '"app_key": "pump-1"' in output, output


class Plain(Application):
    pass


def test_run_app_points_an_instance_where_the_flags_say() -> None:
    injected = DeviceAgentInterface("other", "127.0.0.1:1")
    app = Plain(config=Schema(), device_agent=injected, is_async=True)
    assert isinstance(app.config, Schema)
    options = parse_options(
        ["--app-key", "k1", "--dda-uri", "127.0.0.1:7001", "--plt-uri", "127.0.0.1:7002"]
    )
    assert build(app, options) is app
    assert (app.app_key, app.device_agent.uri, app.platform_iface.uri) == (
        "k1",
        "127.0.0.1:7001",
        "127.0.0.1:7002",
    )
    assert isinstance(app.platform_iface, PlatformInterface)
    assert app.platform_iface.app_key == "k1"
