"""The cloud's proxy (``deploy/Caddyfile``), checked and run by Caddy itself.

``caddy validate`` loads the configuration as the proxy would (every module provisioned, the
certificate files of ``files`` mode read) in each certificate mode. Then Caddy runs it for
real, with its own local CA, in front of a cloud on loopback: plain HTTP is redirected to
HTTPS and a device's uplink WebSocket goes through the upgrade to a Welcome and an Ack; in
front of a server that echoes headers, it sends X-Forwarded-For/-Proto/-Host of its own,
whatever the client claimed.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.rig.bridges import free_port
from tests.rig.cloud import CloudServer
from tests.rig.uplink import UplinkClient, record

__all__: list[str] = []

ROOT = Path(__file__).resolve().parents[1]
CADDYFILE = ROOT / "deploy" / "Caddyfile"
CADDY = shutil.which("caddy")

needs_caddy = pytest.mark.skipif(
    CADDY is None, reason="Debian's `caddy` is not installed (.ci/run installs it)"
)


def caddy_env(home: Path, **variables: str) -> dict[str, str]:
    # Caddy keeps certificates and its CA under XDG_DATA_HOME: the test's own directory.
    return {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PATH": "/usr/bin:/bin",
        **variables,
    }


def caddy(home: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    assert CADDY is not None
    return subprocess.run(
        [CADDY, *args, "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        env=caddy_env(home, **variables),
    )


def self_signed(directory: Path, name: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no `openssl` to make a certificate for the files mode")
    directory.mkdir()
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"]
    names = ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
    files = ["-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")]
    subprocess.run(
        [openssl, "req", "-x509", *key, *names, *files],
        check=True,
        capture_output=True,
        timeout=60,
    )


@needs_caddy
@pytest.mark.parametrize("mode", ["acme", "internal", "files"])
def test_caddy_validates_the_caddyfile_in_each_certificate_mode(tmp_path: Path, mode: str) -> None:
    variables = {"CLOUD_DOMAIN": "cloud.example.com", "CLOUD_TLS": mode}
    if mode == "files":
        self_signed(tmp_path / "certs", "cloud.example.com")
        variables["CLOUD_CERTS_DIR"] = str(tmp_path / "certs")
    result = caddy(tmp_path, "validate", **variables)
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


@needs_caddy
def test_caddy_refuses_an_unknown_certificate_mode_and_missing_files(tmp_path: Path) -> None:
    unknown = caddy(tmp_path, "validate", CLOUD_DOMAIN="cloud.example.com", CLOUD_TLS="self")
    assert unknown.returncode != 0
    assert "tls-self" in unknown.stderr
    missing = caddy(
        tmp_path,
        "validate",
        CLOUD_DOMAIN="cloud.example.com",
        CLOUD_TLS="files",
        CLOUD_CERTS_DIR=str(tmp_path / "nothing"),
    )
    assert missing.returncode != 0
    assert "cert.pem" in missing.stderr


@needs_caddy
def test_no_deadline_can_cut_a_quiet_websocket(tmp_path: Path) -> None:
    adapted = caddy(tmp_path, "adapt", CLOUD_DOMAIN="cloud.example.com")
    assert adapted.returncode == 0, adapted.stderr
    http = json.loads(adapted.stdout)["apps"]["http"]
    (server,) = http["servers"].values()
    # Only the request head is timed; read/write deadlines would outlive the handshake.
    assert {"read_timeout", "write_timeout"}.isdisjoint(server)
    assert server["read_header_timeout"] > 0
    (route,) = server["routes"]
    assert route["match"] == [{"host": ["cloud.example.com"]}]
    (proxy,) = [
        handler
        for sub in route["handle"]
        for inner in sub["routes"]
        for handler in inner["handle"]
        if handler["handler"] == "reverse_proxy"
    ]
    assert proxy["dynamic_upstreams"] == {
        "source": "a",
        "name": "cloud",
        "port": "8000",
        "refresh": 5_000_000_000,
    }
    assert {"read_timeout", "write_timeout"}.isdisjoint(proxy["transport"])
    # A client's X-Forwarded-* would be passed on only from trusted proxies: there are none.
    assert "trusted_proxies" not in proxy
    assert "headers" not in proxy


@dataclass(frozen=True)
class RunningProxy:
    http_port: int
    https_port: int
    tls: ssl.SSLContext

    @property
    def https(self) -> str:
        return f"https://localhost:{self.https_port}"


@contextlib.contextmanager
def run_proxy(home: Path, upstream: str) -> Iterator[RunningProxy]:
    """The Caddyfile served by a real Caddy with its local CA, in front of ``upstream``."""
    assert CADDY is not None
    host, _, port = upstream.rpartition(":")
    http_port, https_port, admin = free_port(), free_port(), free_port()
    env = caddy_env(
        home,
        CLOUD_DOMAIN="localhost",
        CLOUD_TLS="internal",
        CLOUD_UPSTREAM_HOST=host,
        CLOUD_UPSTREAM_PORT=port,
        HTTP_PORT=str(http_port),
        HTTPS_PORT=str(https_port),
        CADDY_ADMIN=f"127.0.0.1:{admin}",
    )
    log = (home / "caddy.log").open("wb")
    process = subprocess.Popen(
        [CADDY, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    root = home / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"caddy did not serve:\n{(home / 'caddy.log').read_text()}")
            if root.exists():
                tls = ssl.create_default_context(cafile=str(root))
                with contextlib.suppress(httpx.HTTPError, ssl.SSLError, OSError):
                    url = f"https://localhost:{https_port}/healthz"
                    if httpx.get(url, verify=tls, timeout=2).status_code == 200:
                        break
            time.sleep(0.2)
        yield RunningProxy(http_port, https_port, tls)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@needs_caddy
async def test_the_proxy_redirects_to_https_and_carries_the_uplink(
    cloud: CloudServer, tmp_path: Path
) -> None:
    upstream = cloud.base_url.removeprefix("http://")
    with run_proxy(tmp_path, upstream) as proxy:
        async with httpx.AsyncClient(verify=proxy.tls, timeout=10) as client:
            plain = await client.get(
                f"http://127.0.0.1:{proxy.http_port}/healthz?x=1", headers={"Host": "localhost"}
            )
            assert plain.status_code == 308
            # To the same name, path and query over HTTPS (on 443: Caddy leaves the port out).
            moved = urlsplit(plain.headers["location"])
            assert (moved.scheme, moved.hostname, moved.path, moved.query) == (
                "https",
                "localhost",
                "/healthz",
                "x=1",
            )
            assert (await client.get(f"{proxy.https}/healthz")).status_code == 200

        _, token = cloud.device()
        async with connect(
            f"wss://localhost:{proxy.https_port}/ws/devices/uplink",
            additional_headers={"Authorization": f"Bearer {token}"},
            ssl=proxy.tls,
        ) as socket:
            link = UplinkClient(socket)
            welcome = await link.hello()
            assert welcome.last_committed_seq == 0
            ack, errors = await link.batch(record(1, message={"level": 1.5}))
            assert errors == []
            assert ack is not None
            assert ack.up_to_seq == 1


class EchoHeaders(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the request headers it got, as JSON: what the proxy passed on."""

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, **dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@needs_caddy
def test_the_proxy_tells_the_upstream_who_asked_and_how(tmp_path: Path) -> None:
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders) as upstream:
        thread = threading.Thread(target=upstream.serve_forever, daemon=True)
        thread.start()
        try:
            with run_proxy(tmp_path, f"127.0.0.1:{upstream.server_address[1]}") as proxy:
                # A client's own X-Forwarded-* are replaced, not believed.
                spoofed = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "http"}
                reply = httpx.get(f"{proxy.https}/api/v1/x", headers=spoofed, verify=proxy.tls)
        finally:
            upstream.shutdown()
            thread.join()
    assert reply.status_code == 200
    seen = reply.json()
    assert seen["path"] == "/api/v1/x"
    assert seen["X-Forwarded-For"] in ("127.0.0.1", "::1")
    assert seen["X-Forwarded-Proto"] == "https"
    assert seen["X-Forwarded-Host"] == f"localhost:{proxy.https_port}"
