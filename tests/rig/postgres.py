"""Pytest plugin: a real PostgreSQL server and a fresh database for each test run.

The server named by ``REVLINK_TEST_POSTGRES_URL`` (default: trust auth on 127.0.0.1:5432) is
preferred. When it does not answer, a throwaway cluster is started with pytest-postgresql's
executor. When neither works, tests are skipped, or failed if ``REVLINK_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote, unquote, urlsplit

import asyncpg
import pytest
from pytest_postgresql.executors import PostgreSQLExecutor

__all__ = [
    "PostgresDatabase",
    "PostgresServer",
    "PostgresUnavailable",
    "postgres_database",
    "postgres_server",
    "throwaway_cluster",
]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE_TIMEOUT = 2.0


class PostgresUnavailable(RuntimeError):
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


async def _fetchval(dsn: str, query: str, timeout: float) -> object:
    # asyncpg's own timeout covers only connecting; a half-alive server could hang the query.
    async with asyncio.timeout(timeout):
        conn = await asyncpg.connect(dsn, timeout=timeout)
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()


def _admin_sql(server: PostgresServer, query: str, timeout: float = 30.0) -> object:
    return asyncio.run(_fetchval(server.dsn("postgres"), query, timeout))


def _probe(server: PostgresServer) -> None:
    try:
        answer = _admin_sql(server, "SELECT 1", PROBE_TIMEOUT)
    except Exception as exc:  # any failure at all means "not usable"; the repr says which
        raise PostgresUnavailable(f"{server.host}:{server.port} did not answer ({exc!r})") from exc
    if answer != 1:
        raise PostgresUnavailable(f"{server.host}:{server.port} answered SELECT 1 with {answer!r}")


def _find_pg_ctl() -> str:
    candidates: list[str] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        candidates.append(os.path.join(bindir, "pg_ctl"))
    candidates.append(shutil.which("pg_ctl") or "")
    versioned = glob.glob("/usr/lib/postgresql/[0-9]*/bin/pg_ctl")
    candidates += sorted(versioned, key=lambda p: float(p.split("/")[4]), reverse=True)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise PostgresUnavailable("no pg_ctl (tried pg_config --bindir, PATH, /usr/lib/postgresql)")


def _run_as_postgres_user(pg_ctl: str, wrapper: Path, cluster_dir: Path) -> str:
    # initdb and pg_ctl refuse to run as root, and PostgreSQLExecutor calls its `executable`
    # for every step, so a wrapper that drops to the postgres OS user covers all of them.
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' OS user") from None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise PostgresUnavailable("running as root and setpriv is missing to drop to 'postgres'")
    os.chown(cluster_dir, account.pw_uid, account.pw_gid)
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

    Raises PostgresUnavailable when it cannot start. As root, the cluster runs as the
    ``postgres`` OS user through ``setpriv``.
    """
    pg_ctl = _find_pg_ctl()
    workdir = Path(tempfile.mkdtemp(prefix="revlink-pg-"))
    try:
        workdir.chmod(0o755)  # the postgres OS user must reach cluster/ below it
        cluster_dir = workdir / "cluster"
        cluster_dir.mkdir()
        executable = pg_ctl
        if os.geteuid() == 0:
            executable = _run_as_postgres_user(pg_ctl, workdir / "pg_ctl", cluster_dir)
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
        except Exception as exc:  # whatever pg_ctl/initdb/mirakuru raised, report it verbatim
            log = logfile.read_text(errors="replace")[-600:] if logfile.exists() else "no log"
            with contextlib.suppress(Exception):
                executor.stop()
            raise PostgresUnavailable(f"{pg_ctl} failed: {exc!r}; server log: {log}") from exc
        try:
            _probe(server)
            yield server
        finally:
            executor.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _unavailable(reason: str) -> NoReturn:
    message = f"PostgreSQL not available: {reason}"
    if os.environ.get("REVLINK_REQUIRE_POSTGRES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(f"{message} [set REVLINK_REQUIRE_POSTGRES=1 to fail instead of skip]")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The preferred server if it answers SELECT 1, else a throwaway cluster for the session."""
    primary = urlsplit(os.environ.get("REVLINK_TEST_POSTGRES_URL", DEFAULT_URL))
    server = PostgresServer(
        host=primary.hostname or "127.0.0.1",
        port=primary.port or 5432,
        user=unquote(primary.username or "postgres"),
        password=unquote(primary.password or ""),
    )
    with contextlib.ExitStack() as stack:
        reason = ""
        try:
            _probe(server)
        except PostgresUnavailable as primary_error:
            try:
                server = stack.enter_context(throwaway_cluster())
            except PostgresUnavailable as cluster_error:
                reason = f"{primary_error} and no throwaway cluster could start ({cluster_error})"
        # Outside the except blocks, so the report is one line, not a chain of tracebacks.
        if reason:
            _unavailable(reason)
        yield server


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    """A new empty database, unique to this run, dropped (even if still in use) at session end."""
    database = PostgresDatabase(postgres_server, f"revlink_test_{os.getpid()}_{secrets.token_hex(4)}")
    _admin_sql(postgres_server, f'CREATE DATABASE "{database.name}"')
    yield database
    _admin_sql(postgres_server, f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
