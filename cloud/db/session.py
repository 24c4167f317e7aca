"""The engine and session factory of one cloud process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["Database", "PoolLimits"]


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """The connection pool of one process (``REVLINK_DB_POOL_*``)."""

    size: int = 10
    max_overflow: int = 10
    timeout_s: float = 30.0


class Database:
    """Owns the engine; hands out sessions. One per app, created in its lifespan."""

    def __init__(self, url: str, pool: PoolLimits | None = None) -> None:
        self.url = url
        pool = pool or PoolLimits()
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool.size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.timeout_s,
        )
        # Ingest transactions take a slot first: under more load than the pool holds they
        # queue here, in arrival order and for as long as it takes, instead of failing at
        # the pool's timeout (which would close the device's socket and make it resend).
        # The overflow stays for everything else.
        self.ingest_slots = asyncio.Semaphore(pool.size)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        # A class of its own, so hooks on it (see cloud.live.revocations) see this database's
        # sessions only.
        self.session_class: type[Session] = type("CloudSession", (Session,), {})
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=self.session_class
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self, *, wait_for_disk: bool = True) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error.

        ``wait_for_disk=False`` (PostgreSQL's ``synchronous_commit = off`` for this one
        transaction) is for bookkeeping of background work that a crash may only make
        repeat (a webhook try, a rule pass): its commit returns without waiting for the WAL
        flush, so it does not queue behind, or hold up, the commits ingest waits on. The
        transaction stays atomic; what a crash loses is at most its last fraction of a second.
        """
        async with self.sessions() as session, session.begin():
            if not wait_for_disk and self.is_postgres:
                await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield session

    @asynccontextmanager
    async def ingest(self) -> AsyncIterator[AsyncSession]:
        """A transaction for storing what a door received, once an ingest slot is free."""
        async with self.ingest_slots, self.transaction() as session:
            yield session

    async def unreachable(self) -> str | None:
        """Why the database does not answer a ``SELECT 1`` (the error's type), or None."""
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            return type(exc).__name__
        return None

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    # WAL lets the live stream read while ingest writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
