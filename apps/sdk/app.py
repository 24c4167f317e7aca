"""``Application``: what a device app subclasses (pydoover's lifecycle, made robust).

Order of a run: health endpoint → config (``CONFIG_FP`` or the ``deployment_config``
aggregate, key ``applications.<APP_KEY>``) → watchdog lease on the platform (so the outputs
``setup`` writes are the app's too; renewed while it runs) → ``setup()`` between the UI's
preparation and its first push (:mod:`apps.sdk.ui_helpers`) → the lease resized for the loop
period ``setup`` chose, its outputs kept → ``main_loop()`` at a fixed rate, tags committed
and the UI's changes pushed after each loop. A write refused because another app owns the output
(``OUTPUT_OWNED``) is logged as ``app.output_owned`` with the owner; the loop goes on.
``setup``/``main_loop``/hooks may be plain or ``async``; plain ones run in a worker thread
so the loop stays responsive to signals and health probes. A ``setup`` that raises is
logged, the app waits ``error_wait_period`` and exits 1 (pydoover's policy: the container
restarts it).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import typing
from pathlib import Path
from typing import Any, ClassVar

import structlog

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app_lease import WatchdogLease
from apps.sdk.app_manifest import announce
from apps.sdk.client import BridgeClient
from apps.sdk.compat import PydooverHelpers
from apps.sdk.config import ConfigError, Schema
from apps.sdk.errors import BridgeError, FailedPreconditionError
from apps.sdk.health import HealthServer
from apps.sdk.modbus import ModbusInterface
from apps.sdk.platform import PlatformInterface
from apps.sdk.plugins import PluginsInterface
from apps.sdk.runtime import call_hook
from apps.sdk.tag_helpers import TagHelpers
from apps.sdk.tags import TAG_CHANNEL, TagStore
from apps.sdk.ui_helpers import UIHelpers
from revlink.error_reasons import OUTPUT_OWNED

__all__ = ["AppFailedError", "Application"]

log = structlog.get_logger(__name__)

DEPLOYMENT_CHANNEL = "deployment_config"
OVERRUN_WARNING_INTERVAL = 6.0
AGENT_STATUS_INTERVAL = 2.0


class AppFailedError(RuntimeError):
    """``setup`` failed, or ``main_loop`` too many times in a row; the process exits 1."""


class Application(PydooverHelpers, UIHelpers, TagHelpers, WatchdogLease):
    config_cls: ClassVar[type[Schema] | None] = None
    loop_target_period: float = 1.0
    error_wait_period: float = 10.0
    max_consecutive_failures: int = 5
    # How long run() waits for the device agent to answer before going on (pydoover's).
    dda_startup_timeout: float = 300.0
    # Outputs written by the app return to their safe values when it stops renewing;
    # None: max(5 s, three loop periods).
    lease_ttl: float | None = None

    def __init__(
        self,
        config: Schema | None = None,
        app_key: str = "",
        is_async: bool | None = None,
        device_agent: DeviceAgentInterface | None = None,
        platform_iface: PlatformInterface | None = None,
        modbus_iface: Any = None,
        name: str | None = None,
        test_mode: bool = False,
        config_fp: str | Path | None = None,
        healthcheck_port: int | None = 49200,
        *,
        plugins_iface: PluginsInterface | None = None,
    ) -> None:
        """Build the app; the arguments are pydoover 0.x's, in its order, plus revlink's.

        ``config`` is a schema instance (0.x's ``run_app(MyApp(config=MyConfig()))`` or
        ``MyApp(MyConfig())``) used instead of ``config_cls()``. ``is_async`` says how the
        plain-name methods answer, as in pydoover: awaitable in async code when True,
        always blocking when False; by default True when ``setup`` or ``main_loop`` is an
        ``async def``. ``modbus_iface`` defaults to a :class:`ModbusInterface` on
        ``localhost:50054`` that opens the buses of the config's ``modbus_config``.
        """
        self._is_async = (
            is_async
            if is_async is not None
            else inspect.iscoroutinefunction(self.setup)
            or inspect.iscoroutinefunction(self.main_loop)
        )
        self.name = name or type(self).__name__
        schema_class = self.schema_class()
        if config is None and schema_class is not None:
            config = schema_class()
        self.config: Schema | None = config
        self.test_mode = test_mode
        self.attach_bridges(
            app_key,
            device_agent or DeviceAgentInterface(app_key),
            platform_iface or PlatformInterface(app_key),
            plugins_iface or PluginsInterface(app_key),
            config_fp,
            healthcheck_port,
        )
        self.healthy = False
        self.loop_count = 0
        self.consecutive_failures = 0
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._step_requested = asyncio.Event()
        self._step_done = asyncio.Event()
        self._last_overrun_warning = 0.0
        self._shutdown_at = None
        self._last_interval_time: float | None = None
        # pydoover's: the deployment's APP_DISPLAY_NAME for this app once config is read.
        self.app_display_name = ""
        self.modbus_iface: Any = modbus_iface or ModbusInterface(app_key, config=config)
        self._answer_in_style(self.modbus_iface)

    def _answer_in_style(self, interface: object) -> None:
        """An interface built for this app (no style of its own) answers as the app does."""
        if isinstance(interface, BridgeClient) and interface._is_async is None:
            interface._is_async = self._is_async

    @classmethod
    def schema_class(cls) -> type[Schema] | None:
        """``config_cls``, else the class of a ``config: MyConfig`` annotation (0.x apps')."""
        if cls.config_cls is not None:
            return cls.config_cls
        try:
            hint = typing.get_type_hints(cls).get("config")
        except Exception:  # an annotation that cannot be resolved at run time: none
            return None
        return hint if isinstance(hint, type) and issubclass(hint, Schema) else None

    def attach_bridges(
        self,
        app_key: str,
        device_agent: DeviceAgentInterface,
        platform_iface: PlatformInterface,
        plugins_iface: PluginsInterface,
        config_fp: str | Path | None = None,
        healthcheck_port: int | None = 49200,
    ) -> None:
        """Say who the app is and where its bridges are; ``run_app`` calls it before starting
        an app that was built without them, with what the flags and variables say."""
        self.app_key = app_key
        self._tags = TagStore(app_key)
        self.device_agent = device_agent
        self.platform_iface = platform_iface
        self.plugins_iface = plugins_iface
        for interface in (device_agent, platform_iface, plugins_iface):
            self._answer_in_style(interface)
        self.config_fp = Path(config_fp) if config_fp else None
        self.healthcheck = (
            HealthServer(lambda: self.healthy, port=healthcheck_port)
            if healthcheck_port is not None
            else None
        )
        self.log = log.bind(app=self.name, app_key=app_key)
        self._attach_ui()

    # -- hooks for subclasses --------------------------------------------------------------

    def setup(self) -> Any:
        """Called once before the first loop (may be ``async def``)."""

    def main_loop(self) -> Any:
        """Called every ``loop_target_period`` seconds (may be ``async def``)."""

    def on_shutdown(self) -> Any:
        """Called once when the app stops (may be ``async def``)."""

    def on_config_update(self, config: Schema) -> Any:
        """Called after a live config update was validated and applied."""

    # -- running ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the app to finish its current loop and shut down."""
        self._stop.set()
        self._step_requested.set()

    async def wait_until_ready(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def next(self, timeout: float = 30.0) -> None:
        """Test mode: run exactly one more loop and return when it has finished."""
        if not self.test_mode:
            raise RuntimeError("next() steps an app created with test_mode=True")
        await self.wait_until_ready(timeout)
        self._step_done.clear()
        self._step_requested.set()
        await asyncio.wait_for(self._step_done.wait(), timeout)

    async def run(self) -> int:
        """The whole lifecycle; returns the process exit code."""
        if self.healthcheck is not None:
            await self.healthcheck.start()
        status = asyncio.create_task(self._keep_agent_status())
        try:
            if not await self.device_agent.await_dda_available_async(self.dda_startup_timeout):
                self.log.warning("app.agent_unavailable", waited_s=self.dda_startup_timeout)
            await self._load_config()
            await self._announce()
            await self._open_modbus_buses()
            self.device_agent.add_subscription(
                TAG_CHANNEL, self._on_tag_values, events=("aggregate",)
            )
            # As pydoover does: setup() sees the tags, and the subscription's first snapshot
            # cannot land after (and over) the app's first commit.
            if not await self.device_agent.wait_for_channels_sync_async([TAG_CHANNEL], 10):
                self.log.warning("app.tags_not_synced", channel=TAG_CHANNEL)
            await self._acquire_lease()  # before setup: what it writes is the app's too
            await self._setup()
            await self._resize_lease()
            self._ready.set()
            self.log.info("app.started", period_s=self.loop_target_period)
            await self._loop()
            return 0
        except AppFailedError as exc:
            self.log.error("app.failed", reason=str(exc))
            return 1
        except ConfigError as exc:
            self.log.error("app.bad_config", problems=exc.problems)
            return 2
        finally:
            status.cancel()
            await self._shutdown()

    async def _keep_agent_status(self) -> None:
        """Keep the agent interface's cached status (``get_is_dda_online()``) current."""
        while True:
            await self.device_agent.refresh_status_async()
            await asyncio.sleep(AGENT_STATUS_INTERVAL)

    async def _setup(self) -> None:
        try:
            async with self._lease_kept_alive():
                await self._prepare_ui()
                await call_hook(self.setup)
                await self._start_ui()
            await self.commit_tags_async()
        except Exception:
            self.log.exception("app.setup_failed", wait_s=self.error_wait_period)
            await self._sleep_until(time.monotonic() + self.error_wait_period)
            raise AppFailedError("setup failed") from None

    async def _loop(self) -> None:
        period = self.loop_target_period
        next_at = time.monotonic() + period / 2  # pydoover starts half a period in
        while not self._stop.is_set():
            if self.test_mode:
                await self._step_requested.wait()
                self._step_requested.clear()
                if self._stop.is_set():
                    return
            else:
                await self._sleep_until(next_at)
                if self._stop.is_set():
                    return
            started = time.monotonic()
            try:
                await self._one_loop()
            finally:
                self._step_done.set()  # next() returns even when this loop ends the app
            next_at += period
            if time.monotonic() > next_at:
                self._warn_overrun(time.monotonic() - started)
                next_at = time.monotonic()  # no catch-up burst after a slow loop

    async def _one_loop(self) -> None:
        try:
            await call_hook(self.main_loop)
            await self._answer_shutdown_request()
            await self.commit_tags_async()
            await self._update_ui()
        except Exception as exc:
            self.healthy = False
            if isinstance(exc, FailedPreconditionError) and exc.reason == OUTPUT_OWNED:
                await self._output_owned(exc)
                return
            self.consecutive_failures += 1
            self.log.exception("app.loop_failed", consecutive=self.consecutive_failures)
            if self.consecutive_failures >= self.max_consecutive_failures:
                raise AppFailedError(
                    f"main_loop failed {self.consecutive_failures} times in a row"
                ) from None
            await self._sleep_until(time.monotonic() + self.error_wait_period)
            return
        self.loop_count += 1
        self.consecutive_failures = 0
        self.healthy = True
        if self.platform_iface.lease_id:
            await self.platform_iface.renew_lease_async()

    async def _output_owned(self, exc: FailedPreconditionError) -> None:
        """Another app (or an operator) owns an output the loop writes: a warning naming the
        owner. A restart cannot change that, so it does not count towards
        ``max_consecutive_failures``; the app is alive, so the outputs it does own stay its
        own (the lease is renewed through the wait)."""
        self.log.warning("app.output_owned", error=exc.details, wait_s=self.error_wait_period)
        await self._renew_alive()
        async with self._lease_kept_alive():
            await self._sleep_until(time.monotonic() + self.error_wait_period)

    async def _sleep_until(self, deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):  # the delay ran out: time for the next loop
                async with asyncio.timeout(delay):  # not wait_for: it can lose a cancellation
                    await self._stop.wait()

    def _warn_overrun(self, took: float) -> None:
        now = time.monotonic()
        if now - self._last_overrun_warning >= OVERRUN_WARNING_INTERVAL:
            self._last_overrun_warning = now
            self.log.warning(
                "app.loop_overrun", took_s=round(took, 3), period_s=self.loop_target_period
            )

    # -- config, lease, shutdown -----------------------------------------------------------

    async def _load_config(self) -> None:
        if self.config_fp is not None:
            if self.config is not None:
                self.config.load_file(self.config_fp)
            return
        # Also without a schema: the deployment names the app (APP_DISPLAY_NAME, AGENT_ID).
        self.device_agent.add_subscription(
            DEPLOYMENT_CHANNEL, self._deployment_update, events=("aggregate",)
        )
        if not await self.device_agent.wait_for_channels_sync_async([DEPLOYMENT_CHANNEL], 5):
            self.log.warning("app.config_not_synced", channel=DEPLOYMENT_CHANNEL)
        aggregate = await self.device_agent.get_channel_aggregate_async(DEPLOYMENT_CHANNEL)
        section = self._app_section(aggregate)
        if self.config is not None:
            self.config.load(section)

    async def _announce(self) -> None:
        """Tell the cloud what this app is and which config it takes (``app_manifests``)."""
        if self.config_fp is not None:
            return  # configured from a file, not from the cloud
        try:
            await announce(self.device_agent, self.app_key, self.app_display_name, self.config_cls)
        except BridgeError as exc:  # the app runs on; the cloud just cannot offer its form yet
            self.log.warning("app.announce_failed", error=str(exc))

    def _app_section(self, aggregate: dict[str, Any]) -> dict[str, Any]:
        section = aggregate.get("applications", {}).get(self.app_key, {})
        if not isinstance(section, dict):
            return {}
        name, agent_id = section.get("APP_DISPLAY_NAME"), section.get("AGENT_ID")
        self.app_display_name = name if isinstance(name, str) else ""
        self.device_agent.agent_id = agent_id if isinstance(agent_id, str) else None
        return section

    async def _deployment_update(self, channel: str, aggregate: dict[str, Any]) -> None:
        if not self._ready.is_set():
            return
        section = self._app_section(aggregate)
        if self.config is None:
            return
        before = self.config.values()
        try:
            self.config.load(section)
        except ConfigError as exc:
            self.log.error("app.config_update_refused", problems=exc.problems)
            return
        if self.config.values() == before:
            return  # another part of the deployment changed, not this app's section
        self.log.info("app.config_updated", values=self.config.values())
        await call_hook(self.on_config_update, self.config)

    async def _shutdown(self) -> None:
        try:
            await call_hook(self.on_shutdown)
        except Exception:
            self.log.exception("app.on_shutdown_failed")
        try:
            await self.commit_tags_async()
        except Exception:
            self.log.exception("app.tag_commit_failed")
        try:
            await self.platform_iface.release_lease_async(restore_safe_values=True)
        except Exception:
            self.log.exception("app.lease_release_failed")
        interfaces = [self.platform_iface, self.device_agent, self.plugins_iface]
        if isinstance(self.modbus_iface, BridgeClient):  # not an object the app passed in
            interfaces.append(self.modbus_iface)
        for closer in (interface.close_async for interface in interfaces):
            try:
                await closer()
            except Exception:
                self.log.exception("app.close_failed")
        if self.healthcheck is not None:
            await self.healthcheck.stop()
        self.log.info("app.stopped", loops=self.loop_count)
