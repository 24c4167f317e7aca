"""Instance definitions on disk, so the instances an operator set up survive a host restart.

One small JSON document holds every instance: its plugin, config, poll interval and whether
it should be running. It is rewritten whole on each change (write to a temporary file,
fsync, rename), so a power cut leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["INSTANCE_NAME", "InstanceSpec", "InstanceStore", "InstanceStoreError"]

INSTANCE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FORMAT_VERSION = 1


class InstanceStoreError(Exception):
    """The instances file cannot be read; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """What the operator asked for; the runtime state lives in the host, not here."""

    name: str
    plugin_id: str
    config: dict[str, Any] = field(default_factory=dict)
    poll_interval_s: float = 1.0
    enabled: bool = False


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
                )
                for item in document["instances"]
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InstanceStoreError(f"{self.path}: unreadable instances file ({exc})") from exc

    def save(self, specs: list[InstanceSpec]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "version": FORMAT_VERSION,
            "instances": [asdict(spec) for spec in sorted(specs, key=lambda s: s.name)],
        }
        scratch = self.path.with_suffix(".tmp")
        with scratch.open("w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, self.path)
