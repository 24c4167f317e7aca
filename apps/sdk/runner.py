"""``run_app(app)``: flags and pydoover's environment variables in, a running app out.

Every variable is really read (pydoover's argparse defaults shadowed PLT_URI and
MODBUS_URI); a flag given on the command line wins over its variable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.app import Application
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


def parse_options(argv: Sequence[str] | None = None) -> AppOptions:
    env = os.environ
    parser = argparse.ArgumentParser(description="Run a revlink device app.")
    parser.add_argument("--app-key", default=env.get("APP_KEY", ""))
    parser.add_argument("--dda-uri", default=env.get("DDA_URI", "localhost:50051"))
    parser.add_argument("--plt-uri", default=env.get("PLT_URI", "localhost:50053"))
    parser.add_argument("--plugins-uri", default=env.get("PLUGINS_URI", "localhost:50055"))
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
    return AppOptions(
        args.app_key,
        args.dda_uri,
        args.plt_uri,
        args.plugins_uri,
        args.config_fp,
        args.healthcheck_port,
        args.debug,
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
    return instance


async def _serve(app: Application) -> int:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, app.stop)
    return await app.run()


def run_app(
    app: Application | type[Application],
    start: bool = True,
    argv: Sequence[str] | None = None,
) -> Any:
    """Run ``app`` (an instance, or a class built from flags/env) until SIGTERM/SIGINT.

    With ``start=False`` the coroutine is returned instead (pydoover's test seam). The
    process exits with the app's code: 0 after a clean stop, 1 after too many failures.
    """
    from revlink.logs import configure_logging

    options = parse_options(argv)
    configure_logging("debug" if options.debug else "info", "console")
    instance = build(app, options)
    runner: Coroutine[Any, Any, int] = _serve(instance)
    if not start:
        return runner
    code = asyncio.run(runner)
    sys.exit(code)
