"""Pytest plugin: a real PostgreSQL server and a fresh database for each test run.

The server named by ``REVLINK_TEST_POSTGRES_URL`` (default: trust auth on 127.0.0.1:5432) is
preferred. When it does not answer, a throwaway cluster is started with pytest-postgresql's
executor. When neither works, tests are skipped, or failed if ``REVLINK_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import asyncpg
import pytest
from pytest_postgresql.executors import PostgreSQLExecutor

from cloud.db.migrate import upgrade

__all__ = [
    "PostgresDatabase",
    "PostgresServer",
    "PostgresUnavailableError",
    "own_database",
    "postgres_database",
    "postgres_server",
    "stored_values",
    "throwaway_cluster",
]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE_TIMEOUT = 2.0


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server could be reached or started; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    """Where a PostgreSQL server listens and whom to connect as."""

    host: str
    port: int
    user: str
    password: str = ""

    def _url(self, scheme: str, database: str) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{auth}@{host}:{self.port}/{quote(database, safe='')}"

    def dsn(self, database: str) -> str:
        """A ``postgresql://`` URL for asyncpg and psycopg."""
        return self._url("postgresql", database)

    def sqlalchemy_url(self, database: str) -> str:
        """A ``postgresql+asyncpg://`` URL for SQLAlchemy's async engine."""
        return self._url("postgresql+asyncpg", database)


@dataclass(frozen=True)
class PostgresDatabase:
    """A database created for this test run on ``server``."""

    server: PostgresServer
    name: str

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    @property
    def sqlalchemy_url(self) -> str:
        return self.server.sqlalchemy_url(self.name)


def _admin_sql(server: PostgresServer, query: str, timeout: float = 30.0) -> object:
    async def fetch() -> object:
        conn = await asyncpg.connect(server.dsn("postgres"))
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()

    # One deadline for connect and query: a half-alive server can accept and then hang.
    return asyncio.run(asyncio.wait_for(fetch(), timeout))


def _probe(server: PostgresServer) -> None:
    where = f"{server.host}:{server.port}"
    try:
        answer = _admin_sql(server, "SELECT 1", PROBE_TIMEOUT)
    except Exception as exc:  # any failure means "not usable"; the repr says which one
        raise PostgresUnavailableError(f"{where} did not answer ({exc!r})") from exc
    if answer != 1:
        raise PostgresUnavailableError(f"{where} answered SELECT 1 with {answer!r}")


def _find_pg_ctl() -> str:
    candidates: list[str] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        candidates.append(os.path.join(bindir, "pg_ctl"))
    candidates.append(shutil.which("pg_ctl") or "")
    versioned = Path("/usr/lib/postgresql").glob("[0-9]*/bin/pg_ctl")
    candidates += sorted(map(str, versioned), key=lambda p: float(p.split("/")[4]), reverse=True)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise PostgresUnavailableError("no pg_ctl via pg_config, PATH or /usr/lib/postgresql")


