"""A plugin distribution the tests install through its entry points, as pip would.

``counter`` counts its reads and can be told to fail, hang or return garbage after a number
of reads; it appends what happens to it (connect, writes, disconnect) to a trace file so a
test can see what the host did. ``stuck`` hangs in blocking driver code in its thread.
"""

from __future__ import annotations

import asyncio
import json
import operator
import time
from pathlib import Path
from typing import Any, ClassVar

from bridges.plugin_host.sdk import (
    Channel,
    DevicePlugin,
    Direction,
    PluginMeta,
    SyncDevicePlugin,
    Value,
)

KNOB = {"type": ["integer", "null"], "minimum": 1, "default": None}


class Counter(DevicePlugin):
    meta = PluginMeta("counter", "Counter", "1.0", "counts its reads")
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "start": {"type": "integer"},
            "trace": {"type": "string"},
            "fail_after": KNOB,
            "hang_after": KNOB,
            "garbage_after": KNOB,
            "leak": {"type": "boolean"},
        },
        "required": ["start"],
        "additionalProperties": False,
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.count = int(self.config["start"])
        self.reads = 0
        self.level: Value = 0

    def channels(self) -> list[Channel]:
        return [
            Channel("count", "Reads so far"),
            Channel("level", "Level", Direction.BIDIRECTIONAL, "%", 0, 10, safe_value=0),
        ]

    def trace(self, event: str, **fields: Any) -> None:
        if "trace" in self.config:
            with Path(self.config["trace"]).open("a") as out:
                out.write(json.dumps({"event": event, **fields}) + "\n")

    async def connect(self) -> None:
        self.trace("connect")

    async def disconnect(self) -> None:
        self.trace("disconnect")

    async def read_inputs(self) -> dict[str, Value]:
        self.reads += 1
        if self.config.get("leak"):  # exceptions escaping into the host's loop
            loop = asyncio.get_running_loop()
            loop.call_soon(operator.truediv, 1, 0)
            loop.create_task(self.explode())  # noqa: RUF006 - dropped on purpose
        if self.config.get("fail_after") and self.reads > self.config["fail_after"]:
            raise RuntimeError(f"boom after {self.reads - 1} reads")
        if self.config.get("hang_after") and self.reads > self.config["hang_after"]:
            await asyncio.sleep(3600)
        if self.config.get("garbage_after") and self.reads > self.config["garbage_after"]:
            return [1, 2, 3]  # type: ignore[return-value]  # deliberately not a dict
        self.count += 1
        return {"count": self.count, "level": self.level}

    async def explode(self) -> None:
        raise RuntimeError(f"stray task {self.reads}")

    async def write_output(self, channel_id: str, value: Value) -> None:
        self.trace("write", channel=channel_id, value=value)
        self.level = value


class Stuck(SyncDevicePlugin):
    meta = PluginMeta("stuck", "Stuck", "1.0", "hangs in its driver thread")

    def channels(self) -> list[Channel]:
        return [Channel("x", "X")]

    def read_inputs_sync(self) -> dict[str, Value]:
        time.sleep(3600)
        return {"x": 1}
