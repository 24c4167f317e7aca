"""``revlink demo``: every part that exists, on one machine, with a simulated RevPi."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated

import typer

from revlink.commands._common import fail
from revlink.supervisor import Part, StartError, StopRequested, Supervisor

__all__ = ["demo_command"]

DEMO_ADMIN = "admin@revlink.local"
DEMO_DEVICE = "demo-revpi"
DEMO_APPS = ("apps.tank_level", "apps.pulse_meter")
# (instance name, plugin id, config, poll interval s): one of each bundled plugin; the
# `meter` instance of the modbus plugin, which reads the simulated energy meter, is added
# once its address is known.
DEMO_PLUGINS: tuple[tuple[str, str, dict[str, object], float], ...] = (
    ("system", "system", {}, 5.0),
    ("sim", "simulated", {"seed": 1}, 1.0),
)
METER_INSTANCE = "meter"
# Stop order: every part stops while what it talks to is still there. The apps release their
# output leases and commit their tags, the plugin host flushes readings to the agent, the
# agent's uplink closes before the cloud goes.
APPS_TIER, PLUGINS_TIER, BRIDGES_TIER, CLOUD_TIER = range(4)
# Seconds from SIGTERM to SIGKILL. A bridge drains in-flight calls for REVLINK_GRACE_PERIOD
# (5 s) and then closes what it holds; the plugin host also disconnects its instances (each
# within REVLINK_PLUGIN_CALL_TIMEOUT, 5 s); an app's shutdown calls retry an unavailable
# bridge for up to 10 s.
APP_GRACE_S = 10.0
PLUGINS_GRACE_S = 15.0
BRIDGE_GRACE_S = 10.0
SIM_GRACE_S = 5.0
CLOUD_GRACE_S = 10.0
# Prometheus endpoints: offsets from --metrics-port-base, as the bridges' gRPC ports go.
METRICS_OFFSETS = {"agent": 0, "platform": 2, "plugins": 4}


def _grpc_serving(target: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1.0
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _tcp_open(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _configure_demo_plugins(
    target: str, instances: tuple[tuple[str, str, dict[str, object], float], ...]
) -> None:
    """Create the demo's plugin instances unless an earlier run did (they persist); one whose
    config this run makes differently (another meter address) is made again."""
    from apps.sdk.plugins import PluginsInterface

    plugins = PluginsInterface("demo", target)
    try:
        existing = {instance.name: instance for instance in plugins.list_instances()}
        for name, plugin_id, config, interval in instances:
            found = existing.get(name)
            if found is not None and (found.plugin_id, found.config) != (plugin_id, config):
                plugins.remove_instance(name)
                found = None
            if found is None:
                plugins.create_instance(name, plugin_id, config, interval, start=True)
    finally:
        plugins.close()


def _app_part(module: str, platform: str, agent: str, plugins: str, health_port: int) -> Part:
    """A demo part running one example app against the demo's bridges."""
    key = module.rsplit(".", 1)[-1]
    return Part(
        key,
        [
            "app",
            "run",
            module,
            "--app-key",
            key,
            "--plt-uri",
            platform,
            "--dda-uri",
            agent,
            "--plugins-uri",
            plugins,
            "--healthcheck-port",
            str(health_port),
        ],
        stop_tier=APPS_TIER,
        grace_period_s=APP_GRACE_S,
    )


def _demo_accounts(data_dir: Path) -> dict[str, str]:
    """The demo's admin login and device token: created on the first run, then remembered."""
    from cloud import runner
    from cloud.core.config import CloudSettings
    from cloud.models import Role

    remembered = data_dir / "demo-credentials.json"
    if remembered.exists():
        saved: dict[str, str] = json.loads(remembered.read_text())
        return saved
    password = secrets.token_urlsafe(12)
    settings = CloudSettings(data_dir=data_dir, database_url=None)
    runner.migrate(settings)
    runner.create_user(settings, DEMO_ADMIN, password, Role.ADMIN)
    device = runner.create_device(settings, DEMO_DEVICE)
    accounts = {"email": DEMO_ADMIN, "password": password, "device_token": device.token}
    remembered.write_text(json.dumps(accounts))
    remembered.chmod(0o600)
    return accounts


