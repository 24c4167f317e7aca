"""Pulse counters the platform bridge keeps on a DI, as an app reads them (pydoover's names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from apps.sdk.errors import NotFoundError
from apps.sdk.handles import BridgeHandle
from apps.sdk.runtime import maybe_async
from revlink.error_reasons import UNKNOWN_COUNTER
from revlink.platform.v1 import platform_pb2 as pb

if TYPE_CHECKING:
    from apps.sdk.platform import PlatformInterface

__all__ = ["PulseCounter", "PulseReading"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PulseReading:
    count: int
    pulses_per_minute: float


class PulseCounter:
    """An edge counter the platform bridge keeps on one DI (pydoover's PulseCounter).

    A bridge that restarted has forgotten its counters; this one is then started again on
    the same DI and its count carries on from where it was (pulses while the bridge was
    down are not seen; the rate starts afresh).
    """

    def __init__(
        self, platform: PlatformInterface, counter_id: str, start: pb.StartPulseCounterRequest
    ) -> None:
        self.platform = platform
        self._counter = BridgeHandle(UNKNOWN_COUNTER, self._restart, counter_id)
        self._start = start
        self._carried = 0  # the count of counters the bridge lost
        self._last_count = 0

    @property
    def counter_id(self) -> str:
        return self._counter.value

    async def _read(self) -> PulseReading:
        reply = await self._counter.call(self._count)
        self._last_count = int(reply.count)
        return PulseReading(self._carried + self._last_count, float(reply.pulses_per_minute))

    async def _count(self, counter: str) -> pb.GetPulseCountResponse:
        request = pb.GetPulseCountRequest(counter_id=counter)
        reply: pb.GetPulseCountResponse = await self.platform._call("GetPulseCount", request)
        return reply

    async def _restart(self, lost: str) -> str:
        log.warning("sdk.pulse_counter_lost", counter=lost, di=self._start.di_pin)
        reply = await self.platform._call("StartPulseCounter", self._start)
        self._carried += self._last_count
        self._last_count = 0
        return str(reply.counter_id)

    async def read_async(self) -> PulseReading:
        """Count and rate in one call (what a meter wants each loop)."""
        return await self._read()

    async def get_counter_async(self) -> int:
        return (await self._read()).count

    async def get_pulses_per_minute_async(self) -> float:
        return (await self._read()).pulses_per_minute

    async def set_counter_async(self, counter: int) -> None:
        """Make the count ``counter`` now; pulses from here on add to it (pydoover's name)."""
        if isinstance(counter, bool) or not isinstance(counter, int) or counter < 0:
            raise ValueError(f"a pulse count is an int >= 0, not {counter!r}")
        await self._read()
        self._carried = counter - self._last_count

    async def stop_async(self) -> int:
        """Stop counting on the bridge; returns the final count. Reads after this fail."""
        counter, self._counter.value = self.counter_id, ""
        if not counter:
            return self._carried + self._last_count
        try:
            request = pb.StopPulseCounterRequest(counter_id=counter)
            reply = await self.platform._call("StopPulseCounter", request)
            self._last_count = int(reply.count)
        except NotFoundError as exc:  # a restarted bridge holds nothing to stop
            if exc.reason != UNKNOWN_COUNTER:
                raise
        return self._carried + self._last_count

    read = maybe_async(read_async)
    get_counter = maybe_async(get_counter_async)
    get_pulses_per_minute = maybe_async(get_pulses_per_minute_async)
    set_counter = maybe_async(set_counter_async)
    stop = maybe_async(stop_async)
