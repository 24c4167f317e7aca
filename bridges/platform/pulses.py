"""Edge counters on digital inputs, fed with the input changes of each IO cycle.

They see what the bridge's cycle sees: pulses shorter than the cycle time are missed, so
fast pulse trains belong on the DIO's hardware counters (COUNTER pins) instead.
"""

from __future__ import annotations

import enum
import secrets
from collections import deque
from dataclasses import dataclass, field

from bridges.platform.errors import InvalidValueError, UnknownCounterError

__all__ = ["Edge", "EdgeCounter", "EdgeCounters"]

MAX_COUNTERS = 64


class Edge(enum.Enum):
    RISING = "rising"
    FALLING = "falling"
    BOTH = "both"

    def matches(self, old: bool, new: bool) -> bool:
        if old == new:
            return False
        return self is Edge.BOTH or (new if self is Edge.RISING else not new)


@dataclass
class EdgeCounter:
    counter_id: str
    io_name: str
    edge: Edge
    window_s: float
    count: int = 0
    last_pulse_ns: int | None = None
    _recent: deque[float] = field(default_factory=deque)

    def feed(self, old: bool, new: bool, now: float, wall_ns: int) -> None:
        if self.edge.matches(old, new):
            self.count += 1
            self.last_pulse_ns = wall_ns
            self._recent.append(now)

    def pulses_per_minute(self, now: float) -> float:
        while self._recent and self._recent[0] <= now - self.window_s:
            self._recent.popleft()
        return len(self._recent) * 60.0 / self.window_s


class EdgeCounters:
    def __init__(self) -> None:
        self._counters: dict[str, EdgeCounter] = {}

    def start(self, io_name: str, edge: Edge, window_s: float) -> EdgeCounter:
        if window_s <= 0:
            raise InvalidValueError(f"rate window must be positive, not {window_s}")
        if len(self._counters) >= MAX_COUNTERS:
            raise InvalidValueError(f"at most {MAX_COUNTERS} pulse counters may run at once")
        counter = EdgeCounter(secrets.token_hex(8), io_name, edge, window_s)
        self._counters[counter.counter_id] = counter
        return counter

    def get(self, counter_id: str) -> EdgeCounter:
        try:
            return self._counters[counter_id]
        except KeyError:
            raise UnknownCounterError(f"no pulse counter {counter_id!r}") from None

    def stop(self, counter_id: str) -> EdgeCounter:
        return self._counters.pop(self.get(counter_id).counter_id)

    def feed(self, io_name: str, old: bool, new: bool, now: float, wall_ns: int) -> None:
        for counter in self._counters.values():
            if counter.io_name == io_name:
                counter.feed(old, new, now, wall_ns)

    def watched_names(self) -> set[str]:
        return {counter.io_name for counter in self._counters.values()}
