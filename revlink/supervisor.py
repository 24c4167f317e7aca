"""A small process supervisor for ``revlink demo``: start parts in order, stop them in tiers.

Each part is a ``revlink`` subprocess with a *stop tier*. Stopping (on SIGTERM, SIGINT or
SIGHUP, or because a part exited on its own) goes tier by tier, lowest first: every part of a
tier gets SIGTERM, and the next tier is only signalled once all of them have exited, so a part
never loses what it talks to while it shuts down. A part still running at the end of its own
grace period is SIGKILLed; that is logged as an error and makes the result non-zero.

Parts run in their own process groups: a terminal's Ctrl-C reaches the supervisor only, which
then stops the parts in order instead of all of them at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import structlog

__all__ = [
    "EXIT_FAILED",
    "EXIT_KILLED",
    "EXIT_OK",
    "Part",
    "StartError",
    "StopRequested",
    "Supervisor",
]

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1  # a part exited on its own, or failed (non-zero) when asked to stop
EXIT_KILLED = 3  # a part was still running at the end of its grace period and was SIGKILLed

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StartError(RuntimeError):
    """A part exited or did not become ready while starting."""


class StopRequested(Exception):  # noqa: N818 - a request, not an error
    """A stop signal arrived while parts were still being started."""


@dataclass
class Part:
    """One process: a ``revlink`` subcommand, when it counts as up, and how it is stopped."""

    name: str
    args: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None  # True once the part serves; polled after start
    stop_tier: int = 0  # lower tiers stop first; a tier's parts stop together
    grace_period_s: float = 10.0  # from SIGTERM to SIGKILL
    process: subprocess.Popen[bytes] | None = None
    finished: bool = False  # its exit has been seen and reported

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "revlink", *self.args]


class Supervisor:
    """Use as a context manager: stop signals are caught inside it, and leaving it stops all."""

    def __init__(self, log_dir: Path, poll_s: float = 0.1) -> None:
        self.log_dir = log_dir
        self.poll_s = poll_s
        self.parts: list[Part] = []
        self.result = EXIT_OK  # the worst outcome so far: EXIT_OK < EXIT_FAILED < EXIT_KILLED
        self._stop_signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Supervisor:
        self._previous = {s: signal.signal(s, self._request_stop) for s in STOP_SIGNALS}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.stop_all()
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum

    @property
    def stop_requested(self) -> bool:
        return self._stop_signal is not None

    def _fail(self, code: int) -> None:
        self.result = max(self.result, code)

    def start(self, part: Part, ready_timeout_s: float = 30.0) -> None:
        """Start ``part`` and wait until it is ready; raises StartError or StopRequested."""
        if self.stop_requested:
            raise StopRequested
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{part.name}.log"
        with log_path.open("ab") as output:
            part.process = subprocess.Popen(
                part.argv(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, **part.env},
                process_group=0,
            )
        self.parts.append(part)
        log.info("demo.part_started", part=part.name, pid=part.process.pid, log=str(log_path))
        deadline = time.monotonic() + ready_timeout_s
        while part.ready is not None and not part.ready():
            if self.stop_requested:
                raise StopRequested
            code = part.process.poll()
            if code is not None:
                part.finished = True
                self._fail(EXIT_FAILED)
                raise StartError(f"{part.name} exited with code {code} while starting")
            if time.monotonic() > deadline:
                raise StartError(f"{part.name} was not ready within {ready_timeout_s:.0f} s")
            time.sleep(self.poll_s)

    def run_until_stopped(self) -> int:
        """Wait until a stop signal arrives or a part exits; then stop all and say how it went."""
        while not self.stop_requested and not self._report_exits():
            time.sleep(self.poll_s)
        result = self.stop_all()
        log.info("demo.stopped", exit_code=result)
        return result

    def _report_exits(self) -> bool:
        """Report parts that exited without being asked to; True when there was one."""
        exited = False
        for part in self.parts:
            assert part.process is not None
            code = part.process.poll()
            if not part.finished and code is not None:
                part.finished = exited = True
                self._fail(EXIT_FAILED)
                log.error("demo.part_exited", part=part.name, exit_code=code)
        return exited

    def stop_all(self, reason: str = "") -> int:
        """Stop every running part, tier by tier; return the result (an ``EXIT_*`` code)."""
        self._report_exits()
        if self._stop_signal is not None:
            reason = signal.Signals(self._stop_signal).name
        reason = reason or "part exited"
        for tier in sorted({part.stop_tier for part in self.parts}):
            group = [part for part in self.parts if part.stop_tier == tier and not part.finished]
            if not group:
                continue
            log.info("demo.stopping", tier=tier, parts=[p.name for p in group], reason=reason)
            deadlines = {}
            for part in group:
                assert part.process is not None
                part.process.send_signal(signal.SIGTERM)
                deadlines[part.name] = time.monotonic() + part.grace_period_s
            for part in group:
                self._wait(part, deadlines[part.name])
        return self.result

    def _wait(self, part: Part, deadline: float) -> None:
        assert part.process is not None
        part.finished = True
        try:
            code = part.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            part.process.kill()
            part.process.wait()
            self._fail(EXIT_KILLED)
            log.error(
                "demo.part_killed",
                part=part.name,
                grace_period_s=part.grace_period_s,
                log=str(self.log_dir / f"{part.name}.log"),
            )
            return
        if code in (0, -signal.SIGTERM):  # some servers (uvicorn) re-raise it once they are done
            log.info("demo.part_stopped", part=part.name, exit_code=code)
        else:
            self._fail(EXIT_FAILED)
            log.error("demo.part_stop_failed", part=part.name, exit_code=code)
