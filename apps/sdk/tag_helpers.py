"""pydoover 0.x's tags and shutdown hooks on ``Application``.

Tags live where pydoover keeps them, in the aggregate of channel ``tag_values``
(:mod:`apps.sdk.tags`); sets are committed once per loop. The power manager's global tags
drive the shutdown hooks: ``shutdown_at`` (a Unix time) calls ``on_shutdown_at`` with a
naive local datetime, as pydoover does; while ``shutdown_requested`` is set,
``check_can_shutdown`` is asked every loop and its answer written to this app's
``shutdown_check_ok`` tag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.runtime import call_hook, callback_loop, dispatch, maybe_async
from apps.sdk.tags import TAG_CHANNEL, TagStore, TagWatch

__all__ = ["TagHelpers"]

TagCallback = Callable[[str, Any], Any]

log = structlog.get_logger(__name__)


class TagHelpers:
    """Mixed into :class:`~apps.sdk.app.Application`; needs ``app_key`` and the agent."""

    app_key: str
    device_agent: DeviceAgentInterface
    _ready: asyncio.Event
    _tags: TagStore
    _shutdown_at: datetime | None

    # -- tags -------------------------------------------------------------------------------

    def get_tag(self, tag_key: str, app_key: str | None = None, default: Any = None) -> Any:
        """This app's tag (or another app's), ``default`` when it was never set."""
        return self._tags.get(tag_key, app_key, default)

    def get_global_tag(self, tag_key: str, default: Any = None) -> Any:
        return self._tags.get_global(tag_key, default)

    async def set_tag_async(
        self,
        tag_key: str,
        value: Any,
        app_key: str | None = None,
        only_if_changed: bool = True,
        log: bool = True,
    ) -> None:
        """Set a tag: seen by ``get_tag`` at once, committed after this loop and, as pydoover
        keeps every tag publish, also as a channel message (``log=False``, revlink's, only
        merges it into the aggregate)."""
        self._tags.set({tag_key: value}, app_key, only_if_changed=only_if_changed, log=log)

    async def set_tags_async(
        self,
        tags: Mapping[str, Any],
        app_key: str | None = None,
        only_if_changed: bool = True,
        log: bool = True,
    ) -> None:
        self._tags.set(tags, app_key, only_if_changed=only_if_changed, log=log)

    async def set_global_tag_async(
        self, tag_key: str, value: Any, only_if_changed: bool = True, log: bool = True
    ) -> None:
        self._tags.set({tag_key: value}, is_global=True, only_if_changed=only_if_changed, log=log)

    set_tag = maybe_async(set_tag_async)
    set_tags = maybe_async(set_tags_async)
    set_global_tag = maybe_async(set_global_tag_async)

    def subscribe_to_tag(
        self,
        tag_key: str,
        callback: TagCallback,
        app_key: str | None = None,
        global_tag: bool = False,
    ) -> None:
        """Call ``callback(tag_key, value)`` whenever the tag's value changes."""
        scope = None if global_tag else (app_key or self.app_key)
        self._tags.watch(TagWatch(tag_key, scope, callback, callback_loop(callback)))

    async def commit_tags_async(self) -> None:
        """Send the tags set since the last commit as one merge patch (none: nothing)."""
        patch, record_log = self._tags.take_pending()
        if not patch:
            return
        try:
            await self.device_agent.publish_to_channel_async(
                TAG_CHANNEL, patch, record_log=record_log
            )
        except Exception:
            self._tags.restore_pending(patch, record_log)
            raise

    commit_tags = maybe_async(commit_tags_async)

    async def _on_tag_values(self, channel: str, aggregate: dict[str, Any]) -> None:
        for change in self._tags.replace(aggregate):
            dispatch(change.watch.callback, change.watch.context, change.watch.key, change.value)
        await self._check_shutdown_at()

    # -- shutdown, driven by the power manager's global tags ----------------------------------

    async def request_shutdown_async(self) -> None:
        """Ask the device to shut down (this app's ``shutdown_requested`` tag)."""
        log.info("app.shutdown_requested", app_key=self.app_key)
        await self.set_tag_async("shutdown_requested", True)

    request_shutdown = maybe_async(request_shutdown_async)

    async def on_shutdown_at(self, dt: datetime) -> None:
        """Called when a shutdown is scheduled for ``dt``; override to prepare for it."""

    async def check_can_shutdown(self) -> bool:
        """Asked every loop while a shutdown is requested; False holds it off."""
        return True

    async def _check_shutdown_at(self) -> None:
        when = self._tags.get_global("shutdown_at")
        if not self._ready.is_set() or not isinstance(when, int | float):
            return
        # pydoover's rule and type: a naive local datetime; the first one is announced even
        # when past, a later one only when it is still ahead.
        at = datetime.fromtimestamp(when)
        if self._shutdown_at is not None and not (at > self._shutdown_at and at > datetime.now()):
            return
        self._shutdown_at = at
        log.info("app.shutdown_scheduled", app_key=self.app_key, at=at.isoformat())
        await call_hook(self.on_shutdown_at, at)

    async def _answer_shutdown_request(self) -> None:
        if not self._tags.get_global("shutdown_requested"):
            return
        try:
            can = bool(await call_hook(self.check_can_shutdown))
        except Exception:
            log.exception("app.check_can_shutdown_failed", app_key=self.app_key)
            can = False
        await self.set_tag_async("shutdown_check_ok", can)
