"""Reboot, shutdown and RTC sync with power control enabled: the operator's commands run.

The commands are configured to write marker files, so the machine is never rebooted.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.sdk.errors import BridgeError, FailedPreconditionError
from apps.sdk.platform import PlatformInterface
from tests.rig.bridges import free_port, start_bridge
from tests.rig.platform import marker_command, platform_argv, wait_for


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "actions.txt"


@pytest.fixture
def platform(procimg: Path, tmp_path: Path, marker: Path) -> Iterator[PlatformInterface]:
    target = f"127.0.0.1:{free_port()}"
    env = {
        "REVLINK_PLATFORM_ALLOW_POWER_CONTROL": "true",
        "REVLINK_PLATFORM_REBOOT_COMMAND": marker_command(marker, "reboot"),
        "REVLINK_PLATFORM_SHUTDOWN_COMMAND": marker_command(marker, "shutdown"),
        # The flag below wins over its variable.
        "REVLINK_PLATFORM_RTC_SYNC_COMMAND": marker_command(marker, "rtc-from-env"),
    }
    flags = ("--rtc-sync-command", marker_command(marker, "rtc"))
    argv = platform_argv(procimg, target, *flags)
    with start_bridge(argv, target, tmp_path / "logs", env=env):
        client = PlatformInterface("test-app", target)
        yield client
        client.close()


def actions(marker: Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


def test_reboot_shutdown_and_rtc_run_the_operators_commands(
    platform: PlatformInterface, marker: Path
) -> None:
    platform.reboot()
    platform.shutdown()
    platform.sync_rtc()
    assert actions(marker) == ["reboot", "shutdown", "rtc"]


def test_immunity_refuses_and_postpones_shutdowns(
    platform: PlatformInterface, marker: Path
) -> None:
    platform.set_immunity_seconds(1.5)
    with pytest.raises(FailedPreconditionError, match="immunity") as refused:
        platform.reboot()
    assert refused.value.reason == "SHUTDOWN_IMMUNITY"
    started = time.monotonic()
    due_in = platform.schedule_shutdown(0.1)
    assert 1.0 < due_in <= 1.5  # due when the immunity ends
    wait_for(lambda: actions(marker) == ["shutdown"], 10, "the postponed shutdown")
    assert time.monotonic() - started >= 1.3


def test_a_later_schedule_replaces_the_earlier_one(
    platform: PlatformInterface, marker: Path
) -> None:
    platform.schedule_shutdown(0.3)
    platform.schedule_shutdown(0.6)
    wait_for(lambda: actions(marker) == ["shutdown"], 10, "the scheduled shutdown")
    time.sleep(0.5)
    assert actions(marker) == ["shutdown"]


def test_a_failing_command_is_reported(procimg: Path, tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    failing = shlex.join([sys.executable, "-c", "import sys; sys.exit('no RTC here')"])
    env = {"REVLINK_PLATFORM_RTC_SYNC_COMMAND": failing}
    with start_bridge(platform_argv(procimg, target), target, tmp_path / "logs", env=env):
        client = PlatformInterface("test-app", target)
        try:
            with pytest.raises(BridgeError, match="no RTC here") as failed:
                client.sync_rtc()
            assert failed.value.reason == "COMMAND_FAILED"
            with pytest.raises(FailedPreconditionError, match="disabled"):
                client.reboot()  # power control stays off without the operator's setting
        finally:
            client.close()


def test_the_flags_set_power_control_over_the_environment(procimg: Path, tmp_path: Path) -> None:
    marker = tmp_path / "actions.txt"
    target = f"127.0.0.1:{free_port()}"
    env = {"REVLINK_PLATFORM_ALLOW_POWER_CONTROL": "true"}
    reboot = ("--reboot-command", marker_command(marker, "reboot"))
    argv = platform_argv(procimg, target, "--no-power-control", *reboot)
    with start_bridge(argv, target, tmp_path / "logs", env=env):
        client = PlatformInterface("test-app", target)
        try:
            with pytest.raises(FailedPreconditionError) as refused:
                client.reboot()
            assert refused.value.reason == "POWER_CONTROL_DISABLED"
        finally:
            client.close()
    argv = platform_argv(procimg, target, "--allow-power-control", *reboot)
    with start_bridge(argv, target, tmp_path / "logs2"):
        client = PlatformInterface("test-app", target)
        try:
            client.reboot()
        finally:
            client.close()
    assert actions(marker) == ["reboot"]
