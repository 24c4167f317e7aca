"""The Compose files and the image, checked without a Docker engine.

Every service runs a real ``revlink`` command, every variable it sets is one the code reads,
every app has a healthcheck on its own port, and every secret it asks for is documented.
Every service has a healthcheck (``revlink probe``, tried against a real bridge here), the
services start in order, each waiting for what it needs to be healthy, their stop grace
periods fit their shutdowns, and the image runs as the unprivileged user it creates.
The cloud runs replicas without host ports, sharing Redis and the database, behind the proxy
(its configuration is checked by Caddy itself in ``tests/test_proxy.py``).
"""

from __future__ import annotations

import http.server
import importlib
import inspect
import re
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from apps.sdk.client import BridgeClient
from bridges.agent.settings import AgentSettings
from bridges.kit import BridgeSettings
from bridges.modbus.settings import ModbusSettings
from bridges.platform.settings import PlatformSettings
from bridges.plugin_host.settings import PluginHostSettings
from cloud.core.config import CloudSettings
from tests.rig.agent import start_agent
from tests.rig.bridges import free_port

ROOT = Path(__file__).resolve().parents[1]
FILES = ["docker-compose.device.yml", "docker-compose.cloud.yml"]
SDK_VARIABLES = {"APP_KEY", "DDA_URI", "PLT_URI", "PLUGINS_URI", "CONFIG_FP", "HEALTHCHECK_PORT"}
SDK_VARIABLES |= {"DEBUG", "REVLINK_BRIDGE_TOKEN"}
LOG_VARIABLES = {"REVLINK_LOG_FORMAT", "REVLINK_LOG_LEVEL"}
# uvicorn's own: which peers' X-Forwarded-For/-Proto the cloud believes (``proxy_headers``).
SERVER_VARIABLES = {"FORWARDED_ALLOW_IPS"}
# Read by Compose itself when it interpolates the files, never by a process; documented.
COMPOSE_VARIABLES = {
    "REVLINK_IMAGE",
    "REVLINK_PICONTROL_GID",
    "REVLINK_CLOUD_REPLICAS",
    "REVLINK_DOMAIN",
    "REVLINK_TLS",
}


def known_variables() -> set[str]:
    names = SDK_VARIABLES | LOG_VARIABLES | SERVER_VARIABLES
    for settings in (
        PlatformSettings,
        AgentSettings,
        ModbusSettings,
        PluginHostSettings,
        CloudSettings,
    ):
        names |= {f"REVLINK_{field.upper()}" for field in settings.model_fields}
    return names


def services() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name in FILES:
        document = yaml.safe_load((ROOT / name).read_text())
        for service, spec in document["services"].items():
            found.append((name, service, spec))
    return found


REVLINK_SERVICES = [s for s in services() if "revlink" in str(s[2].get("image", ""))]


def one_shot(spec: dict[str, Any]) -> bool:
    """A job that runs to its end (the migration), not a service kept up."""
    return spec.get("restart") == "no"


