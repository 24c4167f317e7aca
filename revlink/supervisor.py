"""A small process supervisor for ``revlink demo``: start parts, stop them all together.

Each part is a ``revlink`` subprocess. When any part exits on its own, or the supervisor gets
SIGTERM/SIGINT, every other part gets SIGTERM (then SIGKILL after a grace period), so a demo
never leaves orphans behind.
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
from types import FrameType

import structlog

__all__ = ["Part", "Supervisor"]

log = structlog.get_logger(__name__)


@dataclass
class Part:
    """One process of the demo: a ``revlink`` subcommand and where its output goes."""

    name: str
    args: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], None] | None = None  # blocks until the part serves, or raises
    process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "revlink", *self.args]


class Supervisor:
    def __init__(self, log_dir: Path, grace_period_s: float = 10.0) -> None:
        self.log_dir = log_dir
        self.grace_period_s = grace_period_s
        self.parts: list[Part] = []
        self._stop = False

    def start(self, part: Part) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{part.name}.log"
        with log_path.open("ab") as output:
            part.process = subprocess.Popen(
                part.argv(),
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, **part.env},
            )
        self.parts.append(part)
        log.info("demo.part_started", part=part.name, pid=part.process.pid, log=str(log_path))
        if part.ready is not None:
            part.ready()

    def run_until_stopped(self) -> int:
        """Wait until a signal arrives or a part exits; then stop everything."""

        def request_stop(signum: int, frame: FrameType | None) -> None:
            self._stop = True

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        exit_code = 0
        try:
            while not self._stop:
                for part in self.parts:
                    assert part.process is not None
                    code = part.process.poll()
                    if code is not None:
                        log.error("demo.part_exited", part=part.name, exit_code=code)
                        exit_code = 1
                        self._stop = True
                time.sleep(0.2)
        finally:
            self.stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return exit_code

    def stop_all(self) -> None:
        for part in reversed(self.parts):
            if part.process is not None and part.process.poll() is None:
                part.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_period_s
        for part in reversed(self.parts):
            if part.process is None:
                continue
            try:
                part.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("demo.part_killed", part=part.name)
                part.process.kill()
                part.process.wait()
