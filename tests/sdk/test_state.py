"""``apps.sdk.state``: pydoover's ``StateMachine`` (transitions' AsyncMachine with timeouts)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from transitions.extensions.asyncio import AsyncMachine

from apps.sdk.state import MachineError, StateMachine, SyncStateMachine

START_TIMEOUT = 0.1
STOP_TIMEOUT = 0.1


class PumpState:
    """A pump controller written the way pydoover apps write their state classes."""

    state: str

    states: list[dict[str, Any]] = [  # noqa: RUF012 - pydoover apps declare them like this
        {"name": "off"},
        {"name": "starting", "timeout": START_TIMEOUT, "on_timeout": "start_failed"},
        {"name": "running"},
        {"name": "stopping", "timeout": STOP_TIMEOUT, "on_timeout": "force_stop"},
        {"name": "error", "on_enter": "raise_alarm"},
    ]

    transitions: list[dict[str, Any]] = [  # noqa: RUF012
        {"trigger": "start", "source": "off", "dest": "starting"},
        {"trigger": "started", "source": "starting", "dest": "running"},
        {"trigger": "stop", "source": ["starting", "running"], "dest": "stopping"},
        {"trigger": "stopped", "source": "stopping", "dest": "off"},
        {"trigger": "force_stop", "source": "stopping", "dest": "off"},
        {"trigger": "start_failed", "source": "starting", "dest": "error"},
        {"trigger": "reset", "source": "error", "dest": "off"},
        {"trigger": "set_error", "source": "*", "dest": "error"},
    ]

    def __init__(self, **machine_kwargs: Any) -> None:
        self.log: list[str] = []
        self.motor_on = False
        self.motor_spinning = False
        machine_kwargs.setdefault("queued", True)
        self.state_machine = StateMachine(
            states=self.states,
            transitions=self.transitions,
            model=self,
            initial="off",
            **machine_kwargs,
        )

    async def on_enter_starting(self) -> None:
        await asyncio.sleep(0)
        self.motor_on = True
        self.log.append("enter starting")

    async def on_enter_running(self) -> None:
        self.log.append("enter running")

    def on_exit_running(self) -> None:  # plain def callbacks work as well
        self.log.append("exit running")

    async def on_enter_stopping(self) -> None:
        self.motor_on = False
        self.log.append("enter stopping")
        if not self.motor_spinning:
            # queued=True: runs once this transition has finished
            await self.stopped()

    async def on_enter_off(self) -> None:
        self.log.append("enter off")

    async def raise_alarm(self) -> None:
        self.motor_on = False
        self.log.append("alarm")

    def on_timeout_starting(self) -> None:
        self.log.append("starting timed out")

    async def evaluate_state(self) -> str:
        """What a pydoover app's main loop calls each pass."""
        if self.state == "starting" and self.motor_spinning:
            await self.started()
        elif self.state == "running" and not self.motor_on:
            await self.stop()
        return self.state


