"""``run_app(app)``: flags and pydoover's environment variables in, a running app out.

Every variable is really read (pydoover's argparse defaults shadowed PLT_URI and
MODBUS_URI); a flag given on the command line wins over its variable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
from apps.sdk.health import HealthPortError
from apps.sdk.modbus import ModbusInterface
from apps.sdk.platform import PlatformInterface
from apps.sdk.plugins import PluginsInterface

__all__ = ["AppOptions", "parse_options", "run_app"]


@dataclass(frozen=True)
class AppOptions:
    app_key: str
    dda_uri: str
    plt_uri: str
    plugins_uri: str
    config_fp: str | None
    healthcheck_port: int
    debug: bool
    modbus_uri: str = "localhost:50054"
    remote_dev: str | None = None


def parse_options(argv: Sequence[str] | None = None) -> AppOptions:
    env = os.environ
    parser = argparse.ArgumentParser(description="Run a revlink device app.")
    parser.add_argument("--app-key", default=env.get("APP_KEY", ""))
    parser.add_argument("--dda-uri", default=env.get("DDA_URI", "localhost:50051"))
    parser.add_argument("--plt-uri", default=env.get("PLT_URI", "localhost:50053"))
    parser.add_argument("--plugins-uri", default=env.get("PLUGINS_URI", "localhost:50055"))
    parser.add_argument("--modbus-uri", default=env.get("MODBUS_URI", "localhost:50054"))
    parser.add_argument(
        "--remote-dev",
        default=env.get("REMOTE_DEV") or None,
        help="Host of a device whose bridges to use: replaces 'localhost' in every URI.",
    )
    parser.add_argument("--config-fp", default=env.get("CONFIG_FP") or None)
    parser.add_argument(
        "--healthcheck-port", type=int, default=int(env.get("HEALTHCHECK_PORT", "49200"))
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=env.get("DEBUG", "").lower() in ("1", "true", "yes"),
    )
    args = parser.parse_args(argv)

    def on_device(uri: str) -> str:
        # pydoover's remote development: an app on a laptop using a device's bridges.
        return uri.replace("localhost", args.remote_dev) if args.remote_dev else uri

    return AppOptions(
        args.app_key,
        on_device(args.dda_uri),
        on_device(args.plt_uri),
        on_device(args.plugins_uri),
        args.config_fp,
        args.healthcheck_port,
        args.debug,
        on_device(args.modbus_uri),
        args.remote_dev,
    )


def build(app: Application | type[Application], options: AppOptions) -> Application:
    """The app, pointed where the flags and variables say.

    An instance (pydoover's ``run_app(MyApp(config=MyConfig()))``) is reconfigured: like
    pydoover, the deployment decides the app key and where the bridges are.
    """
    wiring = (
        options.app_key,
        DeviceAgentInterface(options.app_key, options.dda_uri),
        PlatformInterface(options.app_key, options.plt_uri),
        PluginsInterface(options.app_key, options.plugins_uri),
        options.config_fp,
        options.healthcheck_port,
    )
    instance = app() if isinstance(app, type) else app
    instance.attach_bridges(*wiring)
    if isinstance(instance.modbus_iface, ModbusInterface):  # the default one: to MODBUS_URI
        instance.modbus_iface = ModbusInterface(
            options.app_key, options.modbus_uri, instance._is_async, config=instance.config
        )
    return instance


async def _serve(app: Application) -> int:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, app.stop)
    return await app.run()


def _setup_logging(
    debug: bool,
    formatter: logging.Formatter | None,
    filters: logging.Filter | Sequence[logging.Filter] | None,
) -> None:
    from revlink.logs import LogFormat, configure_logging

    # The same variables every revlink process reads; DEBUG (pydoover's) forces debug.
    level = "debug" if debug else os.environ.get("REVLINK_LOG_LEVEL", "info").lower()
    fmt: LogFormat = (
        "json" if os.environ.get("REVLINK_LOG_FORMAT", "").lower() == "json" else "console"
    )
    configure_logging(level, fmt)
    handler = logging.getLogger().handlers[0]
    if formatter is not None:
        handler.setFormatter(formatter)
    for log_filter in [filters] if isinstance(filters, logging.Filter) else filters or []:
        handler.addFilter(log_filter)


def run_app(
    app: Application | type[Application],
    start: bool = True,
    setup_logging: bool = True,
    log_formatter: logging.Formatter | None = None,
    log_filters: logging.Filter | Sequence[logging.Filter] | None = None,
    *,
    argv: Sequence[str] | None = None,
) -> Any:
    """Run ``app`` (an instance, or a class built from flags/env) until SIGTERM/SIGINT.

    With ``start=False`` the coroutine is returned instead (pydoover's test seam). The
    process exits with the app's code: 0 after a clean stop, 1 after too many failures.
    ``setup_logging=False`` leaves logging as the caller configured it; ``log_formatter``
    and ``log_filters`` go on the stderr handler, as in pydoover.
    """
    options = parse_options(argv)
    if setup_logging:
        _setup_logging(options.debug, log_formatter, log_filters)
    instance = build(app, options)
    runner: Coroutine[Any, Any, int] = _serve(instance)
    if not start:
        return runner
    try:
        code = asyncio.run(runner)
    except HealthPortError as exc:
        print(f"{instance.name}: {exc.strerror}", file=sys.stderr)
        code = 2
    sys.exit(code)
