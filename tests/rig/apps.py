"""Running a device app as its own process and probing it from the outside."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx


def app_healthy(port: int) -> bool:
    """True when an app's health endpoint answers 200."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def app_process(argv: Sequence[str], env: Mapping[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The app's process, output captured; killed on the way out if it still runs."""
    with subprocess.Popen(
        list(argv), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as app:
        try:
            yield app
        finally:
            app.kill()


def finish(app: subprocess.Popen[str], stop: bool = True, timeout: float = 30) -> tuple[int, str]:
    """(exit code, everything it printed), after SIGTERM when ``stop``, else once it exits."""
    if stop:
        app.send_signal(signal.SIGTERM)
    code = app.wait(timeout)
    return code, app.stdout.read() if app.stdout else ""
