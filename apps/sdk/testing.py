"""Testing apps against real bridges on a simulated RevPi, one loop at a time.

``SimulatedRevPi`` starts a real platform bridge on a fresh process-image file (the shipped
piCtory config unless you pass your own) and a real device agent (offline), both on free
ports, and gives the test the field side of the image: ``rig.plant`` sets inputs and reads
outputs through its own revpimodio2 instance, by IO name or by pin. ``rig.app(MyApp, {...})``
builds the app in test mode against those bridges; inside ``async with rig.running(app):``
each ``await app.next()`` runs exactly one ``main_loop``::

    async def test_pump_starts_when_low(tmp_path):
        async with SimulatedRevPi(tmp_path) as rig:
            app = rig.app(TankLevel, config={"start_below": 30})
            async with rig.running(app):
                rig.plant.set_ai(0, 2000)   # 20 % of 10 V on AI pin 0
                await app.next()
                assert rig.plant.get_do(0) is True
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import revpimodio2

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
from apps.sdk.platform import IOInfo, PlatformInterface

__all__ = ["Plant", "SimulatedRevPi"]

A = TypeVar("A", bound=Application)
IMAGE_BYTES = 4096


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Plant:
    """The field side of the process image: inputs written, outputs read, like hardware."""

    def __init__(self, procimg: Path, configrsc: Path, table: list[IOInfo]) -> None:
        self._rpi: Any = revpimodio2.RevPiModIO(
            procimg=str(procimg),
            configrsc=str(configrsc),
            simulator=True,
            shared_procimg=True,
            debug=False,
        )
        self._names = {(io.kind, io.pin): io.name for io in table}

    def name(self, kind: str, pin: int) -> str:
        return self._names[(kind, pin)]

    def set(self, **values: bool | int) -> None:
        """Set inputs by piCtory name, e.g. ``plant.set(I_1=True, InputValue_1=2000)``."""
        self._rpi.readprocimg()
        for name, value in values.items():
            self._rpi.io[name].value = value
        self._rpi.writeprocimg()

    def set_di(self, pin: int, value: bool) -> None:
        self.set(**{self.name("DI", pin): value})

    def set_ai(self, pin: int, value: int) -> None:
        self.set(**{self.name("AI", pin): value})

    def get(self, name: str) -> bool | int:
        self._rpi.readprocimg()
        value: bool | int = self._rpi.io[name].value
        return value

    def get_do(self, pin: int) -> bool:
        return bool(self.get(self.name("DO", pin)))

    def get_ao(self, pin: int) -> int:
        return int(self.get(self.name("AO", pin)))

    def close(self) -> None:
        self._rpi.cleanup()


class SimulatedRevPi:
    def __init__(self, workdir: Path, configrsc: Path | None = None) -> None:
        self.workdir = Path(workdir)
        self.configrsc = configrsc
        self.platform_uri = f"127.0.0.1:{_free_port()}"
        self.agent_uri = f"127.0.0.1:{_free_port()}"
        self._processes: list[subprocess.Popen[bytes]] = []
        self._plant: Plant | None = None

    @property
    def plant(self) -> Plant:
        if self._plant is None:
            raise RuntimeError("use SimulatedRevPi as `async with`")
        return self._plant

    async def __aenter__(self) -> SimulatedRevPi:
        self.workdir.mkdir(parents=True, exist_ok=True)
        procimg = self.workdir / "procimg.bin"
        procimg.write_bytes(bytes(IMAGE_BYTES))
        config = self.configrsc or self.workdir / "config.rsc"
        if self.configrsc is None:
            self._revlink("sample-config", str(config), log_name="sample-config").wait(30)
        self._processes += [
            self._revlink(
                "bridge",
                "platform",
                "--procimg",
                str(procimg),
                "--configrsc",
                str(config),
                "--listen",
                self.platform_uri,
                log_name="platform",
            ),
            self._revlink(
                "bridge",
                "agent",
                "--listen",
                self.agent_uri,
                "--data-dir",
                str(self.workdir / "agent"),
                log_name="agent",
            ),
        ]
        platform = PlatformInterface("test", self.platform_uri)
        agent = DeviceAgentInterface("test", self.agent_uri)
        try:
            for bridge in (platform, agent):
                if not await bridge.wait_until_healthy_async(30):
                    raise RuntimeError(f"{bridge.name} bridge did not start; see {self.workdir}")
            table = await platform.list_io_async()
        finally:
            await platform.close_async()
            await agent.close_async()
        self._plant = Plant(procimg, config, table)
        return self

    def _revlink(self, *args: str, log_name: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{log_name}.log").open("ab")
        env = {**os.environ, "REVLINK_AGENT_METRICS_LISTEN": ""}
        with log:
            return subprocess.Popen(
                [sys.executable, "-m", "revlink", *args], stdout=log, stderr=log, env=env
            )

    def app(self, app_class: type[A], config: dict[str, Any] | None = None, **kwargs: Any) -> A:
        """The app in test mode, wired to these bridges, with ``config`` as its CONFIG_FP."""
        config_fp = None
        if config is not None:
            config_fp = self.workdir / f"{app_class.__name__}-config.json"
            config_fp.write_text(json.dumps(config))
        return app_class(
            app_key=kwargs.pop("app_key", app_class.__name__.lower()),
            device_agent=DeviceAgentInterface("test", self.agent_uri),
            platform_iface=PlatformInterface("test", self.platform_uri),
            test_mode=True,
            config_fp=config_fp,
            healthcheck_port=kwargs.pop("healthcheck_port", _free_port()),
            **kwargs,
        )

    @contextlib.asynccontextmanager
    async def running(self, app: Application) -> AsyncIterator[Application]:
        """Run ``app`` (setup first); stop it and check it ended cleanly on the way out."""
        task = asyncio.create_task(app.run())
        await app.wait_until_ready()
        try:
            yield app
        finally:
            app.stop()
            code = await asyncio.wait_for(task, 30)
            if code != 0:
                raise AssertionError(f"{app.name} exited with {code}")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._plant is not None:
            self._plant.close()
        for process in self._processes:
            process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                await asyncio.to_thread(process.wait, 15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