@pytest.mark.parametrize(("file", "service", "spec"), REVLINK_SERVICES)
def test_each_service_runs_a_real_command(file: str, service: str, spec: dict[str, Any]) -> None:
    command = spec["command"]
    if command[:2] == ["app", "run"]:
        module = importlib.import_module(command[2])
        assert any(
            getattr(v, "main_loop", None) for v in vars(module).values() if isinstance(v, type)
        )
        return
    cut = next((i for i, arg in enumerate(command) if arg.startswith("--")), len(command))
    result = subprocess.run(
        [sys.executable, "-m", "revlink", *command[:cut], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"{file}:{service}: {result.stderr}"
    for flag in (arg for arg in command[cut:] if arg.startswith("--")):
        assert flag in result.stdout, f"{file}:{service}: unknown flag {flag}"


@pytest.mark.parametrize(("file", "service", "spec"), REVLINK_SERVICES)
def test_every_variable_is_one_the_code_reads(
    file: str, service: str, spec: dict[str, Any]
) -> None:
    unknown = set(spec.get("environment", {})) - known_variables()
    assert not unknown, f"{file}:{service} sets variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("file", FILES)
def test_every_revlink_variable_in_the_files_is_a_setting_or_compose_s_own(file: str) -> None:
    text = (ROOT / file).read_text()
    settings = known_variables()
    for variable in set(re.findall(r"\$\{(REVLINK_\w+?)(?::?[-?][^}]*)?\}", text)):
        assert variable in settings | COMPOSE_VARIABLES, f"{file}: {variable} is read by nothing"
    # A setting given in .env reaches the process under its own name, never another one's.
    document = yaml.safe_load(text)
    for service, spec in document["services"].items():
        for key, value in spec.get("environment", {}).items():
            for variable in re.findall(r"\$\{(REVLINK_\w+?)(?::?[-?][^}]*)?\}", str(value)):
                if variable in settings:
                    assert variable == key, f"{file}:{service}: {key} takes {variable}"
                else:
                    assert not key.startswith("REVLINK_"), f"{file}:{service}: {key}"
    readme = (ROOT / "README.md").read_text()
    for variable in COMPOSE_VARIABLES:
        assert f"`{variable}`" in readme, f"{variable} is not in the README"


def test_apps_have_healthchecks_on_their_own_ports() -> None:
    ports = []
    for _, service, spec in REVLINK_SERVICES:
        if spec["command"][:2] == ["app", "run"]:
            port = spec["environment"]["HEALTHCHECK_PORT"]
            assert f"127.0.0.1:{port}/" in " ".join(spec["healthcheck"]["test"]), service
            ports.append(port)
    assert len(ports) == len(set(ports)) >= 2


def test_required_secrets_are_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in FILES:
        for variable in re.findall(r"\$\{(\w+):\?", (ROOT / name).read_text()):
            assert variable in readme, f"{variable} ({name}) is not in the README"


def test_the_image_holds_every_package() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]["packages"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile
    assert "--require-hashes -r requirements.lock" in dockerfile


def test_the_image_holds_the_built_dashboard() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stage = re.search(r"FROM node:\S+ AS (\w+)\n(.*?)\nFROM ", dockerfile, re.S)
    assert stage, "no node stage builds the dashboard"
    name, steps = stage.groups()
    assert "COPY frontend/package.json frontend/package-lock.json" in steps
    assert "RUN npm ci" in steps
    assert "RUN npm run build" in steps
    copied = re.search(rf"COPY --from={name} /build/dist (\S+)", dockerfile)
    assert copied, "the final image does not take the build"
    served = re.search(r"REVLINK_DASHBOARD_DIR=(\S+)", dockerfile)
    assert served
    workdir = re.findall(r"WORKDIR (\S+)", dockerfile)[-1]
    assert served.group(1) == f"{workdir}/{copied.group(1).removeprefix('./')}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "frontend" not in ignored
    assert {"frontend/node_modules", "frontend/dist"} <= set(ignored)


# -- healthchecks, start and stop order ----------------------------------------------------

ALL_SERVICES = services()
BRIDGE_TIERS = {"agent": 0, "platform": 0, "modbus": 0, "plugins": 1}  # `bridge <name>`
APP_TIER = 2
# What each bridge waits for, by bridge; an app waits for every bridge.
BRIDGE_NEEDS: dict[str, set[str]] = {
    "agent": set(),
    "platform": set(),
    "modbus": set(),
    "plugins": {"agent", "platform"},
}


def _revlink_help(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revlink", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _listen(command: list[str]) -> str:
    return command[command.index("--listen") + 1]


def start_tier(spec: dict[str, Any]) -> int | None:
    """Where a device service starts: bridges the apps need first, then the apps."""
    command = spec["command"]
    if command[:2] == ["app", "run"]:
        return APP_TIER
    if command[0] == "bridge":
        return BRIDGE_TIERS[command[1]]
    return None


def seconds(duration: str) -> float:
    """A Compose duration (``1m30s``, ``10s``, ``500ms``) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


@pytest.mark.parametrize(("file", "service", "spec"), ALL_SERVICES)
def test_every_service_has_a_healthcheck_that_is_a_real_command(
    file: str, service: str, spec: dict[str, Any]
) -> None:
    test = spec.get("healthcheck", {}).get("test")
    if one_shot(spec):
        # Nothing waits for it to be healthy, only for it to have finished.
        assert test is None, f"{file}:{service}"
        return
    assert test, f"{file}:{service} has no healthcheck"
    if spec not in [s for _, _, s in REVLINK_SERVICES]:
        return  # another image's own tool (pg_isready, redis-cli, the proxy's admin API)
    # Exec form, so no shell is needed; the image's own console script, so no extra binary.
    assert test[:2] == ["CMD", "revlink"], f"{file}:{service}: {test}"
    assert test[2] == "probe", f"{file}:{service}: {test}"
    probe, target = test[3], test[4]
    result = _revlink_help(["probe", probe])
    assert result.returncode == 0, f"{file}:{service}: {result.stderr}"
    command = spec["command"]
    if command[0] == "bridge":
        assert probe == "grpc"
        assert target == _listen(command), f"{file}:{service} probes another address"
    elif command[:2] == ["app", "run"]:
        assert (probe, target) == (
            "http",
            f"http://127.0.0.1:{spec['environment']['HEALTHCHECK_PORT']}/",
        )
    else:
        port = _listen(command).rpartition(":")[2]
        assert (probe, target) == ("http", f"http://127.0.0.1:{port}/healthz"), service
    timeout = seconds(spec["healthcheck"]["timeout"])
    assert timeout > 3.0, f"{file}:{service}: the probe waits 3 s for its answer"


def test_services_start_in_order_each_waiting_for_the_ones_it_needs_to_be_healthy() -> None:
    for file, service, spec in ALL_SERVICES:
        depends = spec.get("depends_on", {})
        assert isinstance(depends, dict), f"{file}:{service}: depends_on without conditions"
        in_file = {other: s for f, other, s in ALL_SERVICES if f == file}
        for needed, condition in depends.items():
            wanted = (
                "service_completed_successfully"
                if one_shot(in_file[needed])
                else ("service_healthy")
            )
            assert condition == {"condition": wanted}, f"{file}:{service}->{needed}"
    device = {service: spec for file, service, spec in ALL_SERVICES if "device" in file}
    tiers: dict[str, int] = {}
    for service, spec in device.items():
        tier = start_tier(spec)
        assert tier is not None, f"{service}: neither a bridge nor an app"
        tiers[service] = tier
    assert sorted(set(tiers.values())) == [0, 1, APP_TIER]
    bridges = {
        service: spec["command"][1]
        for service, spec in device.items()
        if spec["command"][0] == "bridge"
    }
    assert set(bridges.values()) == set(BRIDGE_TIERS), "a bridge without its service"
    for service, spec in device.items():
        needed = set(spec.get("depends_on", {}))
        # Only services of earlier tiers: each waits for what it needs, never the other way.
        assert all(tiers[other] < tiers[service] for other in needed), service
        if service in bridges:
            assert {bridges[other] for other in needed} == BRIDGE_NEEDS[bridges[service]], service
        else:
            assert needed == set(bridges), f"{service} does not wait for every bridge"
    cloud = {service: spec for file, service, spec in ALL_SERVICES if "cloud" in file}
    # The schema is migrated once, before any replica or worker starts: replicas starting
    # together would each run the migration at the same time.
    assert cloud["migrate"]["command"] == ["cloud", "migrate"]
    assert set(cloud["migrate"]["depends_on"]) == {"db"}
    assert set(cloud["cloud"]["depends_on"]) == {"db", "redis", "migrate"}
    assert "--no-migrate" in cloud["cloud"]["command"]
    assert set(cloud["worker"]["depends_on"]) == {"db", "migrate"}
    assert set(cloud["proxy"]["depends_on"]) == {"cloud"}
    assert "depends_on" not in cloud["db"]
    assert "depends_on" not in cloud["redis"]


def test_stop_grace_periods_fit_what_each_service_does_when_it_stops() -> None:
    # The defaults, whatever this machine's environment says.
    drain = BridgeSettings.model_fields["grace_period"].default  # in-flight calls finish
    plugin_call = PluginHostSettings.model_fields["plugin_call_timeout"].default  # disconnect
    sdk_retry = inspect.signature(BridgeClient.__init__).parameters["retry_for"].default
    needs = {0: drain, 1: drain + plugin_call, APP_TIER: sdk_retry}
    for file, service, spec in ALL_SERVICES:
        assert "stop_grace_period" in spec, f"{file}:{service}"
        grace = seconds(spec["stop_grace_period"])
        tier = start_tier(spec) if "device" in file else None
        if tier is not None:
            assert grace >= needs[tier], f"{file}:{service}: {grace} s < {needs[tier]} s"
    # PostgreSQL stops last and gets the longest: its shutdown checkpoint must not be cut.
    cloud = {service: spec for file, service, spec in ALL_SERVICES if "cloud" in file}
    assert seconds(cloud["db"]["stop_grace_period"]) > seconds(cloud["cloud"]["stop_grace_period"])
    assert seconds(cloud["db"]["stop_grace_period"]) > seconds(cloud["worker"]["stop_grace_period"])
    # The worker lets webhook requests under way finish (the dispatcher's stop).
    webhook_timeout = CloudSettings.model_fields["webhook_timeout_seconds"].default
    assert seconds(cloud["worker"]["stop_grace_period"]) >= webhook_timeout + 5


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined, comments out."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    instructions = [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines())
        if word
    ]
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_the_image_runs_as_the_unprivileged_user_it_creates() -> None:
    instructions = _dockerfile_instructions()
    words = [word for word, _ in instructions]
    created = next((i, args) for i, (word, args) in enumerate(instructions) if "useradd" in args)
    useradd = created[1].split("useradd", 1)[1].split("&&")[0].split()
    name, uid = useradd[-1], useradd[useradd.index("--uid") + 1]
    users = [i for i, word in enumerate(words) if word == "USER"]
    assert users, "the image never switches to its user"
    user = instructions[users[-1]][1].split(":")[0]
    assert user in (name, uid)
    assert user not in ("root", "0")
    assert created[0] < users[-1], "USER comes before the user is created"
    for word in ("ENTRYPOINT", "CMD"):
        assert users[-1] < words.index(word), f"USER comes after {word}"
    assert not [w for w in words[users[-1] + 1 :] if w == "RUN"], "RUN after USER runs as it"
    # What the processes write is the user's: the data directory and every volume mounted
    # into a revlink service (a named volume starts as a copy of the image's directory).
    owned: set[str] = set()
    for _, args in instructions:
        for step in args.split("&&"):
            tokens = step.split()
            if tokens[:2] == ["install", "-d"] and "-o" in tokens:
                if tokens[tokens.index("-o") + 1] in (name, uid):
                    owned |= {t for t in tokens if t.startswith("/")}
            elif tokens and tokens[0] == "chown" and tokens[-2].split(":")[0] in (name, uid):
                owned.add(tokens[-1])
    env = dict(
        pair.split("=", 1) for word, args in instructions if word == "ENV" for pair in args.split()
    )
    needed = {env["REVLINK_DATA_DIR"]}
    for _, _, spec in REVLINK_SERVICES:
        for volume in spec.get("volumes", []):
            source, target = volume.split(":")[:2]
            if not source.startswith(("/", ".")):  # a named volume, not a host file
                needed.add(target)
    assert needed <= owned, f"not owned by {name}: {sorted(needed - owned)}"


# -- the cloud at scale: replicas, Redis, the proxy -----------------------------------------

CLOUD = {
    service: spec for file, service, spec in ALL_SERVICES if file == "docker-compose.cloud.yml"
}


def test_the_cloud_runs_replicas_reached_through_the_proxy_only() -> None:
    replicas = CLOUD["cloud"]["deploy"]["replicas"]
    default = re.fullmatch(r"\$\{REVLINK_CLOUD_REPLICAS:-(\d+)\}", replicas)
    assert default, replicas
    assert int(default.group(1)) >= 2
    # Several containers of one service: a host port or a fixed name would clash between them.
    assert "ports" not in CLOUD["cloud"]
    assert "container_name" not in CLOUD["cloud"]
    published = {service for service, spec in CLOUD.items() if "ports" in spec}
    assert published == {"proxy"}
    assert {port.split("/")[0] for port in CLOUD["proxy"]["ports"]} == {"80:80", "443:443"}


def test_every_replica_shares_the_database_redis_and_the_token_key() -> None:
    env = CLOUD["cloud"]["environment"]
    assert env["REVLINK_REDIS_URL"] == "redis://redis:6379/0"
    assert env["REVLINK_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@db:5432/" in env["REVLINK_DATABASE_URL"]
    for job in ("migrate", "worker"):
        assert CLOUD[job]["environment"]["REVLINK_DATABASE_URL"] == env["REVLINK_DATABASE_URL"]
    # One key for the cluster: a token signed by one replica is accepted by every other.
    assert env["REVLINK_JWT_SECRET"].startswith("${REVLINK_JWT_SECRET:?")
    assert CloudSettings.model_fields["jwt_secret"].default is None  # else each would make one
    listen = _listen(CLOUD["cloud"]["command"])
    assert listen.startswith("0.0.0.0:"), "the proxy reaches replicas over the network"


def test_redis_carries_only_live_fan_out_so_keeps_nothing_on_disk() -> None:
    redis = CLOUD["redis"]
    assert redis["image"] == "redis:7-alpine"
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert "volumes" not in redis
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def caddyfile_variables() -> set[str]:
    return set(re.findall(r"\{\$(\w+)(?::[^}]*)?\}", (ROOT / "deploy/Caddyfile").read_text()))


def test_the_proxy_runs_the_repository_s_caddyfile_with_what_it_reads() -> None:
    proxy = CLOUD["proxy"]
    assert proxy["image"].startswith("caddy:2")
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in proxy["volumes"]}
    assert mounts["/etc/caddy/Caddyfile"] == "./deploy/Caddyfile"
    assert (ROOT / "deploy/Caddyfile").is_file()
    assert mounts["/certs"] == "./deploy/certs"
    assert (ROOT / "deploy/certs").is_dir()
    assert mounts["/data"] == "caddy-data", "certificates and the ACME account must persist"
    # Every variable the proxy is given is one the Caddyfile reads.
    assert set(proxy["environment"]) <= caddyfile_variables()
    assert proxy["environment"]["CLOUD_DOMAIN"].startswith("${REVLINK_DOMAIN:?")
    # The Caddyfile's defaults name this file's replicas: the service and the port it serves.
    text = (ROOT / "deploy/Caddyfile").read_text()
    port = _listen(CLOUD["cloud"]["command"]).rpartition(":")[2]
    assert f"dynamic a {{$CLOUD_UPSTREAM_HOST:cloud}} {{$CLOUD_UPSTREAM_PORT:{port}}}" in text
    assert "{$CLOUD_CERTS_DIR:/certs}/cert.pem" in text
    assert "{$CADDY_ADMIN:localhost:2019}" in text
    assert proxy["healthcheck"]["test"] == [
        "CMD",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "http://127.0.0.1:2019/config/",
    ]


# -- revlink probe ---------------------------------------------------------------------------


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revlink", "probe", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_probe_grpc_answers_for_a_real_bridge_without_its_token(tmp_path: Path) -> None:
    # The bridge requires a token for everything but health: the healthcheck needs none.
    with start_agent(
        tmp_path / "agent", tmp_path / "logs", env={"REVLINK_BRIDGE_TOKEN": "s3cret"}
    ) as agent:
        serving = probe("grpc", agent.target)
        assert serving.returncode == 0, serving.stderr
        assert serving.stdout.split() == [agent.target, "SERVING"]
        named = probe("grpc", agent.target, "--service", "revlink.agent.v1.DeviceAgentService")
        assert named.returncode == 0, named.stderr
        unknown = probe("grpc", agent.target, "--service", "no.such.Service")
        assert unknown.returncode == 1
        (line,) = unknown.stderr.splitlines()
        assert line == (
            f"revlink probe grpc: {agent.target}: NOT_FOUND: "
            "the server has no service 'no.such.Service'"
        )
        metrics = probe("http", agent.metrics_url)
        assert metrics.returncode == 0, metrics.stderr
        assert metrics.stdout.split() == [agent.metrics_url, "HTTP", "200"]


def test_probe_says_why_in_one_line_when_nothing_answers() -> None:
    dead = f"127.0.0.1:{free_port()}"
    grpc_probe = probe("grpc", dead, "--timeout", "1")
    assert grpc_probe.returncode == 1
    assert grpc_probe.stdout == ""
    (line,) = grpc_probe.stderr.splitlines()
    assert line.startswith(f"revlink probe grpc: {dead}: UNAVAILABLE: ")
    http_probe = probe("http", f"http://{dead}/", "--timeout", "1")
    assert http_probe.returncode == 1
    (line,) = http_probe.stderr.splitlines()
    assert line.startswith(f"revlink probe http: http://{dead}/: ")
    assert "refused" in line.lower()


def test_probe_http_fails_on_an_unhealthy_answer() -> None:
    class Unhealthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"not ready")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unhealthy) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            result = probe("http", url)
        finally:
            server.shutdown()
            thread.join()
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"revlink probe http: {url}: HTTP 503 Service Unavailable"
    ]
