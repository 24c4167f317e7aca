"""The event log's account of telemetry items a WebMACS door dropped without a word.

WebMACS's controllers never read their socket, so the telemetry door drops bad items silently
(see :mod:`cloud.ws.telemetry`); a person still has to find out that a controller sends to an
event that does not exist. One connection's drops become one warning at first, then at most
one per ``interval`` summing everything dropped since, and a last one when it closes, so a
controller that sends a bad item every 100 ms writes a handful of entries an hour, not
thousands. Pure bookkeeping: the door decides when to ask and writes what comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from cloud.models import LoggingType
from cloud.services.event_log import NewEntry, Source
from cloud.services.telemetry import Refusal

__all__ = ["DROPPED_KIND", "EXAMPLES", "DropTally"]

DROPPED_KIND = "telemetry.items_dropped"
EXAMPLES = 3


class DropTally:
    """Dropped items of one connection, summed for the event log."""

    def __init__(
        self,
        who: str,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.who = who
        self.interval_s = interval_s
        self.clock = clock
        self._window_start = clock()
        self._last_entry: float | None = None
        self._dropped = 0
        self._unknown = 0
        self._seen = 0
        self._examples: list[str] = []

    def add(self, total: int, refused: Sequence[Refusal]) -> NewEntry | None:
        """Count one batch; an entry to write when one is due."""
        now = self.clock()
        self._seen += total
        if refused:
            self._dropped += len(refused)
            self._unknown += sum(1 for r in refused if r.unknown_sensor)
            for refusal in refused:
                if len(self._examples) < EXAMPLES:
                    self._examples.append(refusal.reason)
        due = self._last_entry is None or now - self._last_entry >= self.interval_s
        return self._entry(now) if self._dropped and due else None

    def flush(self) -> NewEntry | None:
        """At the connection's end: what is left to report, if anything."""
        return self._entry(self.clock()) if self._dropped else None

    def _entry(self, now: float) -> NewEntry:
        span = now - self._window_start
        invalid = self._dropped - self._unknown
        parts = [f"{self._unknown} for unknown events"] if self._unknown else []
        parts += [f"{invalid} invalid"] if invalid else []
        content = (
            f"Telemetry from {self.who}: {self._dropped} of {self._seen} datapoints dropped "
            f"over {span:.0f} s ({', '.join(parts)}); for example: {'; '.join(self._examples)}"
        )
        self._last_entry = self._window_start = now
        self._dropped = self._unknown = self._seen = 0
        self._examples = []
        return NewEntry(Source.TELEMETRY, DROPPED_KIND, content, LoggingType.WARNING)
