"""Help texts reach the reader whole: "[env VAR; default X]" is text, not markup to strip."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["bridge", "platform"], "[env REVLINK_PROCIMG; default"),
        (["bridge", "plugins"], "[env REVLINK_PLUGINS_DATA_DIR; default"),
        (["cloud", "serve"], "[env REVLINK_CLOUD_LISTEN"),
    ],
)
def test_help_keeps_env_and_default_hints(command: list[str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "revlink", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert expected in " ".join(result.stdout.split())  # wherever the lines were wrapped
