"""DeviceAgentInterface against a real agent process."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest

from apps.sdk.agent import DeviceAgentInterface
from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from tests.rig.agent import agent_status, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer
from tests.rig.platform import wait_for


def message_counts(target: str) -> dict[str, int]:
    with grpc.insecure_channel(target) as channel:
        reply = pb_grpc.DeviceAgentServiceStub(channel).ListChannels(
            pb.ListChannelsRequest(), timeout=5
        )
    return {c.name: c.message_count for c in reply.channels}


def test_publish_aggregate_and_status(tmp_path: Path) -> None:
    with start_agent(tmp_path / "data", tmp_path / "logs") as agent:
        dda = DeviceAgentInterface("tank-app", agent.target)
        try:
            assert dda.publish("tank", {"level": 40.5}) == 1
            assert dda.publish("tank", aggregate={"pump": True}) == 2
            seq = dda.publish("tank", {"level": 41}, aggregate={"mode": "auto"})
            assert seq == 3
            # A plain record keeps the message and the patch apart.
            assert dda.get_channel_aggregate("tank") == {"pump": True, "mode": "auto"}
            assert dda.get_channel_aggregate("never-written") == {}
            status = dda.get_status()
            assert (status.last_enqueued_seq, status.cloud_connected) == (3, False)
            assert dda.get_is_dda_online() is False
        finally:
            dda.close()


def test_subscriptions_sync_and_resume_after_an_agent_restart(tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    seen: list[dict[str, object]] = []
    lock = threading.Lock()

    def on_event(channel: str, data: dict[str, object]) -> None:
        with lock:
            seen.append(data)

    dda = DeviceAgentInterface("app", target, retry_for=20)
    try:
        with start_agent(tmp_path / "data", tmp_path / "logs", target=target):
            dda.publish_to_channel("cfg", {"high": 80}, record_log=False)
            dda.add_subscription("cfg", on_event, events=("aggregate", "message"))
            assert dda.wait_for_channels_sync(["cfg"], timeout=5)
            wait_for(lambda: {"high": 80} in seen, 5, "the initial aggregate")
            dda.publish_to_channel("cfg", {"note": "first"})
            wait_for(lambda: {"note": "first"} in seen, 5, "a message")
        with start_agent(tmp_path / "data", tmp_path / "logs", target=target):
            dda.publish_to_channel("cfg", {"note": "after restart"})
            wait_for(lambda: {"note": "after restart"} in seen, 10, "a message after restart")
    finally:
        dda.close()


def test_a_kept_resume_point_replays_missed_commands_but_not_expired_ones(
    tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    seen: list[dict[str, object]] = []

    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        wait_for(lambda: agent_status(agent.target).cloud_connected, 10, "agent online")
        dda = DeviceAgentInterface("app", agent.target)
        try:
            dda.add_subscription("setpoints", lambda c, d: seen.append(d), events=("command",))
            assert dda.wait_for_channels_sync(["setpoints"], timeout=5)
            kept = dda.last_event_id("setpoints")
            assert kept > 0  # the snapshot says where the stream started
            dda.remove_subscription("setpoints")

            # While nobody listens: one command that expires soon, one that does not.
            cloud.send_command(device_id, "setpoints", {"high": 1}, expires_in_seconds=1.0)
            cloud.send_command(device_id, "setpoints", {"high": 2})
            time.sleep(1.5)
            dda.add_subscription(
                "setpoints", lambda c, d: seen.append(d), events=("command",), after_event_id=kept
            )
            wait_for(lambda: {"high": 2} in seen, 5, "the missed command")
            time.sleep(0.3)
            assert seen == [{"high": 2}]  # the expired one is logged, not delivered
            assert dda.last_event_id("setpoints") > kept
        finally:
            dda.close()


def test_publish_to_channel_follows_pydoover_channel_semantics(tmp_path: Path) -> None:
    """A published payload is merged into the aggregate (record_log only decides whether it is
    also a message); every callback on a channel gets the merged aggregate; text is kept."""
    with start_agent(tmp_path / "data", tmp_path / "logs") as agent:
        dda = DeviceAgentInterface("app", agent.target)
        first: list[dict[str, object]] = []
        second: list[dict[str, object]] = []
        try:
            dda.add_subscription("state", lambda c, d: first.append(d))
            dda.add_subscription("state", lambda c, d: second.append(d))
            assert dda.wait_for_channels_sync(["state"], timeout=5)
            assert dda.publish_to_channel("state", {"mode": "auto"}) is True
            assert dda.publish_to_channel("state", {"level": 3}, record_log=False) is True
            merged = {"mode": "auto", "level": 3}
            assert dda.get_channel_aggregate("state") == merged
            for seen in (first, second):
                wait_for(lambda s=seen: merged in s, 5, "the merged aggregate at each callback")
                assert {"level": 3} not in seen  # never the raw message
            assert message_counts(agent.target)["state"] == 1  # record_log=False: no message

            assert dda.publish_to_channel("events", "Pump started") is True
            assert dda.publish_to_channel("events", '{"cycles": 4}') is True
            assert dda.get_channel_aggregate("events") == {"message": "Pump started", "cycles": 4}
        finally:
            dda.close()


def test_removing_one_callback_keeps_the_others(tmp_path: Path) -> None:
    with start_agent(tmp_path / "data", tmp_path / "logs") as agent:
        dda = DeviceAgentInterface("app", agent.target)
        kept: list[dict[str, object]] = []
        dropped: list[dict[str, object]] = []

        def drop(channel: str, data: dict[str, object]) -> None:
            dropped.append(data)

        try:
            dda.add_subscription("state", lambda c, d: kept.append(d))
            dda.add_subscription("state", drop)
            assert dda.wait_for_channels_sync(["state"], timeout=5)
            dda.remove_subscription("state", drop)
            dda.publish_to_channel("state", {"n": 1})
            wait_for(lambda: {"n": 1} in kept, 5, "the kept callback")
            time.sleep(0.3)
            assert {"n": 1} not in dropped
            assert dda.is_channel_synced("state")
        finally:
            dda.close()


def device_sensors(cloud: CloudServer, device_id: object) -> dict[str, tuple[str, str]]:
    with cloud.http(cloud.admin_token()) as client:
        reply = client.get("/api/v1/sensors", params={"device_id": str(device_id)})
    return {s["key"]: (s["name"], s["unit"]) for s in reply.json()}


def test_declared_fields_name_the_cloud_s_sensors_and_bookkeeping_makes_none(
    tmp_path: Path, cloud: CloudServer
) -> None:
    device_id, token = cloud.device()
    with start_agent(tmp_path / "data", tmp_path / "logs", cloud.base_url, token) as agent:
        dda = DeviceAgentInterface("tank-app", agent.target)
        try:
            seq = dda.declare_fields(
                "tank",
                {
                    "level_percent": {"unit": "%", "name": "Tank level"},
                    "setpoints.low": {"unit": "%"},
                },
            )
            assert seq == 1
            dda.publish_to_channel("tank", {"level_percent": 41.5, "setpoints": {"low": 30}})
            dda.publish("tank", aggregate={"cycles": {"done": 7}}, datapoints=False)
            dda.publish_to_channel("tank", {"spare": 1}, datapoints=False)
            assert dda.get_channel_aggregate("tank")["$fields"] == {
                "level_percent": {"unit": "%", "name": "Tank level"},
                "setpoints.low": {"unit": "%"},
            }
            wait_for(lambda: agent_status(agent.target).last_acked_seq == 4, 15, "all acked")
        finally:
            dda.close()
    assert device_sensors(cloud, device_id) == {
        "tank.level_percent": ("Tank level", "%"),
        "tank.setpoints.low": ("tank.setpoints.low", "%"),
    }


async def test_declare_fields_async_and_its_checks(tmp_path: Path) -> None:
    with start_agent(tmp_path / "data", tmp_path / "logs") as agent:
        dda = DeviceAgentInterface("app", agent.target)
        try:
            assert await dda.declare_fields("pump", {"speed": {"unit": "rpm"}}) == 1
            assert await dda.declare_fields_async("pump", {"speed": {"name": "Speed"}}) == 2
            merged = await dda.get_channel_aggregate_async("pump")
            assert merged == {"$fields": {"speed": {"unit": "rpm", "name": "Speed"}}}
            for bad, words in [
                ({"speed": "rpm"}, "must be an object"),
                ({"speed": {"unit": 3}}, "unit must be a string"),
                ({"speed": {"unit": "r" * 33}}, "at most 32"),
                ({"speed": {"label": "x"}}, "unknown members"),
            ]:
                with pytest.raises(ValueError, match=words):
                    await dda.declare_fields_async("pump", bad)  # type: ignore[arg-type]
            assert (await dda.get_status_async()).last_enqueued_seq == 2  # nothing sent
        finally:
            await dda.close_async()
