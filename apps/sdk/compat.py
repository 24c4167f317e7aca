"""pydoover 0.x's conveniences on ``Application``, so its apps run after changing imports.

0.x apps call ``self.get_di(0)``, ``self.set_do(0, True)``, ``self.publish_to_channel(...)``
and ``self.set_tag(...)`` on the application itself; each is a thin pass-through to an
interface, with an ``_async`` twin, and like the rest of the SDK the plain name is awaitable
in an ``async def`` app (``await self.get_di(0)``) and blocking in a sync one. Tags live where
pydoover keeps them: in the aggregate of channel ``tag_values``, ``{APP_KEY: {tag: value}}``
for an app's own tags and ``{tag: value}`` for global ones, cached here from a subscription.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from apps.sdk.agent import DeviceAgentInterface, SubscriptionCallback
from apps.sdk.platform import PlatformInterface
from apps.sdk.runtime import maybe_async
from revlink.channels import merge_patch

__all__ = ["TAG_CHANNEL", "PydooverHelpers"]

TAG_CHANNEL = "tag_values"


class PydooverHelpers:
    """Mixed into :class:`~apps.sdk.app.Application`; needs its interfaces and ``app_key``."""

    app_key: str
    device_agent: DeviceAgentInterface
    platform_iface: PlatformInterface
    _ready: asyncio.Event
    _tag_values: dict[str, Any]

    @property
    def is_ready(self) -> bool:
        """True once ``setup`` has finished and the loop is about to run."""
        return self._ready.is_set()

    # -- platform ---------------------------------------------------------------------------

    async def get_di_async(self, di: int) -> bool | list[bool]:
        return await self.platform_iface.get_di_async(di)

    async def get_do_async(self, do: int) -> bool | list[bool]:
        return await self.platform_iface.get_do_async(do)

    async def get_ai_async(self, ai: int) -> int | list[int]:
        return await self.platform_iface.get_ai_async(ai)

    async def get_ao_async(self, ao: int) -> int | list[int]:
        return await self.platform_iface.get_ao_async(ao)

    async def set_do_async(self, do: int, value: bool) -> None:
        await self.platform_iface.set_do_async(do, value)

    async def set_ao_async(self, ao: int, value: int) -> None:
        await self.platform_iface.set_ao_async(ao, value)

    async def schedule_do_async(self, do: int, value: bool, delay_secs: float) -> None:
        await self.platform_iface.schedule_do_async(do, value, delay_secs)

    async def schedule_ao_async(self, ao: int, value: int, delay_secs: float) -> None:
        await self.platform_iface.schedule_ao_async(ao, value, delay_secs)

    get_di = maybe_async(get_di_async)
    get_do = maybe_async(get_do_async)
    get_ai = maybe_async(get_ai_async)
    get_ao = maybe_async(get_ao_async)
    set_do = maybe_async(set_do_async)
    set_ao = maybe_async(set_ao_async)
    schedule_do = maybe_async(schedule_do_async)
    schedule_ao = maybe_async(schedule_ao_async)

    # -- device agent -----------------------------------------------------------------------

    async def publish_to_channel_async(
        self,
        channel_name: str,
        data: str | dict[str, Any],
        record_log: bool = True,
        max_age: float | None = None,
    ) -> bool:
        return await self.device_agent.publish_to_channel_async(
            channel_name, data, record_log, max_age
        )

    async def get_channel_aggregate_async(self, channel_name: str) -> dict[str, Any]:
        return await self.device_agent.get_channel_aggregate_async(channel_name)

    async def get_is_dda_available_async(self) -> bool:
        return await self.device_agent.get_is_dda_available_async()

    async def get_is_dda_online_async(self) -> bool:
        return await self.device_agent.get_is_dda_online_async()

    publish_to_channel = maybe_async(publish_to_channel_async)
    get_channel_aggregate = maybe_async(get_channel_aggregate_async)
    get_is_dda_available = maybe_async(get_is_dda_available_async)
    get_is_dda_online = maybe_async(get_is_dda_online_async)

    def subscribe_to_channel(self, channel_name: str, callback: SubscriptionCallback) -> None:
        self.device_agent.add_subscription(channel_name, callback)

    def get_has_dda_been_online(self) -> bool:
        return self.device_agent.has_been_online

    # -- tags -------------------------------------------------------------------------------

    def get_tag(self, tag_key: str, app_key: str | None = None) -> Any:
        """This app's tag (or another app's), None when it was never set."""
        section = self._tag_values.get(app_key or self.app_key)
        return copy.deepcopy(section.get(tag_key)) if isinstance(section, dict) else None

    def get_global_tag(self, tag_key: str) -> Any:
        return copy.deepcopy(self._tag_values.get(tag_key))

    async def set_tag_async(self, tag_key: str, value: Any, app_key: str | None = None) -> None:
        await self.device_agent.publish_to_channel_async(
            **self._tag_record({tag_key: value}, app_key)
        )

    async def set_global_tag_async(self, tag_key: str, value: Any) -> None:
        await self.device_agent.publish_to_channel_async(
            **self._tag_record({tag_key: value}, None, True)
        )

    set_tag = maybe_async(set_tag_async)
    set_global_tag = maybe_async(set_global_tag_async)

    def _tag_record(
        self, tags: dict[str, Any], app_key: str | None, is_global: bool = False
    ) -> dict[str, Any]:
        patch = tags if is_global else {app_key or self.app_key: tags}
        # Seen at once by get_tag, before the agent's echo arrives.
        self._tag_values = merge_patch(self._tag_values, copy.deepcopy(patch))
        return {"channel_name": TAG_CHANNEL, "message": patch, "aggregate": patch}

    def _on_tag_values(self, channel: str, aggregate: dict[str, Any]) -> None:
        self._tag_values = aggregate
