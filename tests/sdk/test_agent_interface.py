"""DeviceAgentInterface against a real agent process."""

from __future__ import annotations

import threading
from pathlib import Path

from apps.sdk.agent import DeviceAgentInterface
from tests.rig.agent import start_agent
from tests.rig.bridges import free_port
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
