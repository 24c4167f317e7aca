"""Ids a bridge hands out and forgets when it restarts: watchdog leases, pulse counters.

A call made with such an id is answered NOT_FOUND with the id's "lost" reason once the bridge
no longer knows it (it restarted, or the lease expired while the app stalled). The handle
then gets a fresh id, once however many calls found the old one gone at the same moment,
and makes the call again, so the app carries on instead of failing loop after loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from apps.sdk.errors import NotFoundError
from apps.sdk.runtime import sdk_loop

__all__ = ["BridgeHandle"]

T = TypeVar("T")

# Gets a fresh id for the lost one, or None when this one cannot be replaced.
Renew = Callable[[str], Awaitable[str | None]]


class BridgeHandle:
    def __init__(self, lost_reason: str, renew: Renew, value: str = "") -> None:
        self.value = value
        self._lost_reason = lost_reason
        self._renew = renew
        self._lock = asyncio.Lock()  # only ever used on the SDK loop

    async def call(self, use: Callable[[str], Awaitable[T]]) -> T:
        """``use(id)``; once more with a fresh id if the bridge had lost this one."""
        held = self.value
        try:
            return await use(held)
        except NotFoundError as exc:
            if not held or exc.reason != self._lost_reason:
                raise
            if not await sdk_loop.run_async(self._replace(held)):
                raise
        return await use(self.value)

    async def _replace(self, lost: str) -> bool:
        async with self._lock:  # on the SDK loop: one replacement for all who saw it lost
            if self.value != lost:
                return True  # another call replaced it already
            fresh = await self._renew(lost)
            if fresh is None:
                return False
            self.value = fresh
            return True