def demo_command(
    data_dir: Annotated[
        Path,
        typer.Option(envvar="REVLINK_DATA_DIR", help="Where the demo keeps its files and logs."),
    ] = Path("var/demo"),
    platform_listen: Annotated[
        str,
        typer.Option(envvar="REVLINK_PLATFORM_LISTEN", help="Platform bridge address."),
    ] = "127.0.0.1:50053",
    agent_listen: Annotated[
        str,
        typer.Option(envvar="REVLINK_AGENT_LISTEN", help="Device agent address."),
    ] = "127.0.0.1:50051",
    plugins_listen: Annotated[
        str,
        typer.Option(envvar="REVLINK_PLUGINS_LISTEN", help="Plugin host address."),
    ] = "127.0.0.1:50055",
    cloud_listen: Annotated[
        str,
        typer.Option(envvar="REVLINK_CLOUD_LISTEN", help="Cloud address."),
    ] = "127.0.0.1:8000",
    meter_listen: Annotated[
        str,
        typer.Option(
            envvar="REVLINK_SIM_MODBUS_LISTEN", help="Simulated energy meter (Modbus TCP)."
        ),
    ] = "127.0.0.1:5020",
    app_health_port: Annotated[
        int, typer.Option(help="Health endpoint of the tank level app (the pulse meter: +1).")
    ] = 49200,
    metrics_port_base: Annotated[
        int,
        typer.Option(
            help="Prometheus /metrics on 127.0.0.1: the device agent on this port, "
            "the platform bridge on +2, the plugin host on +4."
        ),
    ] = 9151,
    seed: Annotated[int, typer.Option(help="Seed of the plant simulator.")] = 0,
) -> None:
    """Run the cloud (SQLite), the bridges, the plant and meter simulators, plugins and the
    example apps.

    Ctrl-C (or SIGTERM) stops the apps first, then the plugin host, then the bridges and the
    simulators, then the cloud. Exit code 0 after a clean stop, 1 when a part exited on its own
    or failed to stop, 2 when the demo could not start, 3 when a part had to be killed.
    """
    from apps.sdk.errors import BridgeError
    from bridges.kit.address import ListenAddress, ListenAddressError
    from bridges.platform import SAMPLE_CONFIGRSC
    from bridges.platform.image import create_image_file
    from revlink.simulators.meter_server import plugin_config

    try:
        meter = ListenAddress.parse(meter_listen)
    except ListenAddressError as exc:
        fail("revlink demo", f"--meter-listen: {exc}")
    if meter.is_unix:
        fail("revlink demo", "--meter-listen: Modbus TCP needs HOST:PORT")
    meter_host = meter.host.removeprefix("[").removesuffix("]")
    plugin_instances = (
        *DEMO_PLUGINS,
        (METER_INSTANCE, "modbus", plugin_config(meter_host, meter.port), 1.0),
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    accounts = _demo_accounts(data_dir)
    procimg = create_image_file(data_dir / "procimg.bin")
    files = ["--procimg", str(procimg), "--configrsc", str(SAMPLE_CONFIGRSC)]
    cloud_url = f"http://{cloud_listen}"
    metrics = {
        part: f"127.0.0.1:{metrics_port_base + offset}" for part, offset in METRICS_OFFSETS.items()
    }
    with Supervisor(data_dir / "logs") as supervisor:
        try:
            supervisor.start(
                Part(
                    "cloud",
                    ["cloud", "serve", "--listen", cloud_listen, "--data-dir", str(data_dir)],
                    env={"REVLINK_DATABASE_URL": ""},
                    ready=lambda: _http_ok(f"{cloud_url}/healthz"),
                    stop_tier=CLOUD_TIER,
                    grace_period_s=CLOUD_GRACE_S,
                )
            )
            supervisor.start(
                Part(
                    "agent",
                    [
                        "bridge",
                        "agent",
                        "--listen",
                        agent_listen,
                        "--cloud-url",
                        cloud_url,
                        "--data-dir",
                        str(data_dir / "agent"),
                    ],
                    env={
                        "REVLINK_DEVICE_TOKEN": accounts["device_token"],
                        "REVLINK_AGENT_METRICS_LISTEN": metrics["agent"],
                    },
                    ready=lambda: _grpc_serving(agent_listen),
                    stop_tier=BRIDGES_TIER,
                    grace_period_s=BRIDGE_GRACE_S,
                )
            )
            supervisor.start(
                Part(
                    "platform",
                    ["bridge", "platform", *files, "--listen", platform_listen],
                    env={"REVLINK_PLATFORM_METRICS_LISTEN": metrics["platform"]},
                    ready=lambda: _grpc_serving(platform_listen),
                    stop_tier=BRIDGES_TIER,
                    grace_period_s=BRIDGE_GRACE_S,
                )
            )
            supervisor.start(
                Part(
                    "sim",
                    ["sim", *files, "--seed", str(seed)],
                    stop_tier=BRIDGES_TIER,
                    grace_period_s=SIM_GRACE_S,
                )
            )
            supervisor.start(
                Part(
                    "sim-modbus",
                    ["sim-modbus", "--listen", meter_listen, "--seed", str(seed), *files],
                    ready=lambda: _tcp_open(meter_host, meter.port),
                    stop_tier=BRIDGES_TIER,
                    grace_period_s=SIM_GRACE_S,
                )
            )
            supervisor.start(
                Part(
                    "plugins",
                    [
                        "bridge",
                        "plugins",
                        "--listen",
                        plugins_listen,
                        "--data-dir",
                        str(data_dir / "plugins"),
                        "--agent-uri",
                        agent_listen,
                    ],
                    env={"REVLINK_PLUGINS_METRICS_LISTEN": metrics["plugins"]},
                    ready=lambda: _grpc_serving(plugins_listen),
                    stop_tier=PLUGINS_TIER,
                    grace_period_s=PLUGINS_GRACE_S,
                )
            )
            _configure_demo_plugins(plugins_listen, plugin_instances)
            for offset, module in enumerate(DEMO_APPS):
                supervisor.start(
                    _app_part(
                        module,
                        platform_listen,
                        agent_listen,
                        plugins_listen,
                        app_health_port + offset,
                    )
                )
        except StopRequested:
            raise typer.Exit(supervisor.stop_all()) from None
        except (StartError, OSError, BridgeError) as exc:
            supervisor.stop_all(reason="start failed")
            fail("revlink demo", f"{exc}; see the logs in {data_dir / 'logs'}")
        dashboard = f"{cloud_url}/"
        if not _http_ok(dashboard):
            dashboard += "  (not built: run `make install`)"
        typer.echo(
            "revlink demo is running (Ctrl-C stops it):\n"
            f"  dashboard        {dashboard}\n"
            f"  login            {accounts['email']}  password {accounts['password']}\n"
            f"  cloud API        {cloud_url}/api/v1  (docs {cloud_url}/docs)\n"
            f"  device agent     grpc://{agent_listen}  "
            f"(device {DEMO_DEVICE}, uplink to the cloud)\n"
            f"  platform bridge  grpc://{platform_listen}  (revlink.platform.v1.PlatformService)\n"
            f"  plant simulator  drives {procimg} with config {SAMPLE_CONFIGRSC.name}\n"
            f"  energy meter     modbus://{meter_listen}  (slave 1, its current follows the pump)\n"
            f"  plugin host      grpc://{plugins_listen}  (instances: system, sim, meter)\n"
            f"  app tank_level   pump on below 30 %, off above 80 % (health :{app_health_port})\n"
            f"  app pulse_meter  flow from the pulses on DI 1 (health :{app_health_port + 1})\n"
            f"  agent metrics    http://{metrics['agent']}/metrics\n"
            f"  platform metrics http://{metrics['platform']}/metrics\n"
            f"  plugins metrics  http://{metrics['plugins']}/metrics\n"
            f"  logs             {data_dir / 'logs'}/"
        )
        code = supervisor.run_until_stopped()
    raise typer.Exit(code)
