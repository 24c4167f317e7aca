"""``revlink bridge ...``: the device-side gRPC bridges."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from revlink.commands._common import fail, settings_from

__all__ = ["bridge_app"]

bridge_app = typer.Typer(
    rich_markup_mode=None, help="Device-side gRPC bridges.", no_args_is_help=True
)

ListenOption = Annotated[
    str | None,
    typer.Option("--listen", help="HOST:PORT or unix:PATH to serve gRPC on.", show_default=False),
]


def _metrics_listen_option(env: str, default: str) -> Any:
    return typer.Option(
        "--metrics-listen",
        help=f"HOST:PORT of the Prometheus /metrics endpoint, empty disables it "
        f"[env {env}; default {default}].",
        show_default=False,
    )


@bridge_app.command("platform")
def platform(
    listen: ListenOption = None,
    metrics_listen: Annotated[
        str | None, _metrics_listen_option("REVLINK_PLATFORM_METRICS_LISTEN", "127.0.0.1:9153")
    ] = None,
    procimg: Annotated[
        Path | None,
        typer.Option(help="Process image [env REVLINK_PROCIMG; default /dev/piControl0]."),
    ] = None,
    configrsc: Annotated[
        Path | None,
        typer.Option(help="piCtory config [env REVLINK_CONFIGRSC; default /etc/revpi/config.rsc]."),
    ] = None,
    cycle_ms: Annotated[
        int | None,
        typer.Option(help="IO cycle in ms, 5-2000 [env REVLINK_PLATFORM_CYCLE_MS; default 20]."),
    ] = None,
    safe_values: Annotated[
        str | None,
        typer.Option(
            help='Watchdog safe values, JSON {"O_1": false, "OutputValue_1": 0} '
            "[env REVLINK_PLATFORM_SAFE_VALUES; default off/0]."
        ),
    ] = None,
    event_log_size: Annotated[
        int | None,
        typer.Option(
            help="DI edges and system events GetEvents keeps, 1-1000000 "
            "[env REVLINK_PLATFORM_EVENT_LOG_SIZE; default 10000].",
            show_default=False,
        ),
    ] = None,
    allow_power_control: Annotated[
        bool | None,
        typer.Option(
            "--allow-power-control/--no-power-control",
            help="Let apps reboot and shut down the device "
            "[env REVLINK_PLATFORM_ALLOW_POWER_CONTROL; default off].",
            show_default=False,
        ),
    ] = None,
    reboot_command: Annotated[
        str | None,
        typer.Option(
            help="Command Reboot runs [env REVLINK_PLATFORM_REBOOT_COMMAND; "
            "default systemctl reboot].",
            show_default=False,
        ),
    ] = None,
    shutdown_command: Annotated[
        str | None,
        typer.Option(
            help="Command Shutdown runs [env REVLINK_PLATFORM_SHUTDOWN_COMMAND; "
            "default systemctl poweroff].",
            show_default=False,
        ),
    ] = None,
    rtc_sync_command: Annotated[
        str | None,
        typer.Option(
            help="Command SyncRtc runs, empty refuses [env REVLINK_PLATFORM_RTC_SYNC_COMMAND; "
            "default hwclock --systohc].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the RevPi's I/O over gRPC (default 127.0.0.1:50053)."""
    from bridges.kit import BridgeStartError
    from bridges.platform.errors import PlatformError
    from bridges.platform.main import run_platform_bridge
    from bridges.platform.settings import PlatformSettings

    command = "revlink bridge platform"
    parsed_safe = None
    if safe_values is not None:
        try:
            parsed_safe = json.loads(safe_values)
        except ValueError as exc:
            fail(command, f"--safe-values is not JSON ({exc})")
    settings = settings_from(
        command,
        PlatformSettings,
        platform_listen=listen,
        platform_metrics_listen=metrics_listen,
        procimg=procimg,
        configrsc=configrsc,
        platform_cycle_ms=cycle_ms,
        platform_safe_values=parsed_safe,
        platform_event_log_size=event_log_size,
        platform_allow_power_control=allow_power_control,
        platform_reboot_command=reboot_command,
        platform_shutdown_command=shutdown_command,
        platform_rtc_sync_command=rtc_sync_command,
    )
    try:
        asyncio.run(run_platform_bridge(settings))
    except (PlatformError, BridgeStartError, ValueError) as exc:
        fail(command, exc)


