"""What the SDK's process-level tests share: an agent per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rig.agent import AgentProcess, start_agent


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    with start_agent(tmp_path / "agent", tmp_path / "logs") as process:
        yield process
