"""pydoover 0.x's UI around an ``Application``'s lifecycle (a mixin of ``Application``).

``self.ui_manager`` is a :class:`~apps.sdk.ui.UIManager` for the app's key and agent
interface, answering in the app's style. As 0.x's Application does, before ``setup()`` the
app's decorated interactions and ``@ui.callback`` methods are registered and its old UI is
cleared from ``ui_state``; after ``setup()`` (which builds the UI) the UI channels are
subscribed, their aggregates awaited, and the UI published; after each loop what changed
is pushed (``handle_comms``). A person's input then runs its callback as soon as the
``ui_cmds`` aggregate arrives, between loops.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.errors import BridgeError
from apps.sdk.ui import UIManager

__all__ = ["UI_SYNC_TIMEOUT", "UIHelpers"]

UI_SYNC_TIMEOUT = 15.0  # pydoover's wait for the UI channels after setup


class UIHelpers:
    """Mixed into :class:`~apps.sdk.app.Application`; needs its key, agent and style."""

    app_key: str
    device_agent: DeviceAgentInterface
    _is_async: bool
    force_log_on_shutdown: bool
    ui_manager: UIManager
    log: Any

    def _attach_ui(self) -> None:
        """Give the app its manager, or point the one it has at the app's (new) key and
        agent: ``run_app`` names an app built without them."""
        manager: UIManager | None = getattr(self, "ui_manager", None)
        if manager is None:
            self.ui_manager = UIManager(self.app_key, self.device_agent, is_async=self._is_async)
            return
        manager.app_key = self.app_key
        manager.client = self.device_agent

    async def _prepare_ui(self) -> None:
        """Before ``setup()``: decorated methods become their elements, ``@ui.callback``
        methods are registered, and the UI a previous run left is cleared."""
        self.ui_manager.loop = asyncio.get_running_loop()  # for a sync setup's start_ui_comms
        self.ui_manager.register_interactions(self)
        self.ui_manager.register_callbacks(self)
        try:
            await self.ui_manager.clear_ui_async()
        except BridgeError as exc:  # the first push's diff removes what is stale anyway
            self.log.warning("app.ui_clear_failed", error=str(exc))

    async def _start_ui(self) -> None:
        """After ``setup()``: subscribe, wait for the channels, publish the UI. An agent that
        does not answer is logged; the app starts, and its loops push the UI later."""
        self.ui_manager.start_comms()
        if not await self.ui_manager.await_comms_sync(UI_SYNC_TIMEOUT):
            self.log.warning("app.ui_not_synced", waited_s=UI_SYNC_TIMEOUT)
        try:
            await self._update_ui()
        except BridgeError as exc:  # the loop pushes again
            self.log.warning("app.ui_push_failed", error=str(exc))

    async def _update_ui(self, force_log: bool = False) -> None:
        await self.ui_manager.handle_comms_async(force_log)

    async def on_shutdown_at(self, dt: datetime) -> None:
        """Called when a shutdown is scheduled for ``dt``; override to prepare for it. By
        default, with ``force_log_on_shutdown``, the UI is pushed and kept as a message."""
        if self.force_log_on_shutdown:
            await self._update_ui(force_log=True)
