"""What the host keeps on disk, so a restart carries on where it stopped.

One small JSON document holds every instance: its plugin, config, poll interval, whether it
should be running and whether the cloud manages it (a file from before cloud management has
no ``managed``: its instances load as made on the device). Another holds, per instance, the
newest agent event up to which its cloud commands were handled, so commands sent while the
host was down are still carried out. Each is rewritten whole on each change (write to a
temporary file, fsync, rename), so a power cut leaves either the old or the new file, never
half of one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog

__all__ = [
    "INSTANCE_NAME",
    "CommandCursors",
    "InstanceSpec",
    "InstanceStore",
    "InstanceStoreError",
]

INSTANCE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FORMAT_VERSION = 1

log = structlog.get_logger(__name__)


class InstanceStoreError(Exception):
    """The instances file cannot be read; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """What the operator asked for; the runtime state lives in the host, not here.

    ``managed`` instances were made by the cloud (see :mod:`bridges.plugin_host.managed`),
    which alone changes or removes them; ``public_id`` is the cloud's id for one, kept so its
    status names it even before the cloud's desired set has arrived after a restart.
    """

    name: str
    plugin_id: str
    config: dict[str, Any] = field(default_factory=dict)
    poll_interval_s: float = 1.0
    enabled: bool = False
    managed: bool = False
    public_id: str = ""


class InstanceStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[InstanceSpec]:
        if not self.path.exists():
            return []
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if document.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown format version {document.get('version')!r}")
            return [
                InstanceSpec(
                    name=str(item["name"]),
                    plugin_id=str(item["plugin_id"]),
                    config=dict(item["config"]),
                    poll_interval_s=float(item["poll_interval_s"]),
                    enabled=bool(item["enabled"]),
                    managed=bool(item.get("managed", False)),
                    public_id=str(item.get("public_id", "")),
                )
                for item in document["instances"]
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InstanceStoreError(f"{self.path}: unreadable instances file ({exc})") from exc

    def save(self, specs: list[InstanceSpec]) -> None:
        document = {
            "version": FORMAT_VERSION,
            "instances": [asdict(spec) for spec in sorted(specs, key=lambda s: s.name)],
        }
        _write_atomically(self.path, document)


class CommandCursors:
    """Per instance, the agent event id up to which its commands were handled.

    Losing this file only loses the replay of commands sent while the host was down, so an
    unreadable one is logged and started afresh instead of stopping the host.
    """

    def __init__(self, path: Path | None) -> None:
        """``path=None`` keeps the cursors in memory only."""
        self.path = path
        self._cursors: dict[str, int] = {}
        if path is not None and path.exists():
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
                self._cursors = {str(k): int(v) for k, v in document["cursors"].items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("plugin.cursors_unreadable", path=str(path), error=str(exc))

    def get(self, instance: str) -> int:
        return self._cursors.get(instance, 0)

    def advance(self, instance: str, event_id: int) -> None:
        if event_id and event_id != self._cursors.get(instance):
            self._cursors[instance] = event_id
            self._save()

    def forget(self, instance: str) -> None:
        if self._cursors.pop(instance, None) is not None:
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            _write_atomically(self.path, {"version": FORMAT_VERSION, "cursors": self._cursors})
        except OSError as exc:  # a full or read-only disk must not stop commands or readings
            log.warning("plugin.cursors_not_saved", path=str(self.path), error=str(exc))


def _write_atomically(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    with scratch.open("w", encoding="utf-8") as out:
        json.dump(document, out, indent=2, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(scratch, path)
