"""Tests for the PostgreSQL rig in tests/rig/postgres.py, against a real server."""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url, text

from tests.rig.postgres import (
    PostgresDatabase,
    PostgresServer,
    PostgresUnavailableError,
    throwaway_cluster,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
# The inner sessions need only this plugin; asyncio would just add config warnings there.
INNER_PLUGIN_ARGS = ("-p", "tests.rig.postgres", "-p", "no:asyncio", "-p", "no:cacheprovider")


async def _fetchval(dsn: str, query: str, *args: object) -> object:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def _run_inner_session(
    tmp_path: Path, test_source: str, env: dict[str, str], conftest: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run a separate pytest session with the plugin, so session-end teardown can be observed."""
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(test_source))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(conftest))
    return subprocess.run(
        [sys.executable, "-m", "pytest", *INNER_PLUGIN_ARGS, "-rs", "-q", str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_urls_quote_credentials_for_asyncpg_and_sqlalchemy() -> None:
    server = PostgresServer("db.example", 6543, "ap@p", "p:w/d")
    assert server.dsn("x") == "postgresql://ap%40p:p%3Aw%2Fd@db.example:6543/x"
    assert server.sqlalchemy_url("x") == "postgresql+asyncpg://ap%40p:p%3Aw%2Fd@db.example:6543/x"
    trusted = PostgresDatabase(PostgresServer("127.0.0.1", 5432, "postgres"), "d")
    assert trusted.dsn == "postgresql://postgres@127.0.0.1:5432/d"
    assert trusted.sqlalchemy_url == "postgresql+asyncpg://postgres@127.0.0.1:5432/d"


@pytest.mark.asyncio
async def test_fresh_database_is_reachable_and_new(postgres_database: PostgresDatabase) -> None:
    assert re.fullmatch(rf"revlink_test_{os.getpid()}_[0-9a-f]{{8}}", postgres_database.name)
    conn = await asyncpg.connect(postgres_database.dsn, timeout=10)
    try:
        assert await conn.fetchval("SELECT current_database()") == postgres_database.name
        # Other tests of this run may have migrated it already; nothing may predate the run.
        oldest = await conn.fetchval(
            "SELECT min(backend_start) FROM pg_stat_activity WHERE datname = current_database()"
        )
        created = await conn.fetchval(
            "SELECT (pg_stat_file('base/' || oid || '/PG_VERSION')).modification"
            " FROM pg_database WHERE datname = current_database()"
        )
        assert created <= oldest
        assert created.timestamp() > time.time() - 3600
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_server_is_postgresql(postgres_database: PostgresDatabase) -> None:
    version = await _fetchval(postgres_database.dsn, "SHOW server_version")
    assert isinstance(version, str)
    assert int(version.split(".")[0]) >= 14, version
    banner = await _fetchval(postgres_database.dsn, "SELECT version()")
    assert isinstance(banner, str)
    assert banner.startswith("PostgreSQL "), banner


@pytest.mark.asyncio
async def test_sqlalchemy_url_names_asyncpg_and_the_database(
    postgres_database: PostgresDatabase,
) -> None:
    url = make_url(postgres_database.sqlalchemy_url)
    assert (url.get_backend_name(), url.get_driver_name()) == ("postgresql", "asyncpg")
    assert url.database == postgres_database.name
    # The same URL minus the driver suffix must reach the very same database.
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    assert await _fetchval(plain, "SELECT current_database()") == postgres_database.name


@pytest.mark.asyncio
async def test_sqlalchemy_async_engine_connects(postgres_database: PostgresDatabase) -> None:
    pytest.importorskip("greenlet", reason="SQLAlchemy's asyncio extension needs greenlet")
    from sqlalchemy.ext.asyncio import create_async_engine  # raises ImportError without greenlet

    engine = create_async_engine(postgres_database.sqlalchemy_url)
    try:
        async with engine.connect() as conn:
            name = await conn.scalar(text("SELECT current_database()"))
        assert name == postgres_database.name
    finally:
        await engine.dispose()


def test_database_is_unique_per_run_and_dropped_at_session_end(
    tmp_path: Path, postgres_database: PostgresDatabase
) -> None:
    server = postgres_database.server
    names_file = tmp_path / "inner-name.txt"
    inner = _run_inner_session(
        tmp_path,
        f"""
        from pathlib import Path

        def test_record(postgres_database):
            Path({str(names_file)!r}).write_text(postgres_database.name)
        """,
        # Point the inner run at this run's server, so the drop is checked on a live server.
        env={"REVLINK_TEST_POSTGRES_URL": server.dsn("postgres"), "REVLINK_REQUIRE_POSTGRES": "1"},
    )
    assert inner.returncode == 0, inner.stdout + inner.stderr
    inner_name = names_file.read_text()
    assert inner_name.startswith("revlink_test_")
    assert inner_name != postgres_database.name
    query = "SELECT count(*) FROM pg_database WHERE datname = $1"
    assert asyncio.run(_fetchval(server.dsn("postgres"), query, inner_name)) == 0
    assert asyncio.run(_fetchval(server.dsn("postgres"), query, postgres_database.name)) == 1


@pytest.mark.parametrize(
    ("require", "outcome", "returncode"), [("0", "1 skipped", 0), ("1", "1 error", 1)]
)
def test_no_server_and_no_cluster_skips_or_fails_loudly(
    tmp_path: Path, require: str, outcome: str, returncode: int
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]  # closed again before the inner run probes it
    inner = _run_inner_session(
        tmp_path,
        "def test_needs_db(postgres_database):\n    pass\n",
        env={
            "REVLINK_TEST_POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{dead_port}/postgres",
            "REVLINK_REQUIRE_POSTGRES": require,
        },
        conftest="""
        import contextlib
        import tests.rig.postgres as rig

        @contextlib.contextmanager
        def _no_cluster():
            raise rig.PostgresUnavailableError("forced by test")
            yield

        rig.throwaway_cluster = _no_cluster
        """,
    )
    output = inner.stdout + inner.stderr
    assert inner.returncode == returncode, output
    assert outcome in output, output
    assert f"PostgreSQL not available: 127.0.0.1:{dead_port} did not answer" in output, output
    assert "no throwaway cluster could start (forced by test)" in output, output


def test_throwaway_cluster_starts_answers_and_stops() -> None:
    try:
        with throwaway_cluster() as server:
            assert (server.host, server.port) != ("127.0.0.1", 5432)
            dsn = server.dsn("postgres")
            assert asyncio.run(_fetchval(dsn, "SELECT 1")) == 1
            data_dir = Path(str(asyncio.run(_fetchval(dsn, "SHOW data_directory"))))
            assert data_dir.is_dir()
            if os.geteuid() == 0:
                # initdb refuses root, so the cluster must belong to the postgres OS user.
                assert data_dir.stat().st_uid == pwd.getpwnam("postgres").pw_uid
    except PostgresUnavailableError as exc:
        if os.environ.get("REVLINK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"throwaway cluster cannot run here: {exc}", pytrace=False)
        pytest.skip(f"throwaway cluster cannot run here: {exc}")
    assert not data_dir.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2).close()
