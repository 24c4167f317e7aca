"""An app that writes the demo's pump output (DO 0) every 0.5 s, as the README's example app
did beside ``revlink demo``: a second writer for an output another app owns.

Run: ``python -m revlink app run tests.support.pump_thief --app-key thief --plt-uri ...``.
"""

from __future__ import annotations

from apps.sdk.app import Application


class PumpThief(Application):
    loop_target_period = 0.5
    error_wait_period = 0.5

    async def main_loop(self) -> None:
        await self.platform_iface.set_do_async(0, False)
