"""Fixtures for the platform bridge: a fresh process image, the plant side, a real bridge.

``plant`` is an independent revpimodio2 instance opened with ``simulator=True`` on the same
files as the bridge: tests drive inputs through it and check outputs with it, so every result
is seen the way hardware would see it, not through the bridge's own eyes.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from bridges.platform import SAMPLE_CONFIGRSC
from bridges.platform.image import create_image_file, open_process_image
from bridges.platform.iotable import IOKind, IOTable, IOValue
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.bridges import BridgeProcess, free_port, python_module_argv, start_bridge

__all__ = [
    "Plant",
    "PlatformBridge",
    "marker_command",
    "plant",
    "platform_argv",
    "platform_bridge",
    "platform_stub",
    "power_flags",
    "procimg",
    "wait_for",
]


def wait_for(predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` every 10 ms until it is truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")


class Plant:
    """The field side of the process image: writes inputs, reads outputs."""

    def __init__(self, procimg: Path, configrsc: Path = SAMPLE_CONFIGRSC) -> None:
        self.rpi: Any = open_process_image(procimg, configrsc, simulator=True)
        self.table = IOTable.from_modio(self.rpi, simulator=True)

    def name(self, kind: IOKind, pin: int) -> str:
        return self.table.by_pin(kind, pin).name

    def set_inputs(self, **values: IOValue) -> None:
        self.rpi.readprocimg()
        for name, value in values.items():
            self.rpi.io[name].value = value
        self.rpi.writeprocimg()

    def get(self, name: str) -> IOValue:
        self.rpi.readprocimg()
        value: IOValue = self.rpi.io[name].value
        return value

    def raw(self, address: int, length: int = 1) -> bytes:
        with open(self.rpi.procimg, "rb") as image:
            image.seek(address)
            return image.read(length)

    def close(self) -> None:
        self.rpi.cleanup()


@dataclass
class PlatformBridge:
    process: BridgeProcess
    target: str
    procimg: Path


def platform_argv(procimg: Path, target: str, *extra: str) -> list[str]:
    return python_module_argv(
        "revlink",
        "bridge",
        "platform",
        "--procimg",
        str(procimg),
        "--configrsc",
        str(SAMPLE_CONFIGRSC),
        "--listen",
        target,
        *extra,
    )


def marker_command(marker: Path, word: str) -> str:
    """A command line that appends ``word`` to ``marker``: a stand-in for reboot and friends."""
    script = f"open({str(marker)!r}, 'a').write({word!r} + '\\n')"
    return shlex.join([sys.executable, "-c", script])


def power_flags(marker: Path) -> tuple[str, ...]:
    """Flags enabling power control with commands that only write ``marker``."""
    return (
        "--allow-power-control",
        "--reboot-command",
        marker_command(marker, "reboot"),
        "--shutdown-command",
        marker_command(marker, "shutdown"),
        "--rtc-sync-command",
        marker_command(marker, "rtc"),
    )


@pytest.fixture
def procimg(tmp_path: Path) -> Path:
    return create_image_file(tmp_path / "procimg.bin")


@pytest.fixture
def plant(procimg: Path) -> Iterator[Plant]:
    field = Plant(procimg)
    yield field
    field.close()


@pytest.fixture
def platform_bridge(
    procimg: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[PlatformBridge]:
    """``revlink bridge platform`` as a real process; extra flags via indirect parametrize."""
    extra: tuple[str, ...] = tuple(getattr(request, "param", ()))
    target = f"127.0.0.1:{free_port()}"
    with start_bridge(platform_argv(procimg, target, *extra), target, tmp_path / "logs") as proc:
        yield PlatformBridge(proc, target, procimg)


@pytest.fixture
async def platform_stub(
    platform_bridge: PlatformBridge,
) -> AsyncIterator[pb_grpc.PlatformServiceStub]:
    async with grpc.aio.insecure_channel(platform_bridge.target) as channel:
        yield pb_grpc.PlatformServiceStub(channel)
