"""``UIManager`` against a real device agent: what a push publishes to ``ui_state`` and
``ui_cmds``, what a new ``ui_cmds`` aggregate runs, and what ``ui_observers`` says."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import structlog.testing

from apps.sdk import ui
from apps.sdk.agent import DeviceAgentInterface
from tests.rig.agent import AgentProcess, agent_status

Json = dict[str, Any]


async def eventually(check: Callable[[], Any], what: str, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def records(agent: AgentProcess) -> int:
    """How many records the agent has stored so far."""
    return int(agent_status(agent.target).last_enqueued_seq)


@pytest.fixture
async def peer(agent: AgentProcess) -> AsyncIterator[DeviceAgentInterface]:
    """Another client of the agent: where the cloud's writes come from, and a reader."""
    client = DeviceAgentInterface("cloud", agent.target)
    yield client
    await client.close_async()


@pytest.fixture
async def manager(agent: AgentProcess) -> AsyncIterator[ui.UIManager]:
    client = DeviceAgentInterface("tank", agent.target)
    yield ui.UIManager("tank", client, is_async=True)
    await client.close_async()


async def started(manager: ui.UIManager) -> ui.UIManager:
    manager.start_comms()
    assert await manager.await_comms_sync(5)
    return manager


async def app_state(peer: DeviceAgentInterface, key: str = "tank") -> Json:
    aggregate = await peer.get_channel_aggregate_async("ui_state")
    state: Json = aggregate["state"]["children"][key]
    return state


async def test_a_push_publishes_only_what_changed(
    agent: AgentProcess, manager: ui.UIManager, peer: DeviceAgentInterface
) -> None:
    messages: list[Json] = []

    async def on_message(channel: str, message: Json) -> None:
        messages.append(message)

    peer.add_subscription("ui_state", on_message, events=("message",))
    assert await peer.wait_for_channels_sync_async(["ui_state"], 5)  # its stream is open
    level = ui.NumericVariable("level", "Level (%)", curr_val=1.0)
    volume = ui.NumericVariable("volume", "Volume (L)")
    manager.add_children(level, ui.Submodule("pump", "Pump", children=[volume]))
    assert await manager.push_async() is False  # not subscribed yet: nothing sent
    await started(manager)

    assert await manager.push_async()
    whole = {"state": {"children": {"tank": manager._base_container.to_dict()}}}
    await eventually(lambda: len(messages) == 1, "the first push's message")
    assert messages[0] == whole
    assert await peer.get_channel_aggregate_async("ui_state") == whole

    level.current_value = 2.0
    volume.current_value = 20
    assert await manager.push_async()
    await eventually(lambda: len(messages) == 2, "the second push's message")
    assert messages[1] == {
        "state": {
            "children": {
                "tank": {
                    "children": {
                        "level": {"currentValue": 2.0},
                        "pump": {"children": {"volume": {"currentValue": 20}}},
                    }
                }
            }
        }
    }

    before = records(agent)
    assert await manager.push_async()  # nothing changed: nothing is published
    assert records(agent) == before

    manager.remove_children(level)
    assert await manager.push_async(record_log=False)
    state = await app_state(peer)
    assert set(state["children"]) == {"pump"}
    assert state["children"]["pump"]["children"]["volume"]["currentValue"] == 20
    assert len(messages) == 2  # record_log=False: merged into the aggregate, no message


async def test_handle_comms_keeps_a_message_only_when_due(
    agent: AgentProcess, manager: ui.UIManager, peer: DeviceAgentInterface
) -> None:
    messages: list[Json] = []

    async def on_message(channel: str, message: Json) -> None:
        messages.append(message)

    peer.add_subscription("ui_state", on_message, events=("message",))
    assert await peer.wait_for_channels_sync_async(["ui_state"], 5)
    level = ui.NumericVariable("level", "Level", curr_val=1)
    running = ui.BooleanVariable("running", "Running", curr_val=False)
    manager.add_children(level, running)
    await started(manager)
    await manager.handle_comms_async()  # the first push is kept as a message
    await eventually(lambda: len(messages) == 1, "the first message")
    level.current_value = 2
    await manager.handle_comms_async()  # routine: the aggregate only
    await asyncio.sleep(0.2)
    assert len(messages) == 1
    assert (await app_state(peer))["children"]["level"]["currentValue"] == 2
    level.update(3)
    manager.update_variable("level", 4, critical=True)  # critical: logged at once
    await manager.handle_comms_async()
    await eventually(lambda: len(messages) == 2, "the critical message")
    running.current_value = True  # a BooleanVariable logs every change (log_threshold 0)
    await manager.handle_comms_async()
    await eventually(lambda: len(messages) == 3, "the logged change")
    manager.record_critical_value("pressure", 7)  # pydoover's older call
    level.current_value = 5
    await manager.handle_comms_async()
    await eventually(lambda: len(messages) == 4, "the critical value's message")
    manager.set_min_ui_update_period(0)  # every push is now due to be logged
    level.current_value = 6
    await manager.handle_comms_async(force_log=False)
    await eventually(lambda: len(messages) == 5, "the periodic message")
    assert messages[-1] == {
        "state": {"children": {"tank": {"children": {"level": {"currentValue": 6}}}}}
    }


