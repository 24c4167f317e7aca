"""Fixtures for the cloud: a real ``revlink cloud serve`` process on the run's PostgreSQL.

The server is shared by the session; tests stay independent by creating their own users,
devices and sensors with unique names instead of wiping tables under a running server.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from cloud.db.migrate import upgrade
from tests.rig.bridges import free_port
from tests.rig.postgres import PostgresDatabase

__all__ = [
    "CloudServer",
    "WorkerProcess",
    "cloud",
    "cloud_database_url",
    "start_cloud",
    "start_worker",
    "stored_publisher_records",
    "unique",
]

JWT_SECRET = "test-secret-" + "x" * 32


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class CloudServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def user(self, role: str = "admin") -> tuple[str, str]:
        """A fresh user with ``role`` and a valid access token for it: (email, token)."""
        email = f"{unique(role)}@example.com"
        password = "correct horse battery"
        admin = self.admin_token()
        with self.http(admin) as client:
            created = client.post(
                "/api/v1/users", json={"email": email, "password": password, "role": role}
            )
            assert created.status_code == 201, created.text
        return email, self.login(email, password)

    def login(self, email: str, password: str) -> str:
        with self.http() as client:
            reply = client.post("/api/v1/auth/login", json={"email": email, "password": password})
            assert reply.status_code == 200, reply.text
            token: str = reply.json()["access_token"]
            return token

    def admin_token(self) -> str:
        if "admin" not in self._tokens:
            email = f"{unique('root')}@example.com"
            run_cli(
                self.database_url,
                "create-user",
                email,
                "--role",
                "admin",
                "--password",
                "root-password-123",
            )
            self._tokens["admin"] = self.login(email, "root-password-123")
        return self._tokens["admin"]

    def device(self, name: str | None = None) -> tuple[uuid.UUID, str]:
        """A freshly registered device: (id, token)."""
        with self.http(self.admin_token()) as client:
            reply = client.post("/api/v1/devices", json={"name": name or unique("dev")})
            assert reply.status_code == 201, reply.text
            body: dict[str, Any] = reply.json()
        return uuid.UUID(body["id"]), body["token"]

    def send_command(
        self,
        device_id: uuid.UUID,
        channel: str,
        payload: dict[str, Any],
        expires_in_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Send a command to a connected device as an operator would; the 202 reply's body."""
        body: dict[str, Any] = {"channel": channel, "payload": payload}
        if expires_in_seconds is not None:
            body["expires_in_seconds"] = expires_in_seconds
        with self.http(self.admin_token()) as client:
            reply = client.post(f"/api/v1/devices/{device_id}/commands", json=body)
            assert reply.status_code == 202, reply.text
            sent: dict[str, Any] = reply.json()
        return sent


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "revlink", "cloud", *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result


@dataclass(frozen=True)
class WorkerProcess:
    base_url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def _running(
    command: str, listen: str, database_url: str, log_dir: Path, env: Mapping[str, str] | None
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``revlink cloud <command>`` until its /healthz answers 200; SIGTERM afterwards."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{command}-{listen.rpartition(':')[2]}-{secrets.token_hex(2)}.log"
    child_env = {
        **os.environ,
        "REVLINK_JWT_SECRET": JWT_SECRET,
        "REVLINK_DATA_DIR": str(log_dir),
        "REVLINK_LOG_FORMAT": "json",
        # Suites share one admin token over hundreds of quick requests; the limit itself is
        # run by tests/cloud/test_request_limits.py.
        "REVLINK_API_RATE_PER_SECOND": "0",
        **(env or {}),
    }
    argv = [sys.executable, "-m", "revlink", "cloud", command]
    argv += ["--no-migrate"] if command == "serve" else []
    argv += ["--listen", listen, "--database-url", database_url]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, env=child_env)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")
                pytest.fail(f"cloud {command} did not come up (exit {process.poll()}):\n{output}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{listen}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield process, log_path
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def start_cloud(
    database_url: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Iterator[CloudServer]:
    """``revlink cloud serve`` on ``port`` (default: a free one); stops it afterwards."""
    listen = f"127.0.0.1:{port or free_port()}"
    with _running("serve", listen, database_url, log_dir, env) as (process, log_path):
        yield CloudServer(f"http://{listen}", process, log_path, database_url)


@contextlib.contextmanager
def start_worker(
    database_url: str, log_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[WorkerProcess]:
    """``revlink cloud worker`` (rules and webhooks) on a free port; stops it afterwards."""
    listen = f"127.0.0.1:{free_port()}"
    with _running("worker", listen, database_url, log_dir, env) as (process, _):
        yield WorkerProcess(f"http://{listen}", process)


@pytest.fixture(scope="session")
def cloud_database_url(postgres_database: PostgresDatabase) -> str:
    """The run's PostgreSQL database, migrated to the newest schema."""
    upgrade(postgres_database.sqlalchemy_url)
    return postgres_database.sqlalchemy_url


@pytest.fixture(scope="session")
def cloud(
    cloud_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    with start_cloud(cloud_database_url, tmp_path_factory.mktemp("cloud")) as server:
        yield server


async def stored_publisher_records(dsn: str, device_id: object) -> list[tuple[int, int]]:
    """(seq, i) of each record ``tests.support.publisher`` sent through the device, by seq."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT seq, (payload->>'i')::int AS i FROM channel_messages"
            " WHERE device_id=$1 ORDER BY seq",
            device_id,
        )
    finally:
        await connection.close()
    return [(r["seq"], r["i"]) for r in rows]
