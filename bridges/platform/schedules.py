"""Delayed output writes (ScheduleDO/ScheduleAO); a later write to the same IO cancels one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bridges.platform.iotable import IOSpec, IOValue

__all__ = ["PendingWrite", "WriteSchedule"]


@dataclass(frozen=True, slots=True)
class PendingWrite:
    spec: IOSpec
    value: IOValue
    due: float
    lease_id: str | None


class WriteSchedule:
    def __init__(self) -> None:
        self._pending: dict[str, PendingWrite] = {}

    def add(self, write: PendingWrite) -> None:
        self._pending[write.spec.name] = write

    def cancel(self, names: Iterable[str]) -> None:
        for name in names:
            self._pending.pop(name, None)

    def pop_due(self, now: float) -> list[PendingWrite]:
        due = sorted((w for w in self._pending.values() if w.due <= now), key=lambda w: w.due)
        for write in due:
            del self._pending[write.spec.name]
        return due

    def __len__(self) -> int:
        return len(self._pending)
