"""Alembic owns the schema: migrations match the models on PostgreSQL and SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

import cloud.models  # noqa: F401  (registers the tables)
from cloud.db.base import Base
from cloud.db.migrate import upgrade
from cloud.services.partitions import include_in_schema


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_in_schema}
    )
    return list(compare_metadata(context, Base.metadata))


def test_postgres_schema_matches_models(cloud_database_url: str) -> None:
    engine = create_engine(cloud_database_url.replace("+asyncpg", "+psycopg"))
    try:
        with engine.connect() as connection:
            assert _differences(connection) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("runs", [1, 2])
def test_sqlite_migrates_and_matches_models(tmp_path: Path, runs: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    for _ in range(runs):  # a second upgrade is a no-op
        upgrade(url)
    engine = create_engine(f"sqlite:///{tmp_path / 'cloud.db'}")
    try:
        with engine.connect() as connection:
            assert _differences(connection) == []
    finally:
        engine.dispose()