@bridge_app.command("agent")
def agent(
    listen: ListenOption = None,
    metrics_listen: Annotated[
        str | None, _metrics_listen_option("REVLINK_AGENT_METRICS_LISTEN", "127.0.0.1:9151")
    ] = None,
    cloud_url: Annotated[
        str | None,
        typer.Option(
            help="Cloud base URL http(s)://host:port [env REVLINK_CLOUD_URL].", show_default=False
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Queue directory [env REVLINK_DATA_DIR; default var/agent].", show_default=False
        ),
    ] = None,
    max_batch_size: Annotated[
        int | None,
        typer.Option(
            help="Records per uplink batch, 1-500 [env REVLINK_MAX_BATCH_SIZE; default 100].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve channels over gRPC (default 127.0.0.1:50051) and stream them to the cloud.

    The device token comes from REVLINK_DEVICE_TOKEN only, never from a flag.
    """
    from bridges.agent.main import run_agent
    from bridges.agent.settings import AgentSettings
    from bridges.kit import BridgeStartError

    command = "revlink bridge agent"
    settings = settings_from(
        command,
        AgentSettings,
        agent_listen=listen,
        agent_metrics_listen=metrics_listen,
        cloud_url=cloud_url,
        data_dir=data_dir,
        max_batch_size=max_batch_size,
    )
    try:
        asyncio.run(run_agent(settings))
    except (BridgeStartError, ValueError, OSError) as exc:
        fail(command, exc)


@bridge_app.command("plugins")
def plugins(
    listen: ListenOption = None,
    metrics_listen: Annotated[
        str | None, _metrics_listen_option("REVLINK_PLUGINS_METRICS_LISTEN", "127.0.0.1:9155")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where instances are kept [env REVLINK_PLUGINS_DATA_DIR; default var/plugins].",
            show_default=False,
        ),
    ] = None,
    agent_uri: Annotated[
        str | None,
        typer.Option(
            help="Device agent for readings; empty for none "
            "[env REVLINK_AGENT_URI; default 127.0.0.1:50051].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run device plugins and serve them over gRPC (default 127.0.0.1:50055)."""
    from bridges.kit import BridgeStartError
    from bridges.plugin_host.main import run_plugin_host
    from bridges.plugin_host.settings import PluginHostSettings
    from bridges.plugin_host.store import InstanceStoreError

    command = "revlink bridge plugins"
    settings = settings_from(
        command,
        PluginHostSettings,
        plugins_listen=listen,
        plugins_metrics_listen=metrics_listen,
        plugins_data_dir=data_dir,
        agent_uri=agent_uri,
    )
    try:
        asyncio.run(run_plugin_host(settings))
    except (BridgeStartError, InstanceStoreError, ValueError, OSError) as exc:
        fail(command, exc)


@bridge_app.command("modbus")
def modbus(
    listen: ListenOption = None,
    metrics_listen: Annotated[
        str | None, _metrics_listen_option("REVLINK_MODBUS_METRICS_LISTEN", "127.0.0.1:9154")
    ] = None,
    buses: Annotated[
        str | None,
        typer.Option(
            help='Buses to open at start, JSON [{"bus_id": "plc", "tcp": {"host": "10.0.0.5"}}, '
            '{"bus_id": "rs485", "serial": {"port": "/dev/ttyRS485", "baud": 19200, '
            '"parity": "E"}, "retries": 1}] [env REVLINK_MODBUS_BUSES; default none].',
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve Modbus buses (TCP, RTU) and servers over gRPC (default 127.0.0.1:50054)."""
    from bridges.kit import BridgeStartError
    from bridges.modbus.main import run_modbus_bridge
    from bridges.modbus.settings import ModbusSettings

    command = "revlink bridge modbus"
    parsed_buses = None
    if buses is not None:
        try:
            parsed_buses = json.loads(buses)
        except ValueError as exc:
            fail(command, f"--buses is not JSON ({exc})")
    settings = settings_from(
        command,
        ModbusSettings,
        modbus_listen=listen,
        modbus_metrics_listen=metrics_listen,
        modbus_buses=parsed_buses,
    )
    try:
        asyncio.run(run_modbus_bridge(settings))
    except (BridgeStartError, ValueError, OSError) as exc:
        fail(command, exc)
