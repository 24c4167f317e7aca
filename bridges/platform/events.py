"""The bridge's event log: DI edges and system events, bounded, in memory, per run.

The IO cycle appends one event per edge of a bit input it sees (with the cycle's wall time);
the bridge's start is logged as a system event. Ids grow by one per event and start at 1
in each run (``run_id`` tells runs apart). When the log is full the oldest events go, and a
read from before them says it is no longer complete (``synced`` false).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

from bridges.platform.errors import InvalidValueError
from bridges.platform.pulses import Edge

__all__ = ["BRIDGE_START", "FALLING", "RISING", "EventLog", "EventPage", "LoggedEvent"]

RISING = "DI_R"
FALLING = "DI_F"
BRIDGE_START = "BRIDGE_START"
# events_from at or above this is a Unix time in milliseconds, below it an event id.
TIME_THRESHOLD_MS = 1_000_000_000_000


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    event_id: int
    event: str
    pin: int
    name: str
    value: bool
    time_ns: int

    @property
    def is_system(self) -> bool:
        return self.event not in (RISING, FALLING)


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[LoggedEvent]
    synced: bool
    run_id: str
    last_event_id: int


class EventLog:
    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise InvalidValueError(f"the event log holds at least one event, not {capacity}")
        self.run_id = secrets.token_hex(8)
        self._events: deque[LoggedEvent] = deque(maxlen=capacity)
        self._last_id = 0
        self._dropped_through = 0  # id of the newest event the log has let go
        self._dropped_time_ns = 0  # and its time

    def add(
        self, event: str, time_ns: int, pin: int = 0, name: str = "", value: bool = False
    ) -> None:
        if len(self._events) == self._events.maxlen:
            oldest = self._events[0]
            self._dropped_through, self._dropped_time_ns = oldest.event_id, oldest.time_ns
        self._last_id += 1
        self._events.append(LoggedEvent(self._last_id, event, pin, name, value, time_ns))

    def edge(self, pin: int, name: str, new: bool, time_ns: int) -> None:
        self.add(RISING if new else FALLING, time_ns, pin, name, new)

    def read(
        self,
        events_from: int = 0,
        pins: Collection[int] = (),
        edge: Edge = Edge.BOTH,
        include_system: bool = False,
        include_di: bool = True,
    ) -> EventPage:
        """Events from ``events_from`` (an id, or Unix ms when >= 10^12) on, oldest first."""
        if events_from >= TIME_THRESHOLD_MS:
            from_ns = events_from * 1_000_000
            synced = self._dropped_time_ns < from_ns
            selected = [e for e in self._events if e.time_ns >= from_ns]
        else:
            synced = self._dropped_through < max(events_from, 1)
            selected = [e for e in self._events if e.event_id >= events_from]
        wanted_pins = set(pins)
        kinds = {Edge.RISING: {RISING}, Edge.FALLING: {FALLING}, Edge.BOTH: {RISING, FALLING}}
        edges = kinds[edge]

        def wanted(e: LoggedEvent) -> bool:
            if e.is_system:
                return include_system
            return include_di and e.event in edges and (not wanted_pins or e.pin in wanted_pins)

        return EventPage([e for e in selected if wanted(e)], synced, self.run_id, self._last_id)
