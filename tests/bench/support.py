"""What the cloud benchmarks share: a fresh, migrated PostgreSQL database for one run."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from cloud.db.migrate import upgrade

__all__ = ["ADMIN_DSN", "BenchDatabase", "fresh_database"]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class BenchDatabase:
    url: str  # for the cloud (SQLAlchemy + asyncpg)
    dsn: str  # for raw asyncpg


@asynccontextmanager
async def fresh_database() -> AsyncIterator[BenchDatabase]:
    """Create and migrate a throwaway database on 127.0.0.1:5432; drop it afterwards."""
    name = f"revlink_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database = BenchDatabase(
        url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
        dsn=f"postgresql://postgres@127.0.0.1:5432/{name}",
    )
    try:
        await asyncio.to_thread(upgrade, database.url)
        yield database
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