async def _wait_for(predicate: Any, limit: float = 2.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_unqueued_machines_report_a_dropped_trigger_as_false() -> None:
    pump = PumpState(ignore_invalid_triggers=True, queued=False)
    assert await pump.stopped() is False
    assert await pump.start() is True


def test_the_module_mirrors_pydoover_state() -> None:
    assert issubclass(StateMachine, AsyncMachine)
    assert issubclass(MachineError, Exception)


async def test_a_full_pump_cycle_runs_enter_and_exit_callbacks() -> None:
    pump = PumpState()
    assert pump.state == "off"
    assert pump.is_off()

    assert await pump.start() is True
    assert pump.state == "starting"
    assert pump.motor_on is True

    pump.motor_spinning = True
    assert await pump.evaluate_state() == "running"
    assert pump.is_running()
    assert not pump.is_starting()

    pump.motor_spinning = False
    assert await pump.stop() is True
    # the queued ``stopped`` fired from on_enter_stopping has run by now
    assert pump.state == "off"
    assert pump.log == [
        "enter starting",
        "enter running",
        "exit running",
        "enter stopping",
        "enter off",
    ]


async def test_may_and_to_helpers_come_from_transitions() -> None:
    pump = PumpState()
    assert await pump.may_start() is True
    assert await pump.may_stop() is False
    assert await pump.to_running() is True
    assert pump.state == "running"


async def test_a_trigger_not_allowed_from_the_current_state_raises() -> None:
    pump = PumpState()
    with pytest.raises(MachineError, match="Can't trigger event stopped from state off"):
        await pump.stopped()
    assert pump.state == "off"
    assert pump.log == []


async def test_ignore_invalid_triggers_drops_them_instead() -> None:
    pump = PumpState(ignore_invalid_triggers=True)
    await pump.stopped()  # no MachineError
    assert pump.state == "off"
    assert pump.log == []
    assert await pump.start() is True
    assert pump.state == "starting"


async def test_one_machine_settings_do_not_leak_into_the_class_level_states() -> None:
    lenient = PumpState(ignore_invalid_triggers=True)
    await lenient.stopped()
    assert "ignore_invalid_triggers" not in PumpState.states[0]
    with pytest.raises(MachineError):
        await PumpState().stopped()


async def test_a_wildcard_source_is_allowed_from_every_state() -> None:
    pump = PumpState()
    await pump.start()
    await pump.set_error()
    assert pump.state == "error"
    assert pump.log[-1] == "alarm"
    assert pump.motor_on is False


async def test_a_state_that_lasts_past_its_timeout_fires_on_timeout() -> None:
    pump = PumpState()
    await pump.start()
    await _wait_for(pump.is_error)
    assert pump.log == ["enter starting", "starting timed out", "alarm"]
    assert pump.motor_on is False
    await pump.reset()
    assert pump.state == "off"


async def test_leaving_a_state_cancels_its_timeout() -> None:
    pump = PumpState()
    await pump.start()
    pump.motor_spinning = True
    await pump.evaluate_state()
    await asyncio.sleep(START_TIMEOUT * 2)
    assert pump.state == "running"
    assert "starting timed out" not in pump.log


async def test_a_stuck_stop_is_forced_by_its_timeout() -> None:
    pump = PumpState()
    await pump.start()
    pump.motor_spinning = True
    await pump.started()
    await pump.stop()  # the motor still spins, so on_enter_stopping does not finish the stop
    assert pump.state == "stopping"
    await _wait_for(pump.is_off)
    assert pump.log[-1] == "enter off"


async def test_a_timeout_without_on_timeout_is_refused() -> None:
    class Broken:
        state: str

    with pytest.raises(AttributeError, match="on_timeout"):
        StateMachine(model=Broken(), states=[{"name": "idle", "timeout": 1}], initial="idle")


async def test_each_model_keeps_its_own_state() -> None:
    first, second = PumpState(), PumpState()
    await first.start()
    assert first.state == "starting"
    assert second.state == "off"


class SyncPumpState:
    """The same controller for an app whose main loop is a plain ``def``."""

    state: str

    def __init__(self) -> None:
        self.log: list[str] = []
        self.timed_out = threading.Event()
        self.state_machine = SyncStateMachine(
            states=[
                {"name": "off"},
                {"name": "starting", "timeout": START_TIMEOUT, "on_timeout": "start_failed"},
                {"name": "running"},
                {"name": "error"},
            ],
            transitions=[
                {"trigger": "start", "source": "off", "dest": "starting"},
                {"trigger": "started", "source": "starting", "dest": "running"},
                {"trigger": "start_failed", "source": "starting", "dest": "error"},
            ],
            model=self,
            initial="off",
            queued=True,
        )

    def on_enter_running(self) -> None:
        self.log.append("enter running")

    def on_enter_error(self) -> None:
        self.log.append("enter error")
        self.timed_out.set()


def test_the_sync_machine_triggers_with_plain_calls() -> None:
    pump = SyncPumpState()
    assert pump.start() is True
    assert pump.started() is True
    assert pump.is_running()
    assert pump.log == ["enter running"]
    with pytest.raises(MachineError):
        pump.start()
    time.sleep(START_TIMEOUT * 2)
    assert pump.state == "running"


def test_the_sync_machine_times_out_from_a_timer_thread() -> None:
    pump = SyncPumpState()
    pump.start()
    assert pump.timed_out.wait(2.0)
    assert pump.state == "error"
    assert pump.log == ["enter error"]