async def test_an_input_runs_its_callbacks_once_per_change(
    manager: ui.UIManager, peer: DeviceAgentInterface
) -> None:
    seen: list[tuple[str, Any]] = []

    async def on_speed(value: Any) -> None:
        seen.append(("speed", value))

    def on_start(value: Any) -> None:  # plain callbacks run in a worker thread
        seen.append(("start", value))

    class Patterns:
        @ui.callback(r"do_\d+")
        async def any_do(self, element: Any, value: Any) -> None:
            seen.append((f"pattern {element.name if element else None}", value))

        @ui.callback("camera_get_now", global_interaction=True)
        def camera(self, element: Any, value: Any) -> None:
            seen.append(("camera", value))

    speed = ui.Slider("speed", "Speed", callback=on_speed)
    start = ui.Action("start", "Start", callback=on_start)
    manager.add_children(speed, start, ui.Action("do_1", "DO 1"))
    manager.register_callbacks(Patterns())
    updates: list[int] = []
    manager.add_cmds_update_subscription(lambda: updates.append(1))
    await started(manager)
    assert seen == []  # an empty ui_cmds: nothing changed

    write = {"cmds": {"tank_speed": 40, "tank_start": True, "other_app_x": 1}}
    await peer.publish_to_channel_async("ui_cmds", write, record_log=False)
    await eventually(lambda: len(seen) == 2, "the callbacks")
    assert sorted(seen) == [("speed", 40), ("start", True)]
    assert speed.current_value == 40
    await peer.publish_to_channel_async("ui_cmds", write, record_log=False)  # the same again
    await peer.publish_to_channel_async(
        "ui_cmds", {"cmds": {"tank_speed": 55, "tank_do_1": 1, "camera_get_now": True}}, False
    )
    await eventually(lambda: len(seen) == 5, "the changed ones")
    await asyncio.sleep(0.2)
    assert sorted(seen[2:]) == [("camera", True), ("pattern tank_do_1", 1), ("speed", 55)]
    assert len(seen) == 5
    assert len(updates) == 4  # the first aggregate and the three writes
    assert manager.get_command("other_app_x") is None  # kept, but not this app's
    assert "other_app_x" in manager.get_all_interaction_names()


async def test_a_failing_callback_is_logged_and_the_others_still_run(
    manager: ui.UIManager, peer: DeviceAgentInterface
) -> None:
    seen: list[Any] = []

    def broken(value: Any) -> None:
        raise RuntimeError("pump offline")

    manager.add_children(
        ui.Action("a", "A", callback=broken), ui.Action("b", "B", callback=seen.append)
    )
    await started(manager)
    with structlog.testing.capture_logs() as logs:
        await peer.publish_to_channel_async(
            "ui_cmds", {"cmds": {"tank_a": True, "tank_b": True}}, False
        )
        await eventually(lambda: seen == [True], "the second callback")
    failed = [e for e in logs if e["event"] == "ui.callback_failed"]
    assert [e["command"] for e in failed] == ["tank_a"]


async def test_coerce_publishes_the_apps_own_commands_and_the_echo_runs_the_callback(
    manager: ui.UIManager, peer: DeviceAgentInterface
) -> None:
    seen: list[Any] = []
    speed = ui.Slider("speed", "Speed", callback=seen.append)
    manager.add_children(speed, ui.Action("stop", "Stop"))
    await peer.publish_to_channel_async("ui_cmds", {"cmds": {"other_app_x": 5}}, False)
    await started(manager)
    manager.coerce_command("speed", 30)
    manager.coerce_command("nonexistent", 1)  # logged and ignored, as in pydoover
    assert await manager.push_async()
    commands = (await peer.get_channel_aggregate_async("ui_cmds"))["cmds"]
    assert commands == {"other_app_x": 5, "tank_speed": 30}  # another app's left alone
    await eventually(lambda: seen == [30], "the echo's callback")
    assert (await app_state(peer))["children"]["tank_speed"]["currentValue"] == 30
    assert await manager.push_async()  # unchanged since: ui_cmds is not written again
    manager.remove_children(speed)
    assert await manager.push_async()
    commands = (await peer.get_channel_aggregate_async("ui_cmds"))["cmds"]
    assert commands == {"other_app_x": 5}  # the removed interaction's command went too


async def test_is_being_observed_follows_ui_observers(
    manager: ui.UIManager, peer: DeviceAgentInterface
) -> None:
    await started(manager)
    assert manager.is_being_observed() is False
    await peer.publish_to_channel_async("ui_observers", {"connections": {"browser-1": True}}, False)
    await eventually(manager.is_being_observed, "an observer")
    assert await manager.push_async()
    assert manager._get_max_age()[1] == manager.min_observed_update_period  # pydoover's hint
    await peer.publish_to_channel_async("ui_observers", {"connections": {"browser-1": None}})
    await eventually(lambda: not manager.is_being_observed(), "no observer")
    assert manager.client is not None
    manager.client.agent_id = "agent-7"  # the device's own connection does not count
    await peer.publish_to_channel_async("ui_observers", {"connections": {"agent-7": True}})
    await eventually(
        lambda: "agent-7" in manager.last_ui_state_wss_connections["connections"], "the update"
    )
    assert manager.is_being_observed() is False


