"""Running the cloud: uvicorn configured from settings, and one-shot admin tasks."""

from __future__ import annotations

import asyncio
import gc
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn

from cloud.core.config import CloudSettings
from cloud.db.migrate import current_revision, head_revision, upgrade
from cloud.db.session import Database
from cloud.main import create_app
from cloud.models import Role
from cloud.services import devices, event_log, users
from cloud.worker import create_worker_app, require_postgres

__all__ = [
    "CreatedDevice",
    "SchemaNotCurrentError",
    "create_device",
    "create_user",
    "migrate",
    "serve",
    "serve_worker",
    "uvicorn_config",
]

# Frames up to this multiple of max_frame_bytes reach the app, which answers an oversize one
# with an Error frame and keeps the socket; anything larger is cut off by the server (1009).
HARD_FRAME_FACTOR = 4
GC_YOUNG_THRESHOLD = 50_000  # allocations between collections of the youngest generation


class SchemaNotCurrentError(RuntimeError):
    """The database schema is not at the newest migration."""


def migrate(settings: CloudSettings) -> str | None:
    url = settings.resolved_database_url()
    _ensure_sqlite_dir(settings)
    upgrade(url)
    return head_revision()


def _ensure_sqlite_dir(settings: CloudSettings) -> None:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)


def uvicorn_config(settings: CloudSettings) -> uvicorn.Config:
    host, _, port = settings.cloud_listen.rpartition(":")
    return uvicorn.Config(
        create_app(settings),
        host=host or "127.0.0.1",
        port=int(port),
        ws_max_size=settings.max_frame_bytes * HARD_FRAME_FACTOR,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_interval_seconds,
        # The fastest loop and HTTP parser uvicorn runs on (both are dependencies): named, so
        # a missing one fails at start instead of falling back to asyncio's loop and h11.
        loop="uvloop",
        http="httptools",
        ws=settings.ws_implementation,
        ws_per_message_deflate=settings.ws_compression,
        # Past the 5 s that clients (httpx, browsers) keep an idle connection: otherwise the
        # server may close one just as a client reuses it, and that request fails.
        timeout_keep_alive=75,
        log_config=None,
        proxy_headers=True,
        lifespan="on",
    )


def serve(settings: CloudSettings, run_migrations: bool = True) -> None:
    if not settings.run_automation:
        require_postgres(settings.resolved_database_url(), "REVLINK_RUN_AUTOMATION=false")
    if run_migrations:
        migrate(settings)
    config = uvicorn_config(settings)
    _settle_garbage_collector()
    uvicorn.Server(config).run()


def _settle_garbage_collector() -> None:
    """Keep the collector off the long-lived objects and out of the ingest path.

    Ingest allocates several objects per datapoint; with CPython's default threshold (700
    allocations) the youngest generation is collected every few hundred datapoints and older
    ones, which hold the whole app, far too often. Everything made up to here is moved out of
    the collector's view (``gc.freeze``) and the youngest generation is collected ~70x less
    often. Reference counting frees ingest's objects either way; only cyclic garbage waits
    a little longer (measured with ``tests/bench/bench_ingest.py``: the WebMACS door +25 %).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def serve_worker(settings: CloudSettings) -> None:
    """Rules and webhooks in this process (:mod:`cloud.worker`) until SIGTERM."""
    require_postgres(settings.resolved_database_url(), "revlink cloud worker")
    asyncio.run(_require_current_schema(settings.resolved_database_url()))
    if settings.worker_nice and hasattr(os, "nice"):
        os.nice(settings.worker_nice)  # rules and webhooks can wait; ingest acks should not
    host, _, port = settings.worker_listen.rpartition(":")
    config = uvicorn.Config(
        create_worker_app(settings),
        host=host or "127.0.0.1",
        port=int(port),
        # Past the 5 s that clients (httpx, browsers) keep an idle connection: otherwise the
        # server may close one just as a client reuses it, and that request fails.
        timeout_keep_alive=75,
        log_config=None,
        lifespan="on",
    )
    uvicorn.Server(config).run()


async def _require_current_schema(url: str) -> None:
    current, head = await current_revision(url), head_revision()
    if current != head:
        raise SchemaNotCurrentError(
            f"database schema is at {current or 'nothing'}, not {head}: run `revlink cloud migrate`"
        )


def create_user(settings: CloudSettings, email: str, password: str, role: Role) -> uuid.UUID:
    async def run() -> uuid.UUID:
        url = settings.resolved_database_url()
        await _require_current_schema(url)
        database = Database(url)
        try:
            async with database.transaction() as session:
                user = await users.create_user(session, email, password, role)
                event_log.add_entry(session, event_log.user_created(user, None), datetime.now(UTC))
                return user.public_id
        finally:
            await database.dispose()

    _ensure_sqlite_dir(settings)
    return asyncio.run(run())


@dataclass(frozen=True)
class CreatedDevice:
    id: uuid.UUID
    name: str
    token: str


def create_device(settings: CloudSettings, name: str) -> CreatedDevice:
    async def run() -> CreatedDevice:
        url = settings.resolved_database_url()
        await _require_current_schema(url)
        database = Database(url)
        try:
            async with database.transaction() as session:
                device, token = await devices.create_device(session, name)
                return CreatedDevice(device.id, device.name, token)
        finally:
            await database.dispose()

    _ensure_sqlite_dir(settings)
    return asyncio.run(run())