def _run_as_postgres_user(pg_ctl: str, workdir: Path, cluster_dir: Path) -> str:
    # initdb and pg_ctl refuse to run as root, and PostgreSQLExecutor calls its `executable`
    # for every step, so a wrapper that drops to the postgres OS user covers all of them.
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailableError("initdb refuses root; no 'postgres' OS user") from None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise PostgresUnavailableError("initdb refuses root; no setpriv to become 'postgres'")
    os.chown(cluster_dir, account.pw_uid, account.pw_gid)
    wrapper = workdir / "pg_ctl"  # outside cluster_dir, so the postgres user cannot rewrite it
    wrapper.write_text(
        "#!/bin/sh\n"
        # The caller's cwd may be unreadable for postgres; every path passed in is absolute.
        f"cd {shlex.quote(str(cluster_dir))} || exit 1\n"
        f"exec {shlex.quote(setpriv)} --reuid={account.pw_uid} --regid={account.pw_gid}"
        f' --init-groups -- {shlex.quote(pg_ctl)} "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PostgresServer]:
    """Run a private trust-auth cluster on a free 127.0.0.1 port; stop and delete it on exit.

    Raises PostgresUnavailableError when it cannot start. As root, the cluster runs as the
    ``postgres`` OS user through ``setpriv``.
    """
    pg_ctl = _find_pg_ctl()
    with tempfile.TemporaryDirectory(prefix="revlink-pg-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # the postgres OS user must reach cluster/ below it
        cluster_dir = workdir / "cluster"
        cluster_dir.mkdir()
        as_root = os.geteuid() == 0
        executable = _run_as_postgres_user(pg_ctl, workdir, cluster_dir) if as_root else pg_ctl
        server = PostgresServer("127.0.0.1", _free_port(), "postgres")
        logfile = cluster_dir / "postgres.log"
        executor = PostgreSQLExecutor(
            executable=executable,
            host=server.host,
            port=server.port,
            datadir=str(cluster_dir / "data"),
            unixsocketdir=str(cluster_dir),
            logfile=str(logfile),
            startparams="-w",
            dbname="postgres",
            user=server.user,
            timeout=60,
        )
        try:
            executor.start()
        except Exception as exc:  # initdb, pg_ctl and mirakuru (timeout) errors alike
            log = logfile.read_text(errors="replace")[-600:] if logfile.exists() else "no log"
            raise PostgresUnavailableError(f"{pg_ctl} failed: {exc!r}; server log: {log}") from exc
        try:
            _probe(server)
            yield server
        finally:
            executor.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The preferred server if it answers SELECT 1, else a throwaway cluster for the session."""
    url = urlsplit(os.environ.get("REVLINK_TEST_POSTGRES_URL", DEFAULT_URL))
    server = PostgresServer(
        url.hostname or "127.0.0.1",
        url.port or 5432,
        unquote(url.username or "postgres"),
        unquote(url.password or ""),
    )
    with contextlib.ExitStack() as stack:
        reason = ""
        try:
            _probe(server)
        except PostgresUnavailableError as primary_error:
            try:
                server = stack.enter_context(throwaway_cluster())
            except PostgresUnavailableError as cluster_error:
                reason = f"{primary_error} and no throwaway cluster could start ({cluster_error})"
        # Outside the except blocks, so the report is one line, not a chain of tracebacks.
        if reason and os.environ.get("REVLINK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL not available: {reason}", pytrace=False)
        if reason:
            pytest.skip(f"PostgreSQL not available: {reason} [REVLINK_REQUIRE_POSTGRES=1 fails]")
        yield server


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    """A new empty database, unique to this run, dropped (even if still in use) at session end."""
    name = f"revlink_test_{os.getpid()}_{secrets.token_hex(4)}"
    database = PostgresDatabase(postgres_server, name)
    _admin_sql(postgres_server, f'CREATE DATABASE "{database.name}"')
    yield database
    _admin_sql(postgres_server, f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')


@contextlib.contextmanager
def own_database(server: PostgresServer, prefix: str) -> Iterator[str]:
    """A new database migrated to the newest schema, for tests whose cloud (or in-process
    worker) must be the only one on it: rules, webhooks and the admin set are global, so a
    database other tests' clouds also run on would let their workers take our work. Yields
    its SQLAlchemy URL; dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    _admin_sql(server, f'CREATE DATABASE "{name}"')
    try:
        url = server.sqlalchemy_url(name)
        upgrade(url)
        yield url
    finally:
        _admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def stored_values(dsn: str, sensor: uuid.UUID) -> list[float]:
    """The values stored for one sensor (by its public id), in the order they were stored."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT d.value FROM datapoints d JOIN sensors s ON s.id = d.sensor_id"
            " WHERE s.public_id = $1 ORDER BY d.ts, d.ctid",
            sensor,
        )
    finally:
        await conn.close()
    return [row["value"] for row in rows]
