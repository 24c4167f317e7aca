"""pydoover 0.x's conveniences on ``Application``, so its apps run after changing imports.

0.x apps call ``self.get_di(0)``, ``self.set_do(0, True)``, ``self.publish_to_channel(...)``
and ``self.set_tag(...)`` on the application itself; each is a thin pass-through to an
interface, with the ``_async`` twin the rest of the SDK has. Tags live where pydoover keeps
them: in the aggregate of channel ``tag_values``, ``{APP_KEY: {tag: value}}`` for an app's own
tags and ``{tag: value}`` for global ones, cached here from a subscription.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from apps.sdk.agent import DeviceAgentInterface, SubscriptionCallback
from apps.sdk.platform import PlatformInterface
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

    def get_di(self, di: int) -> bool | list[bool]:
        return self.platform_iface.get_di(di)

    def get_do(self, do: int) -> bool | list[bool]:
        return self.platform_iface.get_do(do)

    def get_ai(self, ai: int) -> int | list[int]:
        return self.platform_iface.get_ai(ai)

    def get_ao(self, ao: int) -> int | list[int]:
        return self.platform_iface.get_ao(ao)

    def set_do(self, do: int, value: bool) -> None:
        self.platform_iface.set_do(do, value)

    def set_ao(self, ao: int, value: int) -> None:
        self.platform_iface.set_ao(ao, value)

    def schedule_do(self, do: int, value: bool, delay_secs: float) -> None:
        self.platform_iface.schedule_do(do, value, delay_secs)

    def schedule_ao(self, ao: int, value: int, delay_secs: float) -> None:
        self.platform_iface.schedule_ao(ao, value, delay_secs)

    # -- device agent -----------------------------------------------------------------------

    def publish_to_channel(self, channel_name: str, data: str | dict[str, Any]) -> int:
        return self.device_agent.publish_to_channel(channel_name, data)

    def get_channel_aggregate(self, channel_name: str) -> dict[str, Any]:
        return self.device_agent.get_channel_aggregate(channel_name)

    def subscribe_to_channel(self, channel_name: str, callback: SubscriptionCallback) -> None:
        self.device_agent.add_subscription(channel_name, callback)

    def get_is_dda_available(self) -> bool:
        return self.device_agent.get_is_dda_available()

    def get_is_dda_online(self) -> bool:
        return self.device_agent.get_is_dda_online()

    def get_has_dda_been_online(self) -> bool:
        return self.device_agent.has_been_online

    # -- tags -------------------------------------------------------------------------------

    def get_tag(self, tag_key: str, app_key: str | None = None) -> Any:
        """This app's tag (or another app's), None when it was never set."""
        section = self._tag_values.get(app_key or self.app_key)
        return copy.deepcopy(section.get(tag_key)) if isinstance(section, dict) else None

    def get_global_tag(self, tag_key: str) -> Any:
        return copy.deepcopy(self._tag_values.get(tag_key))

    def set_tag(self, tag_key: str, value: Any, app_key: str | None = None) -> None:
        self.device_agent.publish_to_channel(**self._tag_record({tag_key: value}, app_key))

    async def set_tag_async(self, tag_key: str, value: Any, app_key: str | None = None) -> None:
        await self.device_agent.publish_to_channel_async(
            **self._tag_record({tag_key: value}, app_key)
        )

    def set_global_tag(self, tag_key: str, value: Any) -> None:
        self.device_agent.publish_to_channel(**self._tag_record({tag_key: value}, None, True))

    async def set_global_tag_async(self, tag_key: str, value: Any) -> None:
        await self.device_agent.publish_to_channel_async(
            **self._tag_record({tag_key: value}, None, True)
        )

    def _tag_record(
        self, tags: dict[str, Any], app_key: str | None, is_global: bool = False
    ) -> dict[str, Any]:
        patch = tags if is_global else {app_key or self.app_key: tags}
        # Seen at once by get_tag, before the agent's echo arrives.
        self._tag_values = merge_patch(self._tag_values, copy.deepcopy(patch))
        return {"channel_name": TAG_CHANNEL, "message": patch, "aggregate": patch}

    def _on_tag_values(self, channel: str, aggregate: dict[str, Any]) -> None:
        self._tag_values = aggregate
