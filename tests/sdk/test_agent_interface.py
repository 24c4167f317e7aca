"""DeviceAgentInterface against a real agent process."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from apps.sdk.agent import DeviceAgentInterface
from tests.rig.agent import agent_status, start_agent
from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer
from tests.rig.platform import wait_for


def test_publish_aggregate_and_status(tmp_path: Path) -> None:
    with start_agent(tmp_path / "data", tmp_path / "logs") as agent:
        dda = DeviceAgentInterface("tank-app", agent.target)
        try:
            assert dda.publish_to_channel("tank", {"level": 40.5}) == 1
            assert dda.publish_to_channel("tank", {"pump": True}, record_log=False) == 2
            seq = dda.publish_to_channel("tank", {"level": 41}, aggregate={"mode": "auto"})
            assert seq == 3
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
