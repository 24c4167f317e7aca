"""The app's watchdog lease on the platform bridge (a mixin of ``Application``).

The lease is taken before ``setup()``, so the outputs setup writes belong to the app from the
start (another app's write to them is refused with ``OUTPUT_OWNED``), and renewed in the
background while setup runs. Afterwards it is resized, outputs kept, for the loop period
setup chose; each finished loop renews it, and so does a loop refused only because another
app owns an output (the app is alive: the outputs it does own stay its own). An app that
stops looping for ``lease_ttl`` has its outputs put back to their safe values by the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from apps.sdk.platform import PlatformInterface

__all__ = ["WatchdogLease"]


class WatchdogLease:
    # Provided by Application.
    platform_iface: PlatformInterface
    lease_ttl: float | None
    loop_target_period: float
    test_mode: bool
    log: Any

    def _lease_ttl_s(self) -> float:
        return self.lease_ttl or max(5.0, 3 * self.loop_target_period)

    async def _acquire_lease(self) -> None:
        """The lease, sized for the period the class gives. Test mode takes none: its loops
        run only when the test steps them, so a lease would lapse between steps."""
        if not self.test_mode:
            await self.platform_iface.acquire_lease_async(self._lease_ttl_s())

    async def _resize_lease(self) -> None:
        """Size the lease for the period ``setup`` chose; the outputs stay the app's."""
        ttl = self._lease_ttl_s()
        if self.platform_iface.lease_id and ttl != self.platform_iface.lease_ttl:
            await self.platform_iface.renew_lease_async(ttl)

    @contextlib.asynccontextmanager
    async def _lease_kept_alive(self) -> AsyncIterator[None]:
        """Renew the lease in the background meanwhile (a setup that waits for a device
        keeps its outputs)."""
        task = asyncio.create_task(self._keep_renewing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_renewing(self) -> None:
        while self.platform_iface.lease_id:
            await asyncio.sleep(self._lease_ttl_s() / 3)
            await self._renew_alive()

    async def _renew_alive(self) -> None:
        """Renew because the app is alive, though its step failed; a failure is logged."""
        if not self.platform_iface.lease_id:
            return
        try:
            await self.platform_iface.renew_lease_async()
        except Exception as exc:
            self.log.warning("app.lease_renew_failed", error=str(exc))
