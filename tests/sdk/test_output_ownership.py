"""Apps on one real bridge cannot take each other's outputs; an operator can, explicitly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog.testing

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
from apps.sdk.errors import FailedPreconditionError, InvalidArgumentError
from apps.sdk.platform import IOInfo, PlatformInterface
from tests.rig.agent import AgentProcess
from tests.rig.bridges import free_port
from tests.rig.platform import Plant, PlatformBridge, wait_for


class Pump(Application):
    """Writes DO 0 every loop: on for the owner, off for the one that tries to steal it."""

    loop_target_period = 0.05
    error_wait_period = 0.05
    max_consecutive_failures = 2
    value = True

    async def main_loop(self) -> None:
        await self.platform_iface.set_do_async(0, self.value)


class Thief(Pump):
    value = False


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """What the apps built in the test log."""
    with structlog.testing.capture_logs() as captured:
        yield captured


def build(cls: type[Application], key: str, bridge: PlatformBridge, agent: AgentProcess) -> Any:
    return cls(
        app_key=key,
        device_agent=DeviceAgentInterface(key, agent.target),
        platform_iface=PlatformInterface(key, bridge.target),
        healthcheck_port=free_port(),
    )


async def until(predicate: Callable[[], object], what: str, timeout: float = 15) -> None:
    await asyncio.to_thread(wait_for, predicate, timeout, what)


async def io_info(platform: PlatformInterface, name: str) -> IOInfo:
    return next(io for io in await platform.list_io_async() if io.name == name)


def refusals(logs: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "app.output_owned" and e.get("app_key") == key]


async def test_a_second_app_cannot_take_the_first_apps_output(
    platform_bridge: PlatformBridge,
    agent: AgentProcess,
    plant: Plant,
    logs: list[dict[str, Any]],
) -> None:
    owner = build(Pump, "tank", platform_bridge, agent)
    thief = build(Thief, "thief", platform_bridge, agent)
    runs = [asyncio.create_task(owner.run())]
    try:
        await until(lambda: owner.loop_count > 0 and plant.get("O_1") is True, "pump on")
        runs.append(asyncio.create_task(thief.run()))
        await until(lambda: len(refusals(logs, "thief")) >= 3, "the thief refused 3 times")
        # The owner kept the output all along, and keeps looping.
        assert plant.get("O_1") is True
        loops = owner.loop_count
        await until(lambda: owner.loop_count > loops + 2, "the owner looping on")
        info = await io_info(owner.platform_iface, "O_1")
        assert info.owner == "tank"
        assert info.owner_lease_expire_time is not None
        assert info.owner_lease_expire_time > datetime.now(UTC)
        # The thief's refusals are warnings naming the owner; they do not end it.
        refusal = refusals(logs, "thief")[0]
        assert refusal["log_level"] == "warning"
        assert "O_1 is owned by 'tank'" in refusal["error"]
        assert not runs[1].done()
        assert (thief.consecutive_failures, thief.healthy) == (0, False)
        # What the thief's own call raises.
        with pytest.raises(FailedPreconditionError) as err:
            await thief.platform_iface.set_do_async(0, False)
        assert err.value.reason == "OUTPUT_OWNED"
        assert "'tank'" in err.value.details
    finally:
        for app in (owner, thief):
            app.stop()
        assert await asyncio.gather(*runs) == [0] * len(runs)
    assert not refusals(logs, "tank")
    assert plant.get("O_1") is False  # the owner's release put it back to its safe value


class SlowSetup(Application):
    """Writes in setup, then waits there until the test lets it go; picks its period there."""

    lease_ttl = None
    loop_target_period = 0.4  # the class's: the lease held during setup lasts 5 s

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.go_on = asyncio.Event()

    async def setup(self) -> None:
        await self.platform_iface.set_do_async(2, True)
        await self.go_on.wait()
        self.loop_target_period = 20.0  # chosen in setup: a 60 s lease from then on


async def test_setup_writes_are_leased_and_kept_while_setup_runs(
    platform_bridge: PlatformBridge, agent: AgentProcess, plant: Plant
) -> None:
    app = build(SlowSetup, "slow", platform_bridge, agent)
    other = PlatformInterface("other", platform_bridge.target)
    run = asyncio.create_task(app.run())
    try:
        await until(lambda: plant.get("O_3") is True, "setup's write")
        info = await io_info(other, "O_3")
        assert info.owner == "slow"
        # An unleased write (a pydoover-style app taking no lease) is refused too.
        with pytest.raises(FailedPreconditionError, match="owned by 'slow'"):
            await other.set_do_async(2, False)
        # Past the lease's 5 s: renewed in the background while setup still runs.
        expires = info.owner_lease_expire_time
        assert expires is not None
        await until(lambda: datetime.now(UTC) > expires + timedelta(seconds=1), "5 s on")
        assert (await io_info(other, "O_3")).owner == "slow"
        assert plant.get("O_3") is True
        app.go_on.set()
        await app.wait_until_ready()
        # Resized for the period setup chose, and still the app's output.
        info = await io_info(other, "O_3")
        assert info.owner == "slow"
        assert info.owner_lease_expire_time is not None
        assert info.owner_lease_expire_time > datetime.now(UTC) + timedelta(seconds=40)
    finally:
        app.stop()
        assert await run == 0
        await other.close_async()


class PumpAndValve(Pump):
    """Also opens a valve (DO 5) in setup; a short lease, and refusals waited out longer."""

    lease_ttl = 1.0
    error_wait_period = 1.5

    async def setup(self) -> None:
        await self.platform_iface.set_do_async(5, True)


async def test_an_operator_takes_over_and_gives_back(
    platform_bridge: PlatformBridge,
    agent: AgentProcess,
    plant: Plant,
    logs: list[dict[str, Any]],
) -> None:
    owner = build(PumpAndValve, "tank", platform_bridge, agent)
    operator = PlatformInterface("operator", platform_bridge.target)
    run = asyncio.create_task(owner.run())
    try:
        await until(lambda: plant.get("O_1") is True, "pump on")
        await operator.acquire_lease_async(30)
        taken = await operator.take_over_outputs_async(["O_1"], reason="manual test")
        assert taken == {"O_1": "tank"}
        await operator.set_do_async(0, False)
        await until(lambda: len(refusals(logs, "tank")) >= 3, "the owner refused 3 times")
        assert "O_1 is owned by 'operator'" in refusals(logs, "tank")[-1]["error"]
        assert plant.get("O_1") is False
        assert not run.done()  # more refusals than max_consecutive_failures: still running
        # Refused loops, each waited out for longer than the lease lives: the app is alive,
        # so its lease was renewed and the valve it still owns stayed open.
        assert (plant.get("O_6"), (await io_info(operator, "O_6")).owner) == (True, "tank")
        assert not [e for e in logs if e["event"] in ("sdk.lease_lost", "app.loop_failed")]
        await operator.release_lease_async(restore_safe_values=True)
        loops = owner.loop_count
        await until(lambda: owner.loop_count > loops and plant.get("O_1") is True, "pump back")
        assert (await io_info(operator, "O_1")).owner == "tank"
    finally:
        owner.stop()
        assert await run == 0
        await operator.close_async()


async def test_take_over_by_pin_needs_a_lease(platform_bridge: PlatformBridge) -> None:
    operator = PlatformInterface("operator", platform_bridge.target)
    try:
        with pytest.raises(InvalidArgumentError, match="needs the caller's lease"):
            await operator.take_over_outputs_async(do_pins=[3])
        await operator.acquire_lease_async(30)
        assert await operator.take_over_outputs_async(do_pins=[3], ao_pins=[1]) == {
            "O_4": "",
            "OutputValue_2": "",
        }
        assert (await io_info(operator, "OutputValue_2")).owner == "operator"
    finally:
        await operator.release_lease_async()
        await operator.close_async()
