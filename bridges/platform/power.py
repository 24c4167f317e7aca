"""System calls of the platform bridge: reboot, shutdown, shutdown immunity, RTC sync.

These act on the whole device, so the bridge only runs them when its operator said so: the
reboot and shutdown commands run only with power control enabled, each is a command the
operator configures (``systemctl reboot`` by default), and an immunity window refuses them for
a while. A RevPi cannot power itself on at a set time, so a startup schedule is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from bridges.platform.errors import (
    CommandFailedError,
    InvalidValueError,
    NotSupportedError,
    PowerControlDisabledError,
    ShutdownImmunityError,
)

__all__ = ["MAX_IMMUNITY_S", "PowerControl", "PowerSettings"]

log = structlog.get_logger(__name__)

MAX_IMMUNITY_S = 30 * 24 * 3600.0
MAX_SHUTDOWN_DELAY_S = 365 * 24 * 3600.0
COMMAND_TIMEOUT_S = 30.0
_OUTPUT_TAIL = 500


@dataclass(frozen=True, slots=True)
class PowerSettings:
    allow_power_control: bool = False
    reboot_command: str = "systemctl reboot"
    shutdown_command: str = "systemctl poweroff"
    rtc_sync_command: str = "hwclock --systohc"


class PowerControl:
    """Runs on the bridge's asyncio loop; ``clock`` is monotonic seconds."""

    def __init__(
        self, settings: PowerSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._immune_until = 0.0
        self._shutdown_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- immunity --------------------------------------------------------------------------

    def immunity_remaining(self) -> float:
        return max(0.0, self._immune_until - self._clock())

    def set_immunity(self, seconds: float) -> float:
        if not 0 <= seconds <= MAX_IMMUNITY_S:
            raise InvalidValueError(
                f"immunity must be 0..{MAX_IMMUNITY_S:.0f} s, not {seconds} (0 ends it)"
            )
        self._immune_until = self._clock() + seconds
        log.info("power.immunity", seconds=seconds)
        return self.immunity_remaining()

    # -- reboot and shutdown ---------------------------------------------------------------

    def _check_allowed(self, action: str) -> None:
        if not self.settings.allow_power_control:
            raise PowerControlDisabledError(
                f"{action} refused: power control is disabled on this bridge "
                "(the operator enables it with REVLINK_PLATFORM_ALLOW_POWER_CONTROL=true)"
            )

    def _check_not_immune(self, action: str) -> None:
        remaining = self.immunity_remaining()
        if remaining > 0:
            raise ShutdownImmunityError(
                f"{action} refused: shutdown immunity for another {remaining:.0f} s"
            )

    async def reboot(self) -> None:
        self._check_allowed("reboot")
        self._check_not_immune("reboot")
        await self._run("reboot", self.settings.reboot_command)

    async def shutdown(self) -> None:
        self._check_allowed("shutdown")
        self._check_not_immune("shutdown")
        await self._run("shutdown", self.settings.shutdown_command)

    def schedule_shutdown(self, delay_s: float) -> float:
        """Shut down in ``delay_s`` (replacing any earlier schedule); returns the Unix due time.

        A shutdown that comes due during an immunity waits until the immunity ends.
        """
        self._check_allowed("shutdown")
        if not 0 <= delay_s <= MAX_SHUTDOWN_DELAY_S:
            raise InvalidValueError(f"delay must be 0..{MAX_SHUTDOWN_DELAY_S:.0f} s, not {delay_s}")
        self.cancel_scheduled_shutdown()
        loop = asyncio.get_running_loop()
        self._shutdown_timer = loop.call_later(delay_s, self._scheduled_shutdown_due)
        log.warning("power.shutdown_scheduled", delay_s=delay_s)
        return time.time() + max(delay_s, self.immunity_remaining())

    def cancel_scheduled_shutdown(self) -> None:
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None

    def _scheduled_shutdown_due(self) -> None:
        remaining = self.immunity_remaining()
        loop = asyncio.get_running_loop()
        if remaining > 0:
            log.info("power.shutdown_postponed", immunity_s=remaining)
            self._shutdown_timer = loop.call_later(remaining, self._scheduled_shutdown_due)
            return
        self._shutdown_timer = None
        task = loop.create_task(self._run_logged("shutdown", self.settings.shutdown_command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_logged(self, action: str, command: str) -> None:
        with contextlib.suppress(CommandFailedError):  # _run logged it
            await self._run(action, command)

    def schedule_startup(self, delay_s: float) -> float:
        raise NotSupportedError(
            "a RevPi cannot power itself on at a set time (it has no wake-up timer)"
        )

    # -- RTC -------------------------------------------------------------------------------

    async def sync_rtc(self) -> None:
        if not self.settings.rtc_sync_command.strip():
            raise NotSupportedError(
                "no RTC sync command is configured (REVLINK_PLATFORM_RTC_SYNC_COMMAND)"
            )
        await self._run("rtc sync", self.settings.rtc_sync_command)

    # -- running commands ------------------------------------------------------------------

    async def _run(self, action: str, command: str) -> None:
        argv = shlex.split(command)
        if not argv:
            raise NotSupportedError(f"no {action} command is configured")
        log.warning("power.command", action=action, command=argv)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as exc:
            log.error("power.command_failed", action=action, error=str(exc))
            raise CommandFailedError(f"{action}: cannot run {argv[0]!r} ({exc})") from None
        try:
            output, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            log.error("power.command_failed", action=action, error="timed out")
            raise CommandFailedError(
                f"{action}: {argv[0]!r} did not finish within {COMMAND_TIMEOUT_S:.0f} s"
            ) from None
        if process.returncode != 0:
            tail = output.decode(errors="replace").strip()[-_OUTPUT_TAIL:]
            log.error("power.command_failed", action=action, code=process.returncode, out=tail)
            raise CommandFailedError(
                f"{action}: {argv[0]!r} exited with {process.returncode}: {tail}"
            )

    def close(self) -> None:
        self.cancel_scheduled_shutdown()
        for task in self._tasks:
            task.cancel()
