"""The platform interface's pulse and event counters on a DI (pydoover's factories).

A mixin of :class:`~apps.sdk.platform.PlatformInterface`; the counters themselves live in
:mod:`apps.sdk.pulses`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from apps.sdk.pulses import EdgeWatch, PulseCallback, PulseCounter, check_edge
from apps.sdk.runtime import callback_loop, dispatch

if TYPE_CHECKING:
    from apps.sdk.platform import PlatformInterface

__all__ = ["PulseFactories"]


class PulseFactories:
    def _platform(self) -> PlatformInterface:
        return cast("PlatformInterface", self)

    def get_new_pulse_counter(
        self,
        di: int,
        edge: str = "rising",
        callback: PulseCallback | None = None,
        rate_window_secs: float = 20,
        auto_start: bool = True,
    ) -> PulseCounter:
        """pydoover's pulse counter on a DI, returned at once (no await, also in async code).

        With ``auto_start`` it starts counting in the background on the SDK loop; otherwise
        call ``start()``. ``callback(di, di_value, dt_secs, count, edge)`` runs on each pulse
        (an ``async def`` one on the loop that created the counter).
        """
        return PulseCounter(self._platform(), di, edge, callback, rate_window_secs, auto_start)

    async def get_new_pulse_counter_async(
        self,
        di: int,
        edge: str = "rising",
        callback: PulseCallback | None = None,
        rate_window_secs: float = 20,
        auto_start: bool = True,
    ) -> PulseCounter:
        """Like :meth:`get_new_pulse_counter`, returning once the counter runs (with
        ``auto_start``): pulses from then on are counted."""
        counter = PulseCounter(
            self._platform(), di, edge, callback, rate_window_secs, auto_start=False
        )
        if auto_start:
            await counter.start_async()
        return counter

    def get_new_event_counter(
        self,
        di: int,
        edge: str = "rising",
        callback: PulseCallback | None = None,
        rate_window_secs: float = 20,
        auto_collect: bool = True,
    ) -> PulseCounter:
        """pydoover's event counter: a :class:`PulseCounter` fed from the bridge's event log
        (``update_events()`` collects what was logged since; with ``auto_collect`` once now,
        blocking in plain code, in the background in async code)."""
        counter = PulseCounter(
            self._platform(), di, edge, callback, rate_window_secs, auto_start=False
        )
        if auto_collect:
            counter.update_events()
        return counter

    def start_di_pulse_listener(
        self,
        di: int,
        callback: PulseCallback,
        edge: str = "rising",
        start_count: int = 0,
    ) -> EdgeWatch:
        """Call ``callback(di, di_value, dt_secs, count, edge)`` on each edge of a DI
        (pydoover's listener), counting from ``start_count``; starts in the background and
        returns at once. ``stop()`` on the result ends it."""
        check_edge(edge)
        loop = callback_loop(callback)
        state = {"count": start_count, "last": time.time()}

        def on_edge(value: bool, time_ns: int, kind: str) -> None:
            at = time_ns / 1e9
            state["count"] += 1
            dt, state["last"] = at - state["last"], at
            dispatch(callback, loop, di, value, dt, int(state["count"]), kind)

        watch = EdgeWatch(self._platform(), di, edge, on_edge)
        watch.start()
        return watch
