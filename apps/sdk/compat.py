"""pydoover 0.x's conveniences on ``Application``, so its apps run after changing imports.

0.x apps call ``self.get_di(0)``, ``self.set_do(0, True)``, ``self.publish_to_channel(...)``
and ``self.set_tag(...)`` on the application itself; each is a thin pass-through to an
interface, with an ``_async`` twin, and like the rest of the SDK the plain name is awaitable
in an ``async def`` app (``await self.get_di(0)``) and blocking in a sync one. Tags and the
shutdown hooks are in :mod:`apps.sdk.tag_helpers`, the UI's lifecycle in
:mod:`apps.sdk.ui_helpers`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from apps.sdk.agent import DeviceAgentInterface, SubscriptionCallback
from apps.sdk.errors import BridgeError
from apps.sdk.platform import PlatformInterface
from apps.sdk.runtime import maybe_async
from apps.sdk.ui import Interaction, UIManager

log = structlog.get_logger(__name__)

__all__ = ["PydooverHelpers"]


class PydooverHelpers:
    """Mixed into :class:`~apps.sdk.app.Application`; needs its interfaces and ``app_key``."""

    app_key: str
    device_agent: DeviceAgentInterface
    platform_iface: PlatformInterface
    modbus_iface: Any
    ui_manager: UIManager
    _ready: asyncio.Event

    error_wait_period: float
    # pydoover's: the default on_shutdown_at pushes the UI, kept as a message.
    force_log_on_shutdown: bool = False
    _last_interval_time: float | None

    @property
    def is_ready(self) -> bool:
        """True once ``setup`` has finished and the loop is about to run."""
        return self._ready.is_set()

    @property
    def _error_wait_period(self) -> float:
        """pydoover's name for :attr:`error_wait_period`."""
        return self.error_wait_period

    @_error_wait_period.setter
    def _error_wait_period(self, seconds: float) -> None:
        self.error_wait_period = seconds

    async def wait_for_interval(self, target_time: float) -> None:
        """Sleep so that calls are ``target_time`` seconds apart (the first waits half of
        it), as pydoover's loop does; for apps that pace their own inner loops."""
        now = time.monotonic()
        if self._last_interval_time is None:
            self._last_interval_time = now
            await asyncio.sleep(target_time / 2)
            return
        remaining = target_time - (now - self._last_interval_time)
        if remaining > 0:
            await asyncio.sleep(remaining)
        self._last_interval_time = time.monotonic()

    async def close(self) -> None:
        """Close the bridge interfaces (``run`` does it when the app stops)."""
        for interface in (self.device_agent, self.platform_iface):
            await interface.close_async()

    async def __aenter__(self) -> PydooverHelpers:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._ready.clear()
        await self.close()

    # -- platform ---------------------------------------------------------------------------

    async def get_di_async(self, di: int) -> bool | list[bool]:
        return await self.platform_iface.get_di_async(di)

    async def get_do_async(self, do: int) -> bool | list[bool]:
        return await self.platform_iface.get_do_async(do)

    async def get_ai_async(self, ai: int) -> float | list[float]:
        return await self.platform_iface.get_ai_async(ai)

    async def get_ao_async(self, ao: int) -> float | list[float]:
        return await self.platform_iface.get_ao_async(ao)

    async def set_do_async(self, do: int, value: bool) -> bool | list[bool]:
        return await self.platform_iface.set_do_async(do, value)

    async def set_ao_async(self, ao: int, value: float) -> float | list[float]:
        return await self.platform_iface.set_ao_async(ao, value)

    async def schedule_do_async(self, do: int, value: bool, delay_secs: float) -> bool | list[bool]:
        return await self.platform_iface.schedule_do_async(do, value, delay_secs)

    async def schedule_ao_async(
        self, ao: int, value: float, delay_secs: float
    ) -> float | list[float]:
        return await self.platform_iface.schedule_ao_async(ao, value, delay_secs)

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

    def subscribe_to_channel(self, channel_name: str, callback: SubscriptionCallback) -> None:
        self.device_agent.add_subscription(channel_name, callback)

    # As in pydoover: plain methods answering from the agent interface's cached status.

    def get_is_dda_available(self) -> bool:
        return self.device_agent.get_is_dda_available()

    def get_is_dda_online(self) -> bool:
        return self.device_agent.get_is_dda_online()

    def get_has_dda_been_online(self) -> bool:
        return self.device_agent.get_has_dda_been_online()

    async def _open_modbus_buses(self) -> None:
        """pydoover's ``modbus_iface.setup()`` before ``setup()``: open the config's buses. A
        bridge that is not there is logged; requests open the buses again later."""
        setup = getattr(self.modbus_iface, "setup", None)
        if setup is None:
            return
        try:
            await setup()
        except BridgeError as exc:
            log.error("app.modbus_setup_failed", reason=str(exc))

    # -- UI (``self.ui_manager``, see apps.sdk.ui_helpers) and Modbus ------------------------

    def set_ui_elements(self, elements: list[Any]) -> None:
        self.ui_manager.set_children(elements)

    def set_ui(self, ui: list[Any]) -> None:
        self.ui_manager.set_children(ui)

    def get_command(self, name: str) -> Interaction | None:
        return self.ui_manager.get_command(name)

    def coerce_command(self, name: str, value: Any, critical: bool = False) -> None:
        self.ui_manager.coerce_command(name, value, critical)

    def record_critical_value(self, name: str, value: Any) -> None:
        self.ui_manager.record_critical_value(name, value)

    def set_ui_status_icon(self, icon: str | None, critical: bool = False) -> None:
        self.ui_manager.set_status_icon(icon, critical)

    def start_ui_comms(self) -> None:
        self.ui_manager.start_comms()

    async def await_ui_comms_sync(self, timeout: float = 10) -> bool:
        """True once the UI channels' aggregates arrived (the app subscribes after
        ``setup()``; an app may start and await them sooner)."""
        synced = await self.ui_manager.await_comms_sync(timeout)
        if not synced:
            log.warning("app.ui_comms_sync_timed_out", app_key=self.app_key, waited_s=timeout)
        return synced

    def set_ui_update_period(self, period: float) -> None:
        self.ui_manager.set_min_ui_update_period(period)

    def read_modbus_registers(
        self,
        address: int,
        count: int,
        register_type: int,
        modbus_id: int | None = None,
        bus_id: str | None = None,
    ) -> Any:
        return self.modbus_iface.read_registers(
            bus_id=bus_id,
            modbus_id=modbus_id,
            start_address=address,
            num_registers=count,
            register_type=register_type,
        )

    def write_modbus_registers(
        self,
        address: int,
        values: list[int],
        register_type: int,
        modbus_id: int | None = None,
        bus_id: str | None = None,
    ) -> Any:
        return self.modbus_iface.write_registers(
            bus_id=bus_id,
            modbus_id=modbus_id,
            start_address=address,
            values=values,
            register_type=register_type,
        )

    def add_new_modbus_read_subscription(
        self,
        address: int,
        count: int,
        register_type: int,
        callback: Any,
        poll_secs: float | None = None,
        modbus_id: int | None = None,
        bus_id: str | None = None,
    ) -> Any:
        return self.modbus_iface.add_read_register_subscription(
            bus_id=bus_id,
            modbus_id=modbus_id,
            start_address=address,
            num_registers=count,
            register_type=register_type,
            poll_secs=poll_secs,
            callback=callback,
        )