async def test_clear_ui_removes_only_this_apps_part(
    manager: ui.UIManager, peer: DeviceAgentInterface
) -> None:
    other = {"state": {"children": {"other_app": {"name": "other_app", "children": {}}}}}
    await peer.publish_to_channel_async("ui_state", other, record_log=False)
    manager.add_children(ui.TextVariable("state", "State", curr_val="ok"))
    await started(manager)
    assert await manager.push_async()
    children = (await peer.get_channel_aggregate_async("ui_state"))["state"]["children"]
    assert set(children) == {"other_app", "tank"}
    await manager.clear_ui_async()
    children = (await peer.get_channel_aggregate_async("ui_state"))["state"]["children"]
    assert set(children) == {"other_app"}
    assert await manager.push_async()  # everything again: the channel holds none of it
    assert (await app_state(peer))["children"]["state"]["currentValue"] == "ok"


async def test_pull_reads_both_aggregates_and_a_variable_keeps_its_last_value(
    agent: AgentProcess, peer: DeviceAgentInterface
) -> None:
    kept = {"state": {"children": {"tank": {"children": {"level": {"currentValue": 61.5}}}}}}
    await peer.publish_to_channel_async("ui_state", kept, record_log=False)
    await peer.publish_to_channel_async("ui_cmds", {"cmds": {"tank_mode": "auto"}}, False)
    seen: list[Any] = []
    client = DeviceAgentInterface("tank", agent.target)
    manager = ui.UIManager("tank", client, is_async=False)  # a sync app's manager
    level = ui.Variable("level", "Level", "float")  # no value of its own
    manager.add_children(level, ui.StateCommand("mode", "Mode", callback=seen.append))
    try:
        await asyncio.to_thread(manager.pull)  # the plain name blocks in a sync app
        assert level.current_value == 61.5
        assert seen == ["auto"]
        assert manager.get_from_ui_state("level") == {"currentValue": 61.5}
    finally:
        await client.close_async()


async def test_values_json_cannot_carry_are_published_as_null(
    manager: ui.UIManager, peer: DeviceAgentInterface
) -> None:
    level = ui.NumericVariable("level", "Level", curr_val=5.0)
    manager.add_children(level)
    await started(manager)
    assert await manager.push_async(max_age=-1)  # pydoover's hint: accepted, ignored
    level.current_value = math.nan  # a sensor that failed: no value shown
    assert await manager.push_async()
    assert "currentValue" not in (await app_state(peer))["children"]["level"]
    level.current_value = 7.0
    assert await manager.push_async()
    assert (await app_state(peer))["children"]["level"]["currentValue"] == 7.0


async def test_plain_names_answer_in_the_apps_style(
    agent: AgentProcess, peer: DeviceAgentInterface
) -> None:
    client = DeviceAgentInterface("tank", agent.target)
    asynchronous = ui.UIManager("tank", client, is_async=True)
    asynchronous.add_children(ui.TextVariable("state", "State", curr_val="a"))
    try:
        await started(asynchronous)
        pending = asynchronous.push()  # in a coroutine of an async app: an awaitable
        assert asyncio.iscoroutine(pending)
        assert await pending is True
        await asynchronous.publish_to_channel("significantEvent", {"message": "low level"})
        assert (await peer.get_channel_aggregate_async("significantEvent")) == {
            "message": "low level"
        }
    finally:
        await client.close_async()


async def test_comms_started_from_a_worker_thread_still_deliver_inputs(
    agent: AgentProcess, peer: DeviceAgentInterface
) -> None:
    """A sync app's hook may call ``start_ui_comms()``: the subscriptions are made on the
    app's loop, and a plain ``push`` from a callback's thread blocks until published."""
    client = DeviceAgentInterface("tank", agent.target)
    manager = ui.UIManager("tank", client, is_async=False)
    with pytest.raises(RuntimeError, match="give the UIManager its app's loop"):
        await asyncio.to_thread(manager.start_comms)
    manager.loop = asyncio.get_running_loop()  # what the Application does before setup()
    state = ui.TextVariable("state", "State", curr_val="idle")

    def on_start(value: Any) -> None:
        state.current_value = "started"
        assert manager.push() is True

    manager.add_children(state, ui.Action("start", "Start", callback=on_start))
    try:
        await asyncio.to_thread(manager.start_comms)
        assert await manager.await_comms_sync(5)
        await peer.publish_to_channel_async("ui_cmds", {"cmds": {"tank_start": True}}, False)

        async def shown() -> bool:
            return (await app_state(peer))["children"]["state"]["currentValue"] == "started"

        for _ in range(100):
            aggregate = await peer.get_channel_aggregate_async("ui_state")
            if aggregate and await shown():
                break
            await asyncio.sleep(0.05)
        assert await shown()
    finally:
        await client.close_async()
